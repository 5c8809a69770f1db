"""Measure a scrubber on labeled documents: recall and precision per type, keep-word preservation, speed.

Works on any ``scrub_batch(texts) -> texts`` function that replaces spans with
``<TYPE>`` / ``<TYPE_N>`` placeholders and leaves every other character alone,
so the project scrubber and stock Presidio are measured the same way.

A labeled value counts as removed only if no trace of it is left (``trace_left``):
a name leaks while any of its words of 3+ letters survives (honorifics aside), a
phone number while 7 of its digits in a row survive, a street address while a
word of its street line survives together with any of its numbers (a bare city
or country may stay); any other value while a single letter or digit survives. A placeholder is correct
(precision) if the region it replaced overlaps a labeled value of its type. A
keep-word (skill, tool, job title, employer) is preserved if no replaced region
touches it.

``python -m tools.evaluate`` prints the project scrubber and stock Presidio side by side, per set
and type: recall, precision, spurious placeholders per document (placeholders of a type that cover no
labeled value of it), keep-rate, documents per second, and the scrubber process's peak RSS. Sets:
the committed synthetic set, the resume-shaped dev set (``eval_data/resume_dev.jsonl``, written by
``tools.train_ner`` from names the detector never saw), 70 resumes written by hand
(``eval_data/written_resumes.jsonl``), the public presidio-research set in
``../shared/pii_eval/`` and, when ``--corpora`` holds them, the dev splits of CoNLL-2003 (news) and
WNUT-17 (social posts) and the Broad Twitter Corpus (tweets; ``@handles`` labeled USERNAME in both).
Test splits are never read.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.eval_set import EVAL_SET_PATH, load_jsonl
from tools.ner_corpora import dev_sets

PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)(?:_\d+)?>")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_SET_PATH = PROJECT_ROOT.parent / "shared" / "pii_eval" / "synth_dataset_v2.json"
RESUME_DEV_PATH = Path(__file__).parent / "eval_data" / "resume_dev.jsonl"
WRITTEN_RESUMES_PATH = Path(__file__).parent / "eval_data" / "written_resumes.jsonl"
CORPORA_PATH = PROJECT_ROOT / "data" / "corpora"
# Where each set comes from and what it was used for: printed above its table.
PROVENANCE = {
    "committed": "synthetic, tools/eval_set.py (own lists, no Faker); never trained on; floors asserted by tests",
    "resume dev": "synthetic, tools/resume_text.py dev pool (census names held out of training); model selection",
    "written resumes": "synthetic, written by hand for scrubber revision 8 (55 Indian, 15 other resumes as PDF "
    "text, invented names, no generator); its failures shaped revisions 8 to 10's rules, so a dev set, not a "
    "test; floors asserted by a test",
    "presidio-research": "synthetic (Faker-made), presidio-research MIT; a dev set: measured, never trained on",
    "news dev": "real, CoNLL-2003 valid split; model selection (the test split is never read)",
    "social dev": "real, WNUT-17 dev split (CC BY 4.0); model selection (the test split is never read)",
    "tweets dev": "real, Broad Twitter Corpus dev split (second half of section H, CC BY 4.0); shaped revision "
    "10's hashtag rule and took part in choosing detector 1.3.0 (section F, the test split, is never read)",
}
# presidio-research labels -> this project's types; other labels are not scrubbed, except
# titles and organizations, which are words a data scientist needs kept.
SHARED_TYPE_MAP = {
    "PERSON": "PERSON",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "DOMAIN_NAME": "URL",
    "US_SSN": "US_SSN",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
    "IP_ADDRESS": "IP_ADDRESS",
}
SHARED_KEEP_TYPES = {"TITLE", "ORGANIZATION"}

ScrubBatch = Callable[[list[str]], Sequence[str | None]]


@dataclass(frozen=True)
class Replacement:
    """A region of the original text that the scrubber replaced with a placeholder."""

    entity_type: str
    start: int
    end: int


@dataclass
class TypeScore:
    labeled: int = 0
    removed: int = 0
    placeholders: int = 0
    correct_placeholders: int = 0

    @property
    def recall(self) -> float | None:
        return self.removed / self.labeled if self.labeled else None

    @property
    def precision(self) -> float | None:
        return self.correct_placeholders / self.placeholders if self.placeholders else None

    @property
    def spurious(self) -> int:
        return self.placeholders - self.correct_placeholders


@dataclass
class EvalReport:
    per_type: dict[str, TypeScore] = field(default_factory=dict)
    keep_total: int = 0
    keep_preserved: int = 0
    documents: int = 0
    seconds: float = 0.0
    unaligned_documents: int = 0
    leaks: list[tuple[str, str]] = field(default_factory=list)
    false_placeholders: list[tuple[str, str]] = field(default_factory=list)

    @property
    def keep_rate(self) -> float | None:
        return self.keep_preserved / self.keep_total if self.keep_total else None

    @property
    def docs_per_second(self) -> float | None:
        return self.documents / self.seconds if self.seconds else None

    def score(self, entity_type: str) -> TypeScore:
        return self.per_type.setdefault(entity_type, TypeScore())


def align_replacements(original: str, scrubbed: str) -> list[Replacement] | None:
    """The regions of ``original`` that became placeholders in ``scrubbed``; None if the rest changed too."""
    matches = list(PLACEHOLDER.finditer(scrubbed))
    if not matches:
        return [] if original == scrubbed else None
    pattern, previous_end = [], 0
    for match in matches:
        pattern.append(re.escape(scrubbed[previous_end : match.start()]) + "(.+?)")
        previous_end = match.end()
    pattern.append(re.escape(scrubbed[previous_end:]))
    aligned = re.fullmatch("".join(pattern), original, flags=re.DOTALL)
    if aligned is None:
        return None
    return [Replacement(match.group(1), aligned.start(i), aligned.end(i)) for i, match in enumerate(matches, start=1)]


HONORIFICS = frozenset({"mr", "mrs", "ms", "mx", "miss", "dr", "prof", "sir", "madam"})
# Words of an address's street line that name no place ("the corner of X and Y").
_ADDRESS_FILLER = frozenset({"the", "corner", "and", "between"})


def _uncovered(start: int, end: int, replacements: list[Replacement]) -> list[bool]:
    """Per character of [start, end): True if no replaced region covers it."""
    return [not any(r.start <= i < r.end for r in replacements) for i in range(start, end)]


def trace_left(entity_type: str, value: str, left: list[bool]) -> bool:
    """Whether what survives of a labeled value (``left[i]``: character i was not replaced) identifies it."""
    if entity_type == "PERSON":
        return any(
            any(left[m.start() : m.end()])
            for m in re.finditer(r"[^\W\d_]{3,}", value)
            if m.group().lower() not in HONORIFICS
        )
    if entity_type == "PHONE_NUMBER":
        digits = [kept for char, kept in zip(value, left) if char.isdigit()]
        longest = run = 0
        for kept in digits:
            run = run + 1 if kept else 0
            longest = max(longest, run)
        return longest >= min(7, len(digits))
    if entity_type == "STREET_ADDRESS":
        numbers = [m for m in re.finditer(r"\d+", value)]
        street_line = re.match(r"[^\n,]*\d[^\n,]*|[^\n,]*", value.lstrip()).group()
        offset = len(value) - len(value.lstrip())
        words = [m for m in re.finditer(r"[^\W\d_]{3,}", street_line) if m.group().lower() not in _ADDRESS_FILLER]
        if not words:  # a bare postcode or number: any digit left is a trace
            return any(left[i] for i, char in enumerate(value) if char.isdigit())
        return any(any(left[offset + m.start() : offset + m.end()]) for m in words) and any(
            any(left[m.start() : m.end()]) for m in numbers
        )
    return any(kept for char, kept in zip(value, left) if char.isalnum())


def _trace_left(value: str, scrubbed: str) -> bool:
    # Fallback when positions cannot be aligned: any word of the value still in the output.
    return any(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", scrubbed) for word in re.findall(r"\w{2,}", value))


def score_document(report: EvalReport, doc: dict, scrubbed: str, record_leaks: bool = False) -> None:
    """Add one document's outcome to the report."""
    text = doc["text"]
    report.documents += 1
    replacements = align_replacements(text, scrubbed)
    if replacements is None:
        report.unaligned_documents += 1
    for label in doc["pii"]:
        score = report.score(label["type"])
        score.labeled += 1
        if replacements is None:
            removed = not _trace_left(label["value"], scrubbed)
        else:
            left = _uncovered(label["start"], label["end"], replacements)
            removed = not trace_left(label["type"], label["value"], left)
        score.removed += removed
        if not removed and record_leaks:
            report.leaks.append((label["type"], label["value"]))
    for replacement in replacements or []:
        score = report.score(replacement.entity_type)
        score.placeholders += 1
        correct = any(
            label["type"] == replacement.entity_type
            and label["start"] < replacement.end
            and replacement.start < label["end"]
            for label in doc["pii"]
        )
        score.correct_placeholders += correct
        if not correct and record_leaks:
            report.false_placeholders.append((replacement.entity_type, text[replacement.start : replacement.end]))
    for word in doc["keep"]:
        report.keep_total += 1
        if replacements is None:
            report.keep_preserved += word["value"] in scrubbed
        else:
            report.keep_preserved += not any(r.start < word["end"] and word["start"] < r.end for r in replacements)


