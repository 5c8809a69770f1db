"""Canary PII: measure the real scrubber on every run, on the partition's own texts.

Known synthetic values (name, e-mail, phone, SSN, street address) are planted in a copy
of a sample of the partition's texts; the copy goes through the scrubber and every
canary that comes out unchanged is a miss. The copy is discarded: canaries never reach
the tables, and the residual-PII gate looks for them there to prove it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from faker import Faker

from analytics_pipeline.contract import RESUME_TEXT_FIELDS, InvalidEvent, ResumeEvent, parse_event_line
from analytics_pipeline.raw_log import RawLine

CANARY_TYPES = ("name", "email", "phone", "ssn", "street_address", "national_phone", "international_address")
# International street shapes (street-type word before, after or fused with the name) and national phone
# groupings, so the canary measures the formats the scrubber claims beyond US ones.
_STREET_FORMATS = ("{name}straße {n}", "Rua {name} {n}", "Via {name} {n}", "{name}katu {n}", "ul. {name} {n}")
_NATIONAL_PHONE_FORMATS = ("{a} {b} {c} {d}", "0{a}-{b}{c}-{d}", "({a}) {b}{c}-{d}{d}")
# Real area codes: an invalid number (e.g. area code 311) is not what users type, and
# Presidio's phone recognizer rightly ignores it, so it would be a false canary miss.
AREA_CODES = (212, 213, 305, 312, 404, 415, 503, 512, 617, 646, 702, 713, 818, 919)
# Used when a partition has no free text: the scrubber is still measured.
FALLBACK_TEXT = "Senior data engineer with eight years of experience in Python and SQL."


@dataclass(frozen=True)
class CanarySet:
    """One synthetic value per type, planted together in one text."""

    values: dict[str, str]

    def sentence(self) -> str:
        v = self.values
        return (
            f"Contact {v['name']} at {v['email']} or {v['phone']}. Mail: {v['street_address']}. SSN: {v['ssn']}. "
            f"Abroad: {v['international_address']}, mobile {v['national_phone']}."
        )


def make_canaries(seed: str, count: int) -> list[CanarySet]:
    """``count`` canary sets, the same for the same seed (the partition key), so runs are comparable."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [
        CanarySet(
            {
                "name": f"{fake.first_name()} {fake.last_name()}",
                "email": fake.free_email(),
                "phone": f"({rng.choice(AREA_CODES)}) {rng.randint(220, 989)}-{rng.randint(1000, 9999)}",
                "ssn": f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
                "street_address": fake.street_address(),
                "national_phone": rng.choice(_NATIONAL_PHONE_FORMATS).format(
                    a=rng.randint(20, 99), b=rng.randint(100, 999), c=rng.randint(10, 99), d=rng.randint(10, 99)
                ),
                "international_address": rng.choice(_STREET_FORMATS).format(
                    name=fake.last_name(), n=rng.randint(1, 250)
                ),
            }
        )
        for _ in range(count)
    ]


def _resume_texts(lines: Iterable[RawLine]) -> Iterator[str]:
    for line in lines:
        try:
            event = parse_event_line(line.content)
        except InvalidEvent:
            continue
        if isinstance(event, ResumeEvent):
            yield from (text for name in RESUME_TEXT_FIELDS if (text := getattr(event, name)))


def sample_texts(lines: Iterable[RawLine], size: int, seed: str) -> list[str]:
    """A uniform sample of up to ``size`` free texts of the valid resume events among the lines.

    Reservoir sampling over the streamed lines: memory holds ``size`` texts, however big the day.
    """
    rng = random.Random(seed)
    sample: list[str] = []
    for seen, text in enumerate(_resume_texts(lines)):
        if len(sample) < size:
            sample.append(text)
        elif (slot := rng.randrange(seen + 1)) < size:
            sample[slot] = text
    return sample


def plant(text: str, canaries: CanarySet, rng: random.Random) -> str:
    """The text with the canary sentence inserted between two of its lines."""
    lines = text.split("\n")
    at = rng.randint(0, len(lines))
    return "\n".join([*lines[:at], canaries.sentence(), *lines[at:]])


@dataclass
class CanaryReport:
    planted: Counter[str] = field(default_factory=Counter)
    survived: Counter[str] = field(default_factory=Counter)
    texts_tested: int = 0

    @property
    def passed(self) -> bool:
        return not self.survived

    def recall(self) -> dict[str, float]:
        return {
            kind: round(1 - self.survived[kind] / self.planted[kind], 4) for kind in CANARY_TYPES if self.planted[kind]
        }

    def metadata(self) -> dict:
        return {
            "texts_tested": self.texts_tested,
            "canaries_planted": sum(self.planted.values()),
            "recall_by_type": self.recall(),
            "survived_by_type": {k: self.survived[k] for k in CANARY_TYPES if self.survived[k]},
        }


def measure_canary_recall(
    texts: Sequence[str], scrub_batch: Callable[[list[str]], list[str | None]], seed: str
) -> CanaryReport:
    """Plant a canary set in a copy of each text, scrub the copies, count the canaries that survive."""
    rng = random.Random(seed)
    texts = list(texts) or [FALLBACK_TEXT]
    canary_sets = make_canaries(seed, len(texts))
    planted = [plant(text, canaries, rng) for text, canaries in zip(texts, canary_sets)]
    report = CanaryReport(texts_tested=len(planted))
    for canaries, scrubbed in zip(canary_sets, scrub_batch(planted)):
        lowered = (scrubbed or "").lower()
        for kind, value in canaries.values.items():
            report.planted[kind] += 1
            if value.lower() in lowered:
                report.survived[kind] += 1
    return report
