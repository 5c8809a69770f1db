"""The public annotated corpora the name detector is trained and tuned on, pinned, and their readers.

Only train and dev splits are named here: the test splits measure the detector and are never read.
Each source is pinned by repository, commit, path and SHA-256; ``python -m tools.train_ner`` refuses a
file whose hash differs. Download each ``url`` into one folder (``--corpora``, default ``data/corpora``) as ``local_name``.

Documents come out in the evaluation tool's format (``text``, ``pii`` spans with a type, ``keep`` spans
that must survive), so the same records feed training (``PERSON`` and the kept entity types become NER
labels) and the dev-set evaluation.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    name: str
    repo: str
    commit: str
    path: str
    sha256: str
    licence: str
    split: str

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"


SOURCES = {
    source.name: source
    for source in (
        # WNUT-17 emerging entities: tweets, Reddit, YouTube and StackExchange comments, CC BY 4.0.
        Source(
            "wnut17_train",
            "leondz/emerging_entities_17",
            "e52a2d2a71ac1a051ca2d532eef28653c5c02603",
            "wnut17train.conll",
            "731820e13f71af324c6b55a1575ec2ce59fbaa2a0806f8f0400b98d56cd6a7a5",
            "CC BY 4.0",
            "train",
        ),
        Source(
            "wnut17_dev",
            "leondz/emerging_entities_17",
            "e52a2d2a71ac1a051ca2d532eef28653c5c02603",
            "emerging.dev.conll",
            "e053b752b8155113ca66e7db08af5f2f5f43ab993694e4774f1ec5bad42312d8",
            "CC BY 4.0",
            "dev",
        ),
        # Broad Twitter Corpus (tweets 2009-2014, UK and worldwide, many languages), CC BY 4.0: its dev split
        # (the second half of section H, as its authors recommend) measures the detector, which was not trained
        # on its train split (tried, see the README). Section F, the test split, is never read.
        Source(
            "btc_dev",
            "GateNLP/broad_twitter_corpus",
            "0c45ef7b1924a6b8115bceab388781590b1b553a",
            "train_dev_test_conll/btc.dev",
            "9f7d33bcd195cecf9767357a5f1fe0ba879af6c55ebb68b8e846bff23c4e7fa5",
            "CC BY 4.0",
            "dev",
        ),
        # CoNLL-2003 English (Reuters RCV1 news, 1996-97), IOB2 re-encoding without document markers. The
        # annotations are public; the text is Reuters' (research use). Only weights learnt from it are shipped,
        # never its text (see the model's meta.json).
        Source(
            "conll2003_train",
            "ViktorooReps/sp-test-task",
            "e8b50bf3c137c0d0b3b508568a7591e815e24a19",
            "conll2003/train.txt",
            "ea10020985e45f11d7363b2f7ff72b09bdb8652a62125d22fc3103f88affb607",
            "CoNLL-2003 annotations; Reuters RCV1 text, research use",
            "train",
        ),
        Source(
            "conll2003_dev",
            "ViktorooReps/sp-test-task",
            "e8b50bf3c137c0d0b3b508568a7591e815e24a19",
            "conll2003/valid.txt",
            "82d27596bc16cd955275506695770e3f454b4950640ac5e3b4c10a19d5326efc",
            "CoNLL-2003 annotations; Reuters RCV1 text, research use",
            "dev",
        ),
    )
}
# Corpus labels -> the detector's labels. Only PERSON is scrubbed; the others teach the model what is not a
# person (an employer, a city) and are kept words in the evaluation.
LABELS = {
    "PER": "PERSON",
    "person": "PERSON",
    "ORG": "ORG",
    "corporation": "ORG",
    "group": "ORG",
    "LOC": "LOC",
    "location": "LOC",
    "MISC": "MISC",
    "product": "MISC",
    "creative-work": "MISC",
}
NEWS_CHUNK_SENTENCES = 3
HANDLE = re.compile(r"\w{1,30}")


def local_name(source: Source) -> str:
    """The file name ``--corpora`` holds a source under: its name and the original suffix."""
    return source.name + Path(source.path).suffix


def verified_path(corpora: Path, source: Source) -> Path:
    """The downloaded file of ``source`` under ``corpora``, after checking its SHA-256."""
    path = corpora / local_name(source)
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: download {source.url}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != source.sha256:
        raise ValueError(f"{path}: sha256 {digest}, expected {source.sha256} ({source.url})")
    return path


def read_conll(path: Path) -> list[list[tuple[str, str]]]:
    """Sentences of (token, BIO tag) from a CoNLL file: the token first, the tag last on each line."""
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if current:
                sentences.append(current)
            current = []
            continue
        current.append((parts[0], parts[-1]))
    if current:
        sentences.append(current)
    return sentences


def tagged_document(sentences: list[list[tuple[str, str]]], doc_id: str, kind: str) -> dict:
    """Tokens joined by spaces (sentences too), entities as character spans: PERSON in ``pii``, the rest in ``keep``."""
    text, pii, keep = [], [], []
    offset = 0
    open_span: tuple[str, int, int] | None = None

    def close() -> None:
        nonlocal open_span
        if open_span:
            label, start, end = open_span
            value = "".join(text)[start:end]
            (pii if label == "PERSON" else keep).append(
                {"type": label, "start": start, "end": end, "value": value}
                if label == "PERSON"
                else {"label": label, "start": start, "end": end, "value": value}
            )
        open_span = None

    for sentence in sentences:
        for token, tag in sentence:
            if offset:
                text.append(" ")
                offset += 1
            start, offset = offset, offset + len(token)
            text.append(token)
            prefix, _, label = tag.partition("-")
            label = LABELS.get(label)
            if prefix == "I" and open_span and open_span[0] == label:
                open_span = (label, open_span[1], offset)
            else:
                close()
                if prefix in ("B", "I") and label:
                    open_span = (label, start, offset)
        close()
    return {"id": doc_id, "kind": kind, "text": "".join(text), "pii": pii, "keep": keep}


def news_documents(path: Path, prefix: str) -> list[dict]:
    """CoNLL-2003 in chunks of three consecutive sentences (a news paragraph)."""
    sentences = read_conll(path)
    return [
        tagged_document(sentences[i : i + NEWS_CHUNK_SENTENCES], f"{prefix}-{i // NEWS_CHUNK_SENTENCES:05d}", "news")
        for i in range(0, len(sentences), NEWS_CHUNK_SENTENCES)
    ]


def joined_handles(sentence: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """BTC splits a mention into ``@`` and the handle (tagged either way): one ``@handle`` token, untagged."""
    tokens: list[tuple[str, str]] = []
    for token, tag in sentence:
        if tokens and tokens[-1][0] == "@" and HANDLE.fullmatch(token):
            tokens[-1] = ("@" + token, "O")
        else:
            tokens.append((token, tag))
    return tokens


def social_documents(path: Path, prefix: str, split_mentions: bool = False) -> list[dict]:
    """Posts, one document each; ``@handles`` are labeled USERNAME (WNUT-17 leaves them untagged, the
    rules find them), never PERSON. ``split_mentions``: the corpus tokenized ``@handle`` as two tokens."""
    docs = []
    sentences = read_conll(path)
    for index, sentence in enumerate(map(joined_handles, sentences) if split_mentions else sentences):
        doc = tagged_document([sentence], f"{prefix}-{index:05d}", "social")
        offset = 0
        for token, _tag in sentence:
            if token.startswith("@") and len(token) > 1:
                doc["pii"].append({"type": "USERNAME", "start": offset, "end": offset + len(token), "value": token})
            offset += len(token) + 1
        doc["pii"].sort(key=lambda span: span["start"])
        docs.append(doc)
    return docs


def dev_sets(corpora: Path) -> dict[str, list[dict]]:
    """The dev splits as evaluation sets (empty when the corpora folder lacks them)."""
    sets = {}
    if (corpora / local_name(SOURCES["conll2003_dev"])).exists():
        sets["news dev (CoNLL-2003 valid)"] = news_documents(
            verified_path(corpora, SOURCES["conll2003_dev"]), "conll-dev"
        )
    if (corpora / local_name(SOURCES["wnut17_dev"])).exists():
        sets["social dev (WNUT-17 dev)"] = social_documents(verified_path(corpora, SOURCES["wnut17_dev"]), "wnut-dev")
    if (corpora / local_name(SOURCES["btc_dev"])).exists():
        sets["tweets dev (BTC dev)"] = social_documents(
            verified_path(corpora, SOURCES["btc_dev"]), "btc-dev", split_mentions=True
        )
    return sets