def evaluate_outputs(docs: Sequence[dict], scrubbed: Sequence[str | None], record_leaks: bool = False) -> EvalReport:
    """Score already-scrubbed texts against their labeled documents."""
    report = EvalReport()
    for doc, output in zip(docs, scrubbed, strict=True):
        score_document(report, doc, output if output is not None else doc["text"], record_leaks)
    return report


def evaluate_scrubber(scrub_batch: ScrubBatch, docs: Sequence[dict], record_leaks: bool = False) -> EvalReport:
    """Scrub the documents' texts in one batch, time it, and score the outputs."""
    started = time.perf_counter()
    scrubbed = list(scrub_batch([doc["text"] for doc in docs]))
    seconds = time.perf_counter() - started
    report = evaluate_outputs(docs, scrubbed, record_leaks)
    report.seconds = seconds
    return report


def load_presidio_research_set(path: Path = SHARED_SET_PATH) -> list[dict]:
    """The public presidio-research set in this module's document format (types mapped, see SHARED_TYPE_MAP)."""
    records = json.loads(path.read_text(encoding="utf-8"))
    docs = []
    for index, record in enumerate(records):
        pii, keep = [], []
        for span in record["spans"]:
            entry = {"start": span["start_position"], "end": span["end_position"], "value": span["entity_value"]}
            if span["entity_type"] in SHARED_TYPE_MAP:
                pii.append({"type": SHARED_TYPE_MAP[span["entity_type"]], **entry})
            elif span["entity_type"] in SHARED_KEEP_TYPES:
                keep.append(entry)
        docs.append(
            {
                "id": f"shared-{index}",
                "kind": "presidio_research",
                "text": record["full_text"],
                "pii": pii,
                "keep": keep,
            }
        )
    return docs


