import re
import secrets
from pathlib import Path

import pytest

from analytics_pipeline.privacy.hashing import (
    DEMO_MODE_ENV,
    DEMO_SALT,
    PSEUDONYM_PATTERN,
    RESUME_DOMAIN,
    SaltError,
    pseudonymize,
    salt_fingerprint,
    validate_salt,
)
from analytics_pipeline_tests.conftest import TEST_SALT

PROJECT_ROOT = Path(__file__).resolve().parents[1]

SALT = b"0123456789abcdef-test"


def test_pseudonyms_are_stable_and_well_formed():
    assert pseudonymize("user@example.com", SALT) == pseudonymize("user@example.com", SALT)
    assert PSEUDONYM_PATTERN.match(pseudonymize("user@example.com", SALT))


def test_pseudonyms_depend_on_salt_and_domain():
    assert pseudonymize("u1", SALT) != pseudonymize("u1", SALT + b"x")
    assert pseudonymize("u1", SALT) != pseudonymize("u1", SALT, RESUME_DOMAIN)


def test_pseudonym_is_not_a_plain_hash_of_the_input():
    import hashlib

    pseudonym = pseudonymize("u1", SALT)
    assert "u1" not in pseudonym
    assert pseudonym not in {hashlib.sha256(v).hexdigest() for v in (b"u1", b"user:u1", SALT + b"u1")}


@pytest.mark.parametrize(
    "salt, reason",
    [
        (None, "not set"),
        ("", "not set"),
        ("s3cret", "shorter than 32 bytes"),
        ("0123456789abcdef-test", "shorter than 32 bytes"),
        ("a" * 16, "shorter than 32 bytes"),
        (" " * 16, "shorter than 32 bytes"),
        ("a" * 64, "too predictable"),
        (" " * 40, "too predictable"),
        ("0123456789abcdef" * 2, "too predictable"),  # a repeated block counts once
        ("changeme" * 4, "too predictable"),
        ("abcde" * 7, "too predictable"),
    ],
)
def test_missing_short_or_predictable_salt_is_refused_with_instructions(salt, reason, monkeypatch):
    monkeypatch.setenv(DEMO_MODE_ENV, "1")  # demo mode accepts the demo salt, nothing weaker
    with pytest.raises(SaltError, match=f"{reason}.*export ANALYTICS_SALT") as refused:
        validate_salt(salt)
    assert not salt or salt not in str(refused.value)


def test_random_secrets_and_the_test_salt_are_accepted(monkeypatch):
    monkeypatch.delenv(DEMO_MODE_ENV, raising=False)
    for salt in (TEST_SALT, secrets.token_hex(16), secrets.token_hex(32), secrets.token_urlsafe(32)):
        assert validate_salt(salt) == salt.encode()


def test_the_public_demo_salt_is_accepted_only_in_demo_mode(monkeypatch):
    monkeypatch.delenv(DEMO_MODE_ENV, raising=False)
    with pytest.raises(SaltError, match="public demo salt"):
        validate_salt(DEMO_SALT)
    monkeypatch.setenv(DEMO_MODE_ENV, "yes")  # only the exact switch
    with pytest.raises(SaltError, match="public demo salt"):
        validate_salt(DEMO_SALT)
    monkeypatch.setenv(DEMO_MODE_ENV, "1")
    assert validate_salt(DEMO_SALT) == DEMO_SALT.encode()


def test_make_run_and_make_dev_use_the_demo_salt_in_demo_mode():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^DEMO_SALT := (.+)$", makefile, re.MULTILINE).group(1) == DEMO_SALT
    for target in ("run", "dev"):
        recipe = re.search(rf"^{target}: .*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
        assert f"{DEMO_MODE_ENV}=1" in recipe and "$(DEMO_SALT)" in recipe, target


def test_fingerprint_tells_salts_apart_without_revealing_them():
    assert salt_fingerprint(SALT) == salt_fingerprint(SALT)
    assert salt_fingerprint(SALT) != salt_fingerprint(SALT + b"x")
    assert SALT.decode() not in salt_fingerprint(SALT)
