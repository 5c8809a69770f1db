"""Privacy primitives: keyed pseudonyms and the PII scrubber."""

from analytics_pipeline.privacy.hashing import pseudonymize, salt_fingerprint, validate_salt
from analytics_pipeline.privacy.scrubber import DetectedSpan, PiiScrubber

__all__ = ["DetectedSpan", "PiiScrubber", "pseudonymize", "salt_fingerprint", "validate_salt"]