def stock_presidio_scrub_batch(model_name: str) -> ScrubBatch:
    """Stock Presidio as documented: default AnalyzerEngine and AnonymizerEngine, one text at a time."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    from analytics_pipeline.privacy.scrubber import prepare_presidio_runtime

    prepare_presidio_runtime()
    nlp_engine = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model_name}]}
    ).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    anonymizer = AnonymizerEngine()

    def scrub_batch(texts: list[str]) -> list[str]:
        return [
            anonymizer.anonymize(text=text, analyzer_results=analyzer.analyze(text=text, language="en")).text
            for text in texts
        ]

    return scrub_batch


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def format_comparison(reports: dict[str, EvalReport], title: str) -> str:
    """A Markdown table with one pair of recall/precision columns per scrubber."""
    names = list(reports)
    types = sorted({t for report in reports.values() for t, s in report.per_type.items() if s.labeled})
    header = "| type | labeled | " + " | ".join(f"{n} recall | {n} precision | {n} spurious/doc" for n in names) + " |"
    lines = [f"### {title}", "", header, "|" + "---|" * (2 + 3 * len(names))]

    def cells(r: EvalReport, entity_type: str) -> str:
        score = r.score(entity_type)
        per_doc = score.spurious / r.documents if r.documents else None
        return f"{_fmt(score.recall)} | {_fmt(score.precision)} | {_fmt(per_doc, 2)}"

    for entity_type in types:
        labeled = max(report.score(entity_type).labeled for report in reports.values())
        lines.append(
            f"| {entity_type} | {labeled} | " + " | ".join(cells(r, entity_type) for r in reports.values()) + " |"
        )
    keep_total = max(r.keep_total for r in reports.values())
    lines.append(
        f"| keep-words preserved | {keep_total} | "
        + " | ".join(f"{_fmt(r.keep_rate)} | | " for r in reports.values())
        + " |"
    )
    lines.append(
        "| documents / second | — | "
        + " | ".join(f"{_fmt(r.docs_per_second, 1)} | | " for r in reports.values())
        + " |"
    )
    others = {name: sum(s.placeholders for t, s in r.per_type.items() if not s.labeled) for name, r in reports.items()}
    lines.append(
        "| other placeholders (unlabeled types) | — | " + " | ".join(f"{others[n]} | | " for n in names) + " |"
    )
    return "\n".join(lines)


def evaluation_sets(shared_set: Path = SHARED_SET_PATH, corpora: Path = CORPORA_PATH) -> dict[str, list[dict]]:
    """Every set that is present, keyed by a name that starts with its PROVENANCE key."""
    sets = {
        "committed evaluation set": load_jsonl(EVAL_SET_PATH),
        "resume dev (resume-shaped)": load_jsonl(RESUME_DEV_PATH),
        "written resumes (Indian and international)": load_jsonl(WRITTEN_RESUMES_PATH),
    }
    if shared_set.exists():
        sets["presidio-research synth_dataset_v2"] = load_presidio_research_set(shared_set)
    sets.update(dev_sets(corpora))
    return sets


def provenance(set_name: str) -> str:
    return next((text for key, text in PROVENANCE.items() if set_name.startswith(key)), "")


def main(argv: Sequence[str] | None = None) -> None:
    from analytics_pipeline.privacy.scrubber import STOCK_MODEL, PiiScrubber

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shared-set", type=Path, default=SHARED_SET_PATH, help="presidio-research synth_dataset_v2.json"
    )
    parser.add_argument("--no-stock", action="store_true", help="skip stock Presidio (it is slow)")
    parser.add_argument("--corpora", type=Path, default=CORPORA_PATH, help="folder of the pinned dev splits")
    parser.add_argument(
        "--leaks",
        action="store_true",
        help="list the values the project scrubber left and its false placeholders (synthetic sets only)",
    )
    parser.add_argument("--only", help="evaluate only the sets whose name contains this")
    parser.add_argument("--no-propagation", action="store_true", help="ablation: no name propagation")
    args = parser.parse_args(argv)

    sets = evaluation_sets(args.shared_set, args.corpora)
    if args.only:
        sets = {name: docs for name, docs in sets.items() if args.only in name}
    # The project scrubber runs on every set before stock Presidio is loaded, so the process's peak RSS
    # at that point is one scrubber process's (the pipeline's scrubbing step holds one scrubber).
    project = PiiScrubber(propagate=not args.no_propagation).scrub_batch
    reports = {
        name: {
            "project": evaluate_scrubber(
                project, docs, args.leaks and name.startswith(("committed", "resume", "presidio"))
            )
        }
        for name, docs in sets.items()
    }
    project_peak_mib = peak_rss_mib()
    if not args.no_stock:
        stock = stock_presidio_scrub_batch(STOCK_MODEL)
        for name, docs in sets.items():
            reports[name]["stock Presidio"] = evaluate_scrubber(stock, docs)
    for name, docs in sets.items():
        print(format_comparison(reports[name], f"{name} ({len(docs)} documents)"))
        print(f"provenance: {provenance(name)}")
        print()
        if args.leaks:
            for entity_type, value in reports[name]["project"].leaks:
                print(f"  leak {entity_type}: {value!r}")
            for entity_type, value in reports[name]["project"].false_placeholders:
                print(f"  false {entity_type}: {value!r}")
    print(f"peak RSS of the project scrubber's process (model loaded, both sets scrubbed): {project_peak_mib:.0f} MiB")
    if not args.no_stock:
        print(f"peak RSS with stock Presidio's engine and model loaded too: {peak_rss_mib():.0f} MiB")


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
