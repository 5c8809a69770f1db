"""Custom Presidio recognizers for formal PII: phones, street addresses, cards, links and usernames.

Each describes a format (a number plan, an address layout, a link, a handle), never a sample sentence.
Names are not found here: the scrubber's trained detector (``privacy/model``) finds them.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache

import phonenumbers
from phonenumbers import PhoneMetadata
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer, IpRecognizer, PhoneRecognizer, UrlRecognizer

from analytics_pipeline.privacy.formats import (
    card_spans,
    cued_phone_spans,
    cued_ssn_spans,
    extend_address,
    iban_spans,
    international_address_spans,
    line_bounds,
    names_indian_locality,
)
from analytics_pipeline.privacy.normalize import disguised_email_spans, disguised_number_spans
from analytics_pipeline.privacy.span_cache import BoundedCache, content_key

# Lower-case particles inside names ("van der", "bin"): not worth hunting on their own elsewhere in a text.
NAME_PARTICLES = frozenset(
    "de del della der den van von da das dos do di du la le bin binti ibn al el ter ten y e".split()
)


def recognizer_result(
    recognizer: EntityRecognizer, entity_type: str, start: int, end: int, score: float, **metadata
) -> RecognizerResult:
    """A result that names and explains its recognizer, as Presidio's own do (context enhancement writes to the explanation)."""
    return RecognizerResult(
        entity_type,
        start,
        end,
        score,
        analysis_explanation=AnalysisExplanation(recognizer=recognizer.name, original_score=score),
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
            **metadata,
        },
    )


