"""Shared fixtures. The spaCy model behind PiiScrubber loads once per test session."""

import pytest

from analytics_pipeline.privacy import PiiScrubber

TEST_SALT = "test-salt-0123456789abcdef"


@pytest.fixture(scope="session")
def scrubber() -> PiiScrubber:
    return PiiScrubber()


@pytest.fixture
def salt_env(monkeypatch) -> str:
    monkeypatch.setenv("ANALYTICS_SALT", TEST_SALT)
    return TEST_SALT
