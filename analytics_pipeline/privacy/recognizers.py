"""Custom Presidio recognizers for what stock Presidio misses in resumes."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

_STREET_SUFFIXES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    "Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Loop|Row|Crescent"
)
_UNIT = r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#)\s*[A-Za-z0-9-]+)?"


class StreetAddressRecognizer(PatternRecognizer):
    """House number + street name + suffix (with an optional unit), and PO boxes.

    Presidio ships no street-address recognizer; spaCy tags at most the city.
    """

    PATTERNS = [
        Pattern(
            "street_address",
            rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z0-9][\w'.-]*\s+){{1,4}}"
            rf"(?:{_STREET_SUFFIXES})\b\.?{_UNIT}",
            0.6,
        ),
        Pattern("po_box", r"\b(?:P\.?\s?O\.?\s?Box|Post Office Box)\s+\d{1,6}\b", 0.7),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            patterns=self.PATTERNS,
            context=["address", "street", "live", "located", "mail"],
            name="StreetAddressRecognizer",
        )
