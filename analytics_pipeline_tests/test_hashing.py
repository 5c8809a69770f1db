import pytest

from analytics_pipeline.privacy.hashing import (
    PSEUDONYM_PATTERN,
    RESUME_DOMAIN,
    SaltError,
    pseudonymize,
    salt_fingerprint,
    validate_salt,
)

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


@pytest.mark.parametrize("salt", [None, "", "short"])
def test_missing_or_weak_salt_explains_how_to_set_it(salt):
    with pytest.raises(SaltError, match="export ANALYTICS_SALT"):
        validate_salt(salt)


def test_fingerprint_tells_salts_apart_without_revealing_them():
    assert salt_fingerprint(SALT) == salt_fingerprint(SALT)
    assert salt_fingerprint(SALT) != salt_fingerprint(SALT + b"x")
    assert SALT.decode() not in salt_fingerprint(SALT)
