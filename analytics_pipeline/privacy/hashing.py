"""Keyed pseudonyms for identifiers.

HMAC-SHA256 with a secret salt: stable for a given salt (joins across days work),
different under another salt, and not reversible or brute-forceable without the
salt (a plain hash of an e-mail-like user ID could be reversed by guessing).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
from collections import Counter

MIN_SALT_BYTES = 32
# Estimated from the salt's own characters (Shannon entropy times length): a sanity check against
# placeholders ("aaaa…", a block repeated, 16 spaces), not a strength meter. `secrets.token_hex(16)`
# scored at least 90 in 200,000 draws; a 32-character salt of 5 distinct characters scores 74 at most.
MIN_SALT_BITS = 80
# The public salt `make run` and `make dev` use when ANALYTICS_SALT is unset (see the Makefile).
DEMO_SALT = "demo-salt-NOT-SECRET-do-not-use-in-production"
DEMO_MODE_ENV = "ANALYTICS_DEMO_MODE"
SALT_HELP = (
    "Set ANALYTICS_SALT to a long random secret before materializing, e.g. "
    "`export ANALYTICS_SALT=\"$(python -c 'import secrets; print(secrets.token_hex(32))')\"`. "
    "Keep it stable: a different salt gives every user a different pseudonym."
)
PSEUDONYM_PATTERN = re.compile(r"^[0-9a-f]{64}$")

# Domain separation: a user ID and a resume ID that happen to be equal get unrelated pseudonyms.
USER_DOMAIN = "user"
RESUME_DOMAIN = "resume"
_FINGERPRINT_MESSAGE = b"analytics_pipeline/salt-fingerprint/v1"


class SaltError(ValueError):
    """The salt is missing or too weak. The message never contains the salt."""


def demo_mode() -> bool:
    """``ANALYTICS_DEMO_MODE=1`` (set by `make run` and `make dev`): the public demo salt is accepted."""
    return os.getenv(DEMO_MODE_ENV) == "1"


def estimated_bits(salt: str) -> float:
    """Entropy of the salt's characters (Shannon) times its length; a salt that repeats a block counts once."""
    for period in range(1, len(salt) // 2 + 1):
        if len(salt) % period == 0 and salt == salt[:period] * (len(salt) // period):
            salt = salt[:period]
            break
    counts = Counter(salt)
    return -sum(n * math.log2(n / len(salt)) for n in counts.values())


def validate_salt(salt: str | None, demo: bool | None = None) -> bytes:
    """Return the salt as bytes, or raise SaltError saying how to set a proper one.

    Refused: unset, shorter than 32 bytes, predictable (few distinct characters, a repeated block), and
    the public demo salt unless ``demo`` (default: ``ANALYTICS_DEMO_MODE=1``).
    """
    if not salt:
        raise SaltError(f"ANALYTICS_SALT is not set. {SALT_HELP}")
    if salt == DEMO_SALT:
        if demo_mode() if demo is None else demo:
            return salt.encode("utf-8")
        raise SaltError(
            f"ANALYTICS_SALT is the public demo salt of `make run`, accepted only in its demo mode "
            f"({DEMO_MODE_ENV}=1); never for real data. {SALT_HELP}"
        )
    if len(salt.encode("utf-8")) < MIN_SALT_BYTES:
        raise SaltError(f"ANALYTICS_SALT is shorter than {MIN_SALT_BYTES} bytes. {SALT_HELP}")
    if estimated_bits(salt) < MIN_SALT_BITS:
        raise SaltError(f"ANALYTICS_SALT is too predictable (few distinct characters or a repeated block). {SALT_HELP}")
    return salt.encode("utf-8")


def pseudonymize(value: str, salt: bytes, domain: str = USER_DOMAIN) -> str:
    """The 64-hex-digit keyed hash of an identifier within a domain ("user", "resume")."""
    return hmac.new(salt, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()


def salt_fingerprint(salt: bytes) -> str:
    """A short keyed hash of a fixed message: tells two salts apart without revealing either."""
    return hmac.new(salt, _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:16]
