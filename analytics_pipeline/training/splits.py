"""Deterministic train/validation/test split by pseudonymous user.

A user's split is a pure function of their ``anon_user_id`` and the ratios: no state,
no randomness, so every run (and every training set) puts a user in the same split and
no user is ever in two. Changing the ratios only moves users near the boundaries.
Rotating the pseudonym salt changes every ``anon_user_id`` and therefore reshuffles users.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SPLITS = ("train", "validation", "test")
# Bumping this reshuffles every user; never change it silently (it is recorded in the dataset card).
SPLIT_HASH_PREFIX = b"analytics-pipeline-split-v1:"


@dataclass(frozen=True)
class SplitRatios:
    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1

    def __post_init__(self):
        values = (self.train, self.validation, self.test)
        if any(v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-9:
            raise ValueError(f"split ratios must be >= 0 and sum to 1, got {values}")

    @classmethod
    def parse(cls, text: str) -> SplitRatios:
        """``"0.8,0.1,0.1"`` -> train, validation, test."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3:
            raise ValueError(f"expected three comma-separated ratios (train,validation,test), got {text!r}")
        try:
            return cls(*(float(p) for p in parts))
        except ValueError as error:
            raise ValueError(f"invalid split ratios {text!r}: {error}") from None

    def __str__(self) -> str:
        return f"{self.train},{self.validation},{self.test}"


def user_bucket(anon_user_id: str) -> float:
    """A stable, uniform number in [0, 1) for a user."""
    digest = hashlib.sha256(SPLIT_HASH_PREFIX + anon_user_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(anon_user_id: str, ratios: SplitRatios) -> str:
    bucket = user_bucket(anon_user_id)
    if bucket < ratios.train:
        return "train"
    if bucket < ratios.train + ratios.validation:
        return "validation"
    return "test"
