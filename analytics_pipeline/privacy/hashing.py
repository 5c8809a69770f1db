"""Keyed pseudonyms for identifiers.

HMAC-SHA256 with a secret salt: stable for a given salt (joins across days work),
different under another salt, and not reversible or brute-forceable without the
salt (a plain hash of an e-mail-like user ID could be reversed by guessing).
"""

from __future__ import annotations

import hashlib
import hmac
import re

MIN_SALT_CHARS = 16
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


def validate_salt(salt: str | None) -> bytes:
    """Return the salt as bytes, or raise SaltError saying how to set a proper one."""
    if not salt:
        raise SaltError(f"ANALYTICS_SALT is not set. {SALT_HELP}")
    if len(salt) < MIN_SALT_CHARS:
        raise SaltError(f"ANALYTICS_SALT is shorter than {MIN_SALT_CHARS} characters. {SALT_HELP}")
    return salt.encode("utf-8")


def pseudonymize(value: str, salt: bytes, domain: str = USER_DOMAIN) -> str:
    """The 64-hex-digit keyed hash of an identifier within a domain ("user", "resume")."""
    return hmac.new(salt, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()


def salt_fingerprint(salt: bytes) -> str:
    """A short keyed hash of a fixed message: tells two salts apart without revealing either."""
    return hmac.new(salt, _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:16]