class PhoneNumberPatternRecognizer(EntityRecognizer):
    """Phone numbers as people write them on resumes, including extensions and reserved 555 numbers.

    Presidio's recognizer validates numbers with libphonenumber, which rejects
    unassigned area codes (555) and leaves extensions behind.
    """

    SCORE = 0.7
    _EXTENSION = r"(?:[ \t]*(?:,[ \t]*)?(?:x|ext\.?|extension)[ \t]*\d{1,6})?"
    PATTERNS = (
        # North American: (555) 123-4567, 555.123.4567, +1 555 123 4567, 1-555-123-4567 x12
        re.compile(rf"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{{3}}\)|\d{{3}})[ .-]?\d{{3}}[ .-]\d{{4}}{_EXTENSION}(?!\w)"),
        # International with a country code: +44 20 7946 0958, +49 30 9018200, +81 3-1234-5678
        re.compile(rf"(?<![\w+])\+\d{{1,3}}(?:[ .-]?\(0\))?(?:[ .-]?\(?\d{{1,5}}\)?){{2,6}}{_EXTENSION}(?!\w)"),
    )
    MIN_DIGITS, MAX_DIGITS = 9, 17

    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE_NUMBER"], name="PhoneNumberPatternRecognizer", version="1")

    def load(self) -> None:
        """Nothing to load: the rules are regular expressions."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        if "PHONE_NUMBER" not in entities:
            return []
        results = []
        for pattern in self.PATTERNS:
            for match in pattern.finditer(text):
                digits = sum(c.isdigit() for c in match.group())
                if self.MIN_DIGITS <= digits <= self.MAX_DIGITS:
                    results.append(recognizer_result(self, "PHONE_NUMBER", match.start(), match.end(), self.SCORE))
        return results


@cache
def min_phone_digits(region: str) -> int:
    """Fewest digits any valid phone number written for ``region`` can have, from libphonenumber's metadata.

    A national number is at least the region's shortest valid length; an international one at
    least a country code plus the shortest valid length anywhere. Prefixes and extensions only add digits.
    """
    regions = [(r, PhoneMetadata.metadata_for_region(r)) for r in phonenumbers.SUPPORTED_REGIONS]
    regions += [
        (str(cc), PhoneMetadata.metadata_for_nongeo_region(cc)) for cc in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    ]
    national = {code: min(n for n in metadata.general_desc.possible_length if n > 0) for code, metadata in regions}
    international = min(len(str(metadata.country_code)) + national[code] for code, metadata in regions)
    return min(national.get(region, international), international)


class _ShortCandidateSkippingMatcher(phonenumbers.PhoneNumberMatcher):
    """libphonenumber's matcher, minus the parse and validation of candidates too short to be valid.

    Years, counts and percentages ("2019", "35%", "3 years") are most of a resume's digit runs
    and each cost a full parse per region. A candidate's digits (letters counted too: vanity
    numbers map them to digits) bound the digits of any number found in it, so skipping
    candidates below ``min_phone_digits`` finds exactly the same numbers.
    """

    def __init__(self, text: str, region: str, leniency: int):
        super().__init__(text, region, leniency=leniency)
        self._min_digits = min_phone_digits(region)

    def _extract_match(self, candidate, offset):
        if sum(c.isdigit() or c.isalpha() for c in candidate) < self._min_digits:
            return None
        return super()._extract_match(candidate, offset)


class FastPhoneRecognizer(PhoneRecognizer):
    """Presidio's ``PhoneRecognizer`` (same regions, leniency, score and name), finding the same numbers faster.

    libphonenumber's candidates never cross a line break and only look one character
    past their ends, where a line break counts as nothing: matching line by line finds
    exactly what matching the whole text does. So lines without a digit are skipped,
    each distinct line is matched once (a bounded cache of positions keyed by a content
    hash: resume lines recur across a tailoring chain), and candidates too short to be a
    valid number are not parsed.
    """

    _DIGIT = re.compile(r"\d")  # Unicode digits, as libphonenumber's candidates

    def __init__(self, cache_size: int = 20_000) -> None:
        super().__init__(name=PhoneRecognizer.__name__)
        self._line_cache: BoundedCache[tuple[tuple[int, int], ...]] = BoundedCache(cache_size)

    def clear_cache(self) -> None:
        self._line_cache.clear()

    def _line_matches(self, line: str) -> tuple[tuple[int, int], ...]:
        key = content_key(line)
        matches = self._line_cache.get(key)
        if matches is None:
            matches = tuple(
                (match.start, match.end)
                for region in self.supported_regions
                for match in _ShortCandidateSkippingMatcher(line, region, self.leniency)
            )
            self._line_cache.put(key, matches)
        return matches

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        results, line_start = [], 0
        for line in text.split("\n"):
            if self._DIGIT.search(line):
                results += [
                    recognizer_result(self, "PHONE_NUMBER", line_start + start, line_start + end, self.SCORE)
                    for start, end in self._line_matches(line)
                ]
            line_start += len(line) + 1
        return EntityRecognizer.remove_duplicates(results)


# USPS Publication 28 street suffixes (full names), minus words that too often follow a number in
# resume prose ("3 Data Center migrations", "2 Key accounts"): Center, Key, Union, Track, Light, Lock, Field, Ford.
_USPS_SUFFIXES = (
    "Alley Anex Arcade Avenue Bayou Beach Bend Bluffs? Bottom Boulevard Branch Bridge Brooks? Burgs? Bypass "
    "Camp Canyon Cape Causeway Circles? Cliffs? Club Commons? Corners? Course Courts? Coves? Creek Crescent "
    "Crest Crossing Crossroads? Curve Dale Dam Divide Drives? Estates? Expressway Extensions? Falls? Ferry "
    "Flats? Forest Forges? Forks? Fort Freeway Gardens? Gateway Glens? Greens? Groves? Harbors? Haven Heights "
    "Highway Hills? Hollow Inlet Islands? Isle Junctions? Knolls? Lakes? Landing Lane Loaf Lodge Loop Mall "
    "Manors? Meadows? Mews Mills? Mission Motorway Mount Mountains? Neck Orchard Oval Overpass Parks? "
    "Parkways? Pass Passage Path Pike Pines? Place Plains? Plaza Points? Ports? Prairie Radial Ramp Ranch "
    "Rapids? Rest Ridges? River Roads? Route Row Rue Run Shoals? Shores? Skyway Springs? Spurs? Squares? "
    "Station Stravenue Stream Streets? Summit Terrace Throughway Trace Trafficway Trail Trailer Tunnel "
    "Turnpike Underpass Valleys? Viaduct Views? Villages? Ville Vista Walks? Wall Ways? Wells?"
)
_STREET_SUFFIXES = _USPS_SUFFIXES.replace(" ", "|")
# Abbreviations may carry a period ("St."); full words may not (the period ends the sentence).
_STREET_SUFFIX_ABBREVIATIONS = (
    "St|Ave|Av|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Cir|Pkwy|Hwy|Sq|Trl|Cres|Aly|Plz|Pt|Hts|Xing|Expy|Fwy|Cv|Tpke"
)
# A street ends its phrase: "3 API Gateway stages", "50 Silicon Valley startups" go on in lower case, an
# address does not (a few words may follow it: "45 Oak Street in Denver", "12 Elm Road is where", and a
# French name goes on after "Rue": "12 Rue de la Paix").
_US_NOT_BEFORE_A_LOWER_CASE_WORD = (
    r"(?![ \t]+(?!(?:in|near|at|on|and|or|is|was|with|where|street|road|de|des|du|da|do|la|le|del)\b)[a-z])"
)
# A count after a past-tense verb is a count: "Trained 5 Random Forest and XGBoost models", "Built 30 Tableau
# Views and ...". People write "I live at 12 ...", "located at ...", not "Trained 12 Main Street".
_COUNT_VERB_BEFORE = re.compile(
    r"(?i:\b(?!(?:located|based|situated|headquartered|moved|relocated)\b)[a-z]{2,}ed"
    r"|\b(?:built|led|ran|won|wrote|grew|made|took|drove|sold|held|taught|brought|kept|set|spent|gave|got|did))[ \t]+$"
)
_UNIT = r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Room|Rm\.?|Floor|Fl\.?|Bldg\.?|Building|#)\s*#?[A-Za-z0-9-]+)?"


_YEAR_NUMBER = re.compile(r"(?:19[5-9]\d|20[0-3]\d)\b")
_DETERMINER_BEFORE = re.compile(r"(?i)\b(?:the|a|an|our|this|that|annual|my|his|her|their)[ \t]+$")
_US_STATE_ZIP_OR_UNIT = re.compile(
    r"\b[A-Z]{2}[ \t]+\d{5}\b|\b\d{5}(?:-\d{4})?\b|\b(?:Apt|Suite|Ste|Unit|Fl)\b|#[ \t]*\d"
)


class StreetAddressRecognizer(PatternRecognizer):
    """Street addresses: US style (number + street + suffix, optional unit), PO boxes, and the international
    formats of ``formats.INTERNATIONAL_STREET_PATTERNS`` (street name first, number-street-number, units,
    military addresses), each widened to its whole block (``formats.extend_address``).

    Presidio ships no street-address recognizer; spaCy tags at most the city. Matched case-sensitively:
    addresses capitalize their street names, prose ("close 3 deals and drive growth") does not.
    """

    INTERNATIONAL_SCORE = 0.6

    PATTERNS = [
        Pattern(
            "street_address",
            rf"\b\d{{1,6}}[A-Za-z]?[ \t]+(?:[NSEW]{{1,2}}\.?[ \t]+)?(?:[A-Z0-9][\w'.-]*[ \t]+){{1,4}}"
            rf"(?:(?:{_STREET_SUFFIXES})\b|(?:{_STREET_SUFFIX_ABBREVIATIONS})\b\.?)(?:[ \t]+[NSEW]{{1,2}}\b)?{_UNIT}"
            rf"{_US_NOT_BEFORE_A_LOWER_CASE_WORD}",
            0.6,
        ),
        Pattern(
            "po_box",
            r"\b(?:P\.?\s?O\.?\s?Box|POB|Post Office Box|PMB|Rural Route|RR)\s+#?\d{1,6}\b",
            0.7,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            patterns=self.PATTERNS,
            context=["address", "street", "live", "located", "mail"],
            name="StreetAddressRecognizer",
            version="4",
            global_regex_flags=re.DOTALL | re.MULTILINE,
        )

    @staticmethod
    def _is_dated_event(text: str, start: int, end: int) -> bool:
        """A year before capitalized words and a street-type word is an event: after an article ("the 2022 Infra
        Summit", "Organised the 2021 Fun Run"), or right before a capitalized word with no state and ZIP or unit
        after it on the line ("Speaker, 2018 Data Science Summit"), as an address would have."""
        year = _YEAR_NUMBER.match(text, start)
        if not year:
            return False
        if _DETERMINER_BEFORE.search(text, max(0, start - 12), start):
            return True
        return bool(re.match(r"[ \t]+[A-Z]", text[year.end() : end])) and not _US_STATE_ZIP_OR_UNIT.search(
            text, end, line_bounds(text, start, end)[1]
        )

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        results = [
            recognizer_result(self, "STREET_ADDRESS", *extend_address(text, r.start, r.end), r.score)
            for r in super().analyze(text, entities, nlp_artifacts, regex_flags)
            if not (
                r.analysis_explanation
                and r.analysis_explanation.pattern_name == "street_address"
                and (
                    _COUNT_VERB_BEFORE.search(text, max(0, r.start - 24), r.start)
                    or self._is_dated_event(text, r.start, r.end)
                )
            )
        ]
        if "STREET_ADDRESS" in entities:
            results += [
                recognizer_result(self, "STREET_ADDRESS", start, end, self.INTERNATIONAL_SCORE)
                for start, end in international_address_spans(text)
            ]
        return results


class _FormatRecognizer(EntityRecognizer):
    """One entity type found by a plain function (those of ``formats.py`` are shared with the residual-PII gate)."""

    ENTITY = ""
    SCORE = 0.6

    def __init__(self) -> None:
        super().__init__(supported_entities=[self.ENTITY], name=type(self).__name__, version="1")

    def load(self) -> None:
        """Nothing to load: patterns and checks."""

    @staticmethod
    def find(text: str) -> list[tuple[int, int]]:
        raise NotImplementedError

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        if self.ENTITY not in entities:
            return []
        return [recognizer_result(self, self.ENTITY, s, e, self.SCORE) for s, e in self.find(text)]


class CuedPhoneRecognizer(_FormatRecognizer):
    """National numbers without a country code (6-15 digits in any grouping) next to a phone cue.

    libphonenumber validates against one region's plan and the patterns above need a
    country code or the North American shape; ``555 0100`` after ``cell:`` is a phone anywhere.
    """

    ENTITY, SCORE = "PHONE_NUMBER", 0.6
    find = staticmethod(cued_phone_spans)


class DisguisedEmailRecognizer(_FormatRecognizer):
    """E-mail addresses written to slip past patterns: letter-spaced, ``(at)``/``dot`` spelled out
    (``normalize.disguised_email_spans``, which the residual-PII gate uses too)."""

    ENTITY, SCORE = "EMAIL_ADDRESS", 0.7
    find = staticmethod(disguised_email_spans)


class DisguisedNumberRecognizer(_FormatRecognizer):
    """Phone, SSN or card digits spelled out in words or spaced digit by digit (``normalize.disguised_number_spans``)."""

    ENTITY, SCORE = "PHONE_NUMBER", 0.7
    find = staticmethod(disguised_number_spans)


class CuedSsnRecognizer(_FormatRecognizer):
    """Nine digits after an SSN label, whatever separates their groups (``SSN: 536 - 22 - 8841``)."""

    ENTITY, SCORE = "US_SSN", 0.7
    find = staticmethod(cued_ssn_spans)


class GitRemoteRecognizer(_FormatRecognizer):
    """A Git remote in scp form (``git@github.com:janedoe/ledger.git``): the e-mail recognizer takes ``git@host``
    and the owner's name after the colon would stay."""

    ENTITY, SCORE = "URL", 1.0

    @staticmethod
    def find(text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _GIT_REMOTE.finditer(text)]


_GIT_REMOTE = re.compile(r"(?<![\w.-])[\w.-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}:(?!\d+\b)[\w~.-]+(?:/[\w~.-]+)*")


class LinkedInPathRecognizer(_FormatRecognizer):
    """A LinkedIn profile written without its host (``in/jane-doe-4a2b``, ``/in/ jane-doe`` as PDF extraction
    spaces it), taken whole with its ``in/`` as the full link is. Only where a contact line puts it: at a line's
    start (after an icon), after a separator or a LinkedIn label, and ending its line or before a separator;
    prose has ``in/`` inside sentences (``log in/ sign up``, ``the in/out ratio``, ``check-in/check-out``)."""

    ENTITY, SCORE = "URL", 1.0

    @staticmethod
    def find(text: str) -> list[tuple[int, int]]:
        return [m.span("link") for m in _LINKEDIN_PATH.finditer(text)]


# A slug as LinkedIn allows it: 3-100 letters, digits and hyphens.
_LINKEDIN_PATH = re.compile(
    r"(?m)(?:^[^\w\n/]{0,3}|[|•·][ \t]{0,3}|(?i:\blinked[ \t]?in)[ \t]{0,3}[:|–—-]?[ \t]{0,3})"
    r"(?P<link>/?in/[ \t]?[A-Za-z0-9][A-Za-z0-9-]{2,99}/?)"
    r"(?=[ \t]*(?:$|[|•·,;()])|[ \t]{2}|[ \t][–-][ \t])"
)


class CardNumberRecognizer(_FormatRecognizer):
    """Luhn-valid card numbers of every major issuer range and length (12-19 digits, ``formats.is_card_number``).

    Presidio's pattern misses 19-digit Visa, Maestro, 2-series Mastercard and 15-digit JCB.
    """

    ENTITY, SCORE = "CREDIT_CARD", 0.8
    find = staticmethod(card_spans)


class IbanCodeRecognizer(_FormatRecognizer):
    """IBANs in their country's format with valid check digits (``formats.iban_spans``), in any case and with
    up to two spaces or hyphens between characters: Presidio's pattern misses ``DE89 3704  0044 …``."""

    ENTITY, SCORE = "IBAN_CODE", 1.0
    find = staticmethod(iban_spans)


# A link's tail on the next line, as PDF text extraction leaves it: path characters only, and either
# holding a digit, a slash or a hyphen (an ID, a path), being the whole line in lower case or, after a profile's
# path, a lower-case word before a separator (the rest of a name).
_WRAPPED_TAIL = re.compile(r"\n[ \t]*(?P<tail>[\w%~+=&?#./-]+)(?=[ \t]*(?:\n|$)|[ \t]+\S)")
# A profile's path that may be cut inside its owner's name (``/in/jane`` + ``doe``): LinkedIn's, GitHub's, GitLab's.
_PROFILE_PATH = re.compile(r"(?:/in/|(?<![\w-])(?:github|gitlab)\.com/)[\w-]+$")
# What ends a tail in a contact line: the line's end or a separator (``doe | Phone: …``, ``doe • Pune``).
_SEPARATOR = re.compile(r"[ \t]*(?:\n|$)|[ \t]+[|•·–-][ \t]|[ \t]{2}")
# A host cut after one of its dots at a line end, after a scheme or ``www`` (``https://jane.`` + ``github.io``,
# ``www.jane.`` + ``com/cv``); the next line's labels are its suffix if they end in a top-level domain.
_CUT_HOST = re.compile(
    r"(?:\b(?i:https?)://|(?<![\w.-])www\.)(?:(?:[^\W_]|-){1,63}\.){1,8}\n[ \t]*"
    r"(?:(?:[^\W_]|-){1,63}\.){0,3}(?P<tld>[a-z]{2,24})(?![\w.-])(?P<path>/[^\s)\]>,;\"']*)?"
)
_TOP_LEVEL_DOMAINS = frozenset(re.findall(r"\(\?:([a-z]+)\)", UrlRecognizer.BASE_URL_REGEX))
_BARE_HOST = re.compile(r"(?i)^(?:[a-z0-9-]+\.)+[a-z]+$")
_CAMEL_CASE = re.compile(r"[a-z][A-Z]")
# A personal site written with its owner's name capitalized: CamelCase or capitalized words joined by a hyphen
# before a lower-case TLD (``AmaraNwosu.com``, ``Jane-Doe.com``); ``Booking.com`` or ``Socket.IO`` are not.
_PERSONAL_HOST = re.compile(r"^[A-Za-z0-9]*(?:[a-z][A-Z]|[A-Za-z]-[A-Z])[A-Za-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,}$")
# Host characters in any script (IDN) besides the dot; what may follow a host: more labels, then a path.
_HOST_CHAR = re.compile(r"[^\W_]|[-.]")
_HOST_REST = re.compile(r"(?:[^\W_]|-)+(?:\.(?:[^\W_]|-)+)*(?:/[^\s)\]>,;\"']*)?")
# Country-code TLDs that are also source-file suffixes: a bare ``setup.py``, ``main.tf`` or ``notes.md`` in a
# developer's resume is a file (Python, shell, Rust, Perl, Markdown, make, C++, shared object, Terraform,
# OCaml, Scala, Godot, Apps Script), while a personal site under them is rare and still found with a scheme,
# ``www`` or a path.
SOURCE_FILE_SUFFIXES = frozenset("py sh rs pl pm md mk cc so tf ml sc gd gs".split())


# Presidio's host pattern, tried only where a run of host characters starts. Tried at every position, each
# attempt rescans up to 253 characters ahead, trying every TLD at every dot: 20,000 dots took 23 s (a
# 200,000-character text minutes, past Presidio's regex timeout, which then skips the pattern). A host in a
# run of more than 253 such characters is no valid host name; below that, the leftmost match is the same.
_LINK_PATTERNS = [
    Pattern(
        p.name,
        p.regex.replace(UrlRecognizer.BASE_URL_REGEX, r"(?<![a-z0-9.\-])" + UrlRecognizer.BASE_URL_REGEX),
        p.score,
    )
    for p in UrlRecognizer.PATTERNS
]


class LinkRecognizer(UrlRecognizer):
    """Presidio's URL patterns, without dotted words that are not links, and with links wrapped across a line.

    A bare host without a scheme, ``www`` or a path is a link only if every label is lower case and
    longer than one letter (``B.Tech``, ``ASP.NET`` and ``Socket.IO`` are degrees and frameworks), the
    match ends where its word ends (``cv.docx`` is a file, not ``cv.do``) and is no source file
    (``setup.py``, ``test_app.py``).
    A link ending at a line end continues on the next line when that line starts with its tail
    (``indeed.com/r/Jane-\nDoe/4f2a``): a profile path often holds the person's name. A host cut after a dot
    at a line end goes on with the next line's suffix (``https://jane.\ngithub.io``).
    """

    def __init__(self) -> None:
        super().__init__(patterns=_LINK_PATTERNS, name="LinkRecognizer")

    @staticmethod
    def _is_link(value: str, previous_char: str, next_char: str) -> bool:
        if "/" in value or value.lower().startswith("www"):
            return True
        return (
            bool(_BARE_HOST.match(value))
            and (value == value.lower() or bool(_PERSONAL_HOST.match(value)))
            and all(len(p) > 1 for p in value.split("."))
            and not next_char.isalnum()
            and previous_char != "_"  # test_app.py
            and value.rsplit(".", 1)[1] not in SOURCE_FILE_SUFFIXES
        )

    @staticmethod
    def _whole_host(text: str, start: int, end: int) -> tuple[int, int]:
        """The match widened over host characters it stopped short of: Presidio's pattern ends at the first
        top-level domain of its list that fits (``kwame.desi`` of ``kwame.design/work``, ``.sh`` of ``.shop``)
        and knows ASCII only (``www.mü`` + ``ller-design.de``). A cut name slug in the path would stay."""
        while start > 0 and _HOST_CHAR.match(text[start - 1]):
            start -= 1
        if end < len(text) and _HOST_CHAR.match(text[end]) and text[end] != ".":
            end = _HOST_REST.match(text, end).end()
        return start, end

    @staticmethod
    def _with_tail(text: str, start: int, end: int) -> int:
        tail = _WRAPPED_TAIL.match(text, end)
        if not tail or "/" not in text[start:end]:  # only a link with a path goes on
            return end
        value = tail.group("tail")
        whole_line = text[tail.end() : tail.end() + 1] in ("\n", "")
        if (
            re.search(r"[\d/_-]", value)
            or (whole_line and value == value.lower())
            or text[end - 1] == "-"  # cut inside a hyphenated slug: jane-\ndoe
            or (text[end - 1] == "/" and _CAMEL_CASE.search(value))  # a handle after the slash: /\nJaneDoe
            # one lower-case word before a separator, after a profile path: /in/jane\ndoe | Phone
            or (
                value.isalpha()
                and value.islower()
                and _PROFILE_PATH.search(text[start:end])
                and _SEPARATOR.match(text, tail.end())
            )
        ):
            return tail.end()
        return end

    @staticmethod
    def _cut_hosts(text: str) -> list[tuple[int, int]]:
        """Hosts cut after a dot at a line end. Without a path, the suffix must end its line or stand before a
        separator: a sentence ending in a link goes on with words (``example.com.`` + ``in addition``)."""
        return [
            match.span()
            for match in _CUT_HOST.finditer(text)
            if match["tld"] in _TOP_LEVEL_DOMAINS and (match["path"] or _SEPARATOR.match(text, match.end()))
        ]

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        results = [
            recognizer_result(self, "URL", start, self._with_tail(text, start, end), 1.0)
            for start, end in self._cut_hosts(text)
        ]
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            if self._is_link(
                text[result.start : result.end],
                text[result.start - 1 : result.start],
                text[result.end : result.end + 1],
            ):
                start, end = self._whole_host(text, result.start, result.end)
                results.append(recognizer_result(self, "URL", start, self._with_tail(text, start, end), result.score))
        return results


class BoundedEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with the local part bounded to 64 characters (RFC 5321): unbounded, every
    word boundary of a long run without an "@" ("a.a.a...") rescanned the rest of it (quadratic time)."""

    PATTERNS = [Pattern(p.name, p.regex.replace("]{0,}[", "]{0,62}["), p.score) for p in EmailRecognizer.PATTERNS]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, name="EmailRecognizer")


class ZeroPaddedIpRecognizer(IpRecognizer):
    """Presidio's IP recognizer, also for IPv4 addresses written with zero-padded octets (``010.000.000.001``,
    as some logs print them): its patterns match them, but Python's ``ipaddress`` rejects leading zeros.
    Four numbers right after a version or section word are a version (``version 1.0.0.1``, ``firmware 2.1.0.14``,
    ``Section 4.2.1.3``), and the addresses every machine has (loopback, ``0.0.0.0``, ``::``) and netmasks
    (``255.255.255.0``) identify nobody."""

    def __init__(self) -> None:
        super().__init__(name="IpRecognizer")

    def invalidate_result(self, pattern_text: str) -> bool:
        value = _IPV4_LEADING_ZEROS.sub("", pattern_text)
        if super().invalidate_result(value):
            return True
        address = ipaddress.ip_address(value)
        return address.is_loopback or address.is_unspecified or bool(_NETMASK.fullmatch(value))

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        return [
            result
            for result in super().analyze(text, entities, nlp_artifacts, regex_flags)
            if not _VERSION_WORD.search(text, max(0, result.start - 20), result.start)
        ]


_IPV4_LEADING_ZEROS = re.compile(r"\b0+(?=\d)")
_VERSION_WORD = re.compile(
    r"(?i)(?:\b(?:v|ver|version|build|release|rev|revision|firmware|fw|sdk|driver|kernel|patch|section|sec|clause|"
    r"chapter|annex|appendix|para|paragraph)\.?|§)[ \t]*$"
)
_NETMASK = re.compile(
    r"255\.(?:255\.(?:255\.(?:255|254|252|248|240|224|192|128|0)|254|252|248|240|224|192|128|0)\.0|"
    r"254|252|248|240|224|192|128)\.0\.0|255\.255\.255\.(?:254|252|248|240|224|192|128|0)"
)


# "@" + name in a developer's resume is often code, a skill to keep: Java/Spring/JUnit/JPA/Lombok annotations,
# Python decorators, CSS at-rules. Written exactly so (case-sensitive); any other "@name" is a handle.
CODE_ANNOTATIONS = frozenset(
    """
    Override Deprecated SuppressWarnings FunctionalInterface SafeVarargs Autowired Component Service Repository
    Controller RestController Configuration Bean Value Qualifier Primary Scope Lazy Profile SpringBootApplication
    EnableAutoConfiguration ComponentScan RequestMapping GetMapping PostMapping PutMapping DeleteMapping
    PatchMapping RequestBody ResponseBody RequestParam PathVariable ResponseStatus ExceptionHandler
    ControllerAdvice RestControllerAdvice CrossOrigin Transactional Async Scheduled EnableScheduling Cacheable
    Entity Table Id GeneratedValue Column OneToMany ManyToOne OneToOne ManyToMany JoinColumn Embeddable Query
    Param Valid NotNull NotBlank NotEmpty Size Data Getter Setter Builder NoArgsConstructor AllArgsConstructor
    RequiredArgsConstructor Slf4j ToString EqualsAndHashCode Test Before After BeforeEach AfterEach BeforeAll
    AfterAll BeforeClass AfterClass Mock InjectMocks Spy MockBean SpringBootTest WebMvcTest DataJpaTest RunWith
    ExtendWith ParameterizedTest DisplayName Disabled Ignore Inject Named Singleton Produces Consumes
    JsonProperty JsonIgnore Input Output Injectable NgModule Directive HostListener ViewChild
    dataclass property staticmethod classmethod abstractmethod cached_property lru_cache contextmanager
    pytest media import keyframes supports tailwind apply
    State Binding Published EnvironmentObject ObservedObject StateObject Environment AppStorage MainActor
    IBOutlet IBAction objc escaping available discardableResult
    param return returns throws throw author since see link version inheritDoc exception code
    Composable HiltViewModel AndroidEntryPoint HiltAndroidApp JvmStatic JvmField JvmOverloads Preview Module
    Provides InstallIn Parcelize Serializable
    login_required api_view permission_classes csrf_exempt receiver shared_task task field_validator
    model_validator validator root_validator computed_field app
    mixin include extend use forward font container layer page charset namespace each if else function content
    Pipe HostBinding ContentChild ViewChildren
    channel here everyone
    """.split()
)


class UsernameRecognizer(EntityRecognizer):
    """Handles and usernames: ``@name`` (not an e-mail's domain, a code annotation, an npm scope ``@types/node``
    or a call ``@app.route(``), ``u/name`` and ``/u/name``, and the value after a ``Username:``, ``handle:``,
    ``Skype:`` (with its ``live:`` prefix), ``GitHub:``, ``ORCID:`` (a researcher's identifier) or similar label."""

    SCORE = 0.7
    PATTERNS = (
        # Dotted handles whole (@amara.nwosu); not a time (@10am) nor a call (@app.route(...)).
        re.compile(
            r"(?<![\w@.+/-])@(?!\d{1,2}(?::\d\d)?[ \t]?(?i:am|pm|h)\b)(?=[A-Za-z0-9_]*[A-Za-z])"
            r"[A-Za-z0-9_]{2,30}+(?:\.[A-Za-z0-9_]+)*+(?![\w@/(])"
        ),
        re.compile(r"(?<![\w/])/?u/[A-Za-z0-9_-]{3,20}(?![\w/])"),
        # After a label ("GitHub: janedoe", "X (Twitter): sara_builds", "Kaggle - tanvirh"): see _is_handle.
        re.compile(
            r"(?i:\b(?P<label>user ?name|user ?id|login|handle|screen ?name|skype(?: id)?|telegram|discord|twitter|"
            r"instagram|insta|ig|github|gitlab|linkedin|snapchat|tiktok|reddit|mastodon|kaggle|leetcode|codeforces|"
            r"hackerrank|wechat|twitch|dribbble|behance|steam|signal|teams|orcid(?: id)?|x)"
            r"(?:[ \t]*\([^)\n]{1,20}\))?[ \t]*(?:[:=|]|[-–](?=[ \t]))[ \t]*)(?P<value>@?(?:live:)?[\w.-]{3,40})"
        ),
        # An app's own screen text: "Signed in as jdoe_42 · Log out".
        re.compile(r"(?i:\b(?P<label>signed in as|logged in as)[ \t]+)(?P<value>@?[\w.-]{3,40})"),
    )
    # Labels that also name other things ("login: Okta", "Teams: 5 engineers", "userId: string"): the value
    # must look like a handle, with a digit, an underscore, a dot or an inner capital.
    _GENERIC_LABELS = frozenset(
        {"user name", "username", "user id", "userid", "login", "handle", "steam", "signal", "teams", "x"}
    )

    def __init__(self) -> None:
        super().__init__(supported_entities=["USERNAME"], name="UsernameRecognizer", version="1")

    def load(self) -> None:
        """Nothing to load: the rules are regular expressions."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        if "USERNAME" not in entities:
            return []
        results = []
        for pattern in self.PATTERNS:
            for match in pattern.finditer(text):
                if match[0][1:].split(".")[0] in CODE_ANNOTATIONS:
                    continue
                if "value" in pattern.groupindex and (
                    not self._is_handle(match["label"], match["value"])
                    or text.startswith(("/", ":/"), match.end("value"))
                ):
                    continue  # a word, or the host of a link ("GitHub: github.com/jdoe" is a URL)
                start, end = match.span("value") if "value" in pattern.groupindex else match.span()
                results.append(recognizer_result(self, "USERNAME", start, end, self.SCORE))
        return results

    @classmethod
    def _is_handle(cls, label: str, value: str) -> bool:
        """A label's value is a handle unless it reads as a word: "Telegram: Bot API", "login: Okta"."""
        shaped = bool(re.search(r"[\d_.@]|[a-z][A-Z]", value)) or value.startswith("live:")
        if label.lower() in cls._GENERIC_LABELS:
            return shaped
        return shaped or value == value.lower()


# The name field of a CV or form in the languages the detector cannot read (it was trained on English text):
# Chinese, Japanese, Korean, Hindi, Russian, and the European ones whose values it misses ("Nom : DUPONT").
_NAME_LABELS = (
    r"姓名|名字|氏名|名前|お名前|이름|성명|नाम|पूरा नाम|имя|фамилия|фио|ф\.\s?и\.\s?о\.|"
    r"nom|prénom|nom de famille|vorname|nachname|nombre|nombres|apellido|apellidos|nome|cognome|imię|nazwisko|"
    r"naam|voornaam|achternaam|jméno|příjmení|isim|soyad|ad soyad|adı soyadı|όνομα|επώνυμο|الاسم"
)
# English labels take a value the detector cannot read only: one in another script ("Name: 王小明").
_ENGLISH_NAME_LABELS = r"name|full name|candidate name|candidate"
_LABELED_NAME = re.compile(
    rf"(?im)(?:^|(?<=[|│]))[ \t\u3000•·*-]*(?:(?P<other>{_NAME_LABELS})|(?P<english>{_ENGLISH_NAME_LABELS}))"
    r"(?:[ \t\u3000]*[:：][ \t\u3000]*|(?<=[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])[ \t\u3000]+)"
    r"(?P<value>[^\W\d_][^\n\d@:：|,;()（）]{0,39}?)[ \t\u3000]*$"
)
_NOT_LATIN_LETTER = re.compile(r"[^\W\d_a-zA-Z\u00c0-\u024f]")


class LabeledNameRecognizer(_FormatRecognizer):
    """The value of a name field (``姓名：王小明``, ``이름: 박지훈``, ``Nom : DUPONT``, ``Name: 山田 花子``) on its
    own line: the trained detector reads English-script names in context and misses these. An English label
    counts only before a name in another script, which the detector cannot read; Latin names after it are its."""

    ENTITY = "PERSON"

    @staticmethod
    def find(text: str) -> list[tuple[int, int]]:
        return [
            match.span("value")
            for match in _LABELED_NAME.finditer(text)
            if match["other"] or _NOT_LATIN_LETTER.search(match["value"])
        ]


# A parent's, spouse's or guardian's name on an Indian resume: after a relation ("S/o", "D/O.", "W/o", "C/o",
# "Son of") or as the value of a relative's name field ("Father's Name :", "Spouse Name -"). The detector keeps
# such a name, or half of it. Lower-case "w/o" is "without"; a spelled-out relation opens its item (in prose, "a
# son of President ..." puts a title first). An honorific before the name stays, as "Dr." does before a detected
# one; the name is capitalized words or initials ending its item: "C/o 12 MG Road" (a number) and "the son of a
# farmer" (prose) hold none.
_HONORIFIC = r"(?i:shri|shree|sri|smt|shrimati|mr|mrs|ms|late|dr|sardar)\.?"
_RELATIVE_NAME = re.compile(
    r"(?:(?<![\w/])(?:[SDCsdc]/[Oo]|W/[Oo])\.?(?:[ \t]*[:-])?"
    r"|(?m:^|(?<=[,|:;]))[ \t•·*-]*(?i:son|daughter|wife|husband)[ \t]+(?i:of)\b"
    r"|(?im:^[ \t•·*-]*(?:father|mother|husband|wife|spouse|guardian)(?:['’]?s)?[ \t]+name)"
    r"(?:[ \t]*[:：–—-]|\t)"
    # "Father : Farmer" is an occupation: without "Name", only an honorific makes the value a name.
    rf"|(?im:^[ \t•·*-]*(?:father|mother|husband|wife|spouse|guardian)[ \t]*[:：–—-](?=[ \t]*{_HONORIFIC}[ \t])))"
    rf"[ \t]*(?:{_HONORIFIC}[ \t]+){{0,2}}"
    r"(?P<value>[A-Z][\w'’-]{0,30}+\.?(?:[ \t]+[A-Z][\w'’-]{0,30}+\.?){0,5})"
    r"(?=[ \t]*(?:[,;|()\[\]\n]|$)|[ \t]+[-–—][ \t])"
)


class RelativeNameRecognizer(_FormatRecognizer):
    """A relative's name after a relation or in a relative's name field of an Indian resume (``S/o Shri <name>``,
    ``Father's Name : <name>``), unless it names a street or locality (a care-of line holding an address)."""

    ENTITY = "PERSON"

    @staticmethod
    def find(text: str) -> list[tuple[int, int]]:
        return [m.span("value") for m in _RELATIVE_NAME.finditer(text) if not names_indian_locality(m["value"])]


# Speakers of a support or interview transcript named in brackets: "Agent (Sofia): …", "[10:02] Recruiter (Ana
# Lima): …". The detector reads the bracket as an organisation's.
_BRACKETED_SPEAKER = re.compile(
    r"(?im)^[ \t]*(?:\[[\d:. apm]{3,12}\][ \t]*)?(?:agent|support|recruiter|interviewer|interviewee|coach|advisor|"
    r"adviser|rep|representative|host|candidate|mentor|hr|assistant|customer|client|caller|operator|moderator)"
    r"[ \t]*\((?P<value>[^\W\d_][\w'’.-]*(?:[ \t]+[^\W\d_][\w'’.-]*){0,3})\)[ \t]*:"
)
# Authors in a reference list: "Virtanen, A., Haugland, I. S. and Mehta, R. (2021)": a surname and its initials,
# on a line that dates the work in brackets.
_DATED_REFERENCE = re.compile(r"\((?:19|20)\d\d[a-z]?\)")
_AUTHOR = re.compile(
    r"(?<![\w'’-])[^\W\d_][\w'’-]+(?:[ -][^\W\d_][\w'’-]+)?,[ \t]+(?:[^\W\d_]\.(?:[ \t]?-?[^\W\d_]\.)*)"
    r"(?=[ \t]*(?:,|&|and\b|\(|$))"
)


class TranscriptAndReferenceNameRecognizer(_FormatRecognizer):
    """Names in two layouts the detector misses: a transcript's bracketed speaker (``Agent (Sofia):``) and an
    author in a dated reference list (``Okafor, C., Lindqvist, P. and Mehta, R. (2022)``)."""

    ENTITY = "PERSON"

    @staticmethod
    def find(text: str) -> list[tuple[int, int]]:
        spans = [m.span("value") for m in _BRACKETED_SPEAKER.finditer(text)]
        for line in re.finditer(r"[^\n]+", text):
            if _DATED_REFERENCE.search(line.group()):
                spans += [(line.start() + m.start(), line.start() + m.end()) for m in _AUTHOR.finditer(line.group())]
        return spans


# A first name addressed after a greeting or a thanks ("Welcome back, Amaka!", "thanks Oskar.", "Hi Priya,"): the
# detector misses a lone first name in a short sentence. Words that follow a greeting without being a name are
# not taken.
_GREETING_NAME = re.compile(
    r"(?<![\w@#])(?i:hi|hello|hey|heya|hiya|dear|thanks|thank you|thx|ty|welcome back|welcome|bye|goodbye|"
    r"congrats|congratulations|good morning|good night|good luck|cheers|happy birthday|love you|miss you)"
    r"[ \t]*,?[ \t]+(?P<value>[A-Z][a-z]{1,20}(?:[ \t]+[A-Z][a-z]{1,20})?)(?=[ \t]*(?:[,!.?:;)]|\n|$))"
)
_NOT_ADDRESSED_NAMES = frozenset(
    """
    Mr Mrs Ms Mx Miss Dr Sir Madam Madame Sirs Team All Everyone Everybody Guys Folks Friends Friend Fam Family Mom
    Mum Dad Mama Papa Bro Sis Babe Baby Buddy Mate Boss Dude Man Girl Girls Boys Ladies Gentlemen Hiring Manager
    Recruiter Recruiters There World Sister Brother Coach Doc Doctor Professor Prof Teacher God Jesus Lord Santa
    Again So Much Lot Anyway You Me Him Her Them Us Bestie Fans Followers Twitter Instagram Facebook Google Monday
    Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August September
    October November December Summer Winter Spring Autumn Fall Tomorrow Today Yesterday Morning Night Evening
    Afternoon Back Home Aboard
    """.split()
)


class AddressedNameRecognizer(_FormatRecognizer):
    """A name addressed after a greeting or a thanks: "Welcome back, Amaka!", "Hi Priya," "thanks Oskar."."""

    ENTITY = "PERSON"

    @staticmethod
    def find(text: str) -> list[tuple[int, int]]:
        return [
            m.span("value")
            for m in _GREETING_NAME.finditer(text)
            if not any(word in _NOT_ADDRESSED_NAMES for word in m["value"].split())
        ]


# A name after a title ("Mrs. Boakye", "Dr Ama Asantewaa", "Prof. J. Nkosi", "Er. Ravi Menon"): the detector misses
# some, mostly surnames it has never seen. The title stays, as before a detected name. "Ms" needs its dot
# ("Ms Excel" is Microsoft's), and so do the Indian professional titles ("Er.", "Adv.").
_NAME_PART = r"[A-ZÀ-ÖØ-Þ][^\W\d_]{1,30}(?:[-'’][^\W\d_]{2,30})?"
_TITLED_NAME = re.compile(
    r"(?<![\w.])(?:(?:Mr|Mrs|Mx|Dr|Prof|Shri|Smt)\.?|Miss|(?:Ms|Er|Engr|Adv)\.)[ \t]+"
    r"(?!(?:Office|Excel|Word|PowerPoint|Outlook|Access|Project|Teams|Visio|Paint|Dynamics|SQL)\b)"
    rf"(?P<value>(?:[A-Z]\.[ \t]*){{0,2}}{_NAME_PART}(?:[ \t]+{_NAME_PART}){{0,2}})(?![^\W\d_])"
)

_NOT_IN_A_TITLED_NAME = frozenset("Suite Apt Apartment Unit Flat Floor Room Street Road Avenue Lane".split())


class TitledNameRecognizer(_FormatRecognizer):
    """A name after a title: "Mrs. Boakye", "Dr Ama Asantewaa", "Prof. J. Nkosi"."""

    ENTITY = "PERSON"

    @staticmethod
    def find(text: str) -> list[tuple[int, int]]:
        spans = []
        for match in _TITLED_NAME.finditer(text):
            # The name ends before a word that is none ("Dr. Boakye Today", "Miss You", "Mrs. Boakye Suite 4").
            end = match.start("value")
            for word in re.finditer(r"\S+", match["value"]):
                if word.group() in _NOT_ADDRESSED_NAMES or word.group() in _NOT_IN_A_TITLED_NAME:
                    break
                end = match.start("value") + word.end()
            if end > match.start("value"):
                spans.append((match.start("value"), end))
        return spans
