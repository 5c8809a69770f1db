"""Custom Presidio recognizers for what stock Presidio misses in resumes, cover letters and job posts.

Built from how these documents are laid out (a name alone on the first line,
``Name:`` labels, salutations, sign-offs, reference lists, recruiter contacts),
not from any evaluation template.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneMetadata
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from analytics_pipeline.privacy.formats import card_spans, cued_phone_spans, extend_address, international_address_spans
from analytics_pipeline.privacy.span_cache import BoundedCache, content_key

# Words that NER models mistake for names (or places) in technical text; never a PERSON on their own.
TECH_ALLOW_LIST = frozenset(
    word.lower()
    for word in (
        # languages
        "Python",
        "Go",
        "Golang",
        "Rust",
        "Java",
        "JavaScript",
        "TypeScript",
        "Scala",
        "Kotlin",
        "Swift",
        "Ruby",
        "Perl",
        "PHP",
        "Elixir",
        "Erlang",
        "Haskell",
        "Clojure",
        "Julia",
        "Dart",
        "Lua",
        "R",
        "MATLAB",
        "Fortran",
        "COBOL",
        "Groovy",
        "Solidity",
        "Bash",
        "SQL",
        "C",
        "C++",
        "C#",
        "F#",
        "OCaml",
        # frameworks and libraries
        "Spark",
        "PySpark",
        "Flask",
        "Django",
        "FastAPI",
        "Pandas",
        "NumPy",
        "SciPy",
        "Polars",
        "PyTorch",
        "TensorFlow",
        "Keras",
        "JAX",
        "React",
        "Angular",
        "Vue",
        "Vue.js",
        "Svelte",
        "Node",
        "Node.js",
        "Next.js",
        "Express",
        "Rails",
        "Laravel",
        "Spring",
        "Hibernate",
        "Celery",
        "Dask",
        "Ray",
        "Streamlit",
        "Flutter",
        "Ionic",
        "Electron",
        "jQuery",
        "Bootstrap",
        "Tailwind",
        "Redux",
        "GraphQL",
        "gRPC",
        "Hugging Face",
        "LangChain",
        "OpenCV",
        "Matplotlib",
        "Seaborn",
        "Plotly",
        "XGBoost",
        "LightGBM",
        # data and infrastructure
        "Kafka",
        "Airflow",
        "Dagster",
        "Prefect",
        "Luigi",
        "dbt",
        "Snowflake",
        "Databricks",
        "BigQuery",
        "Redshift",
        "Hadoop",
        "Hive",
        "Presto",
        "Trino",
        "Flink",
        "Beam",
        "Kubernetes",
        "Docker",
        "Helm",
        "Terraform",
        "Ansible",
        "Puppet",
        "Chef",
        "Jenkins",
        "CircleCI",
        "Travis",
        "Nomad",
        "Consul",
        "Vault",
        "PostgreSQL",
        "Postgres",
        "MySQL",
        "MariaDB",
        "SQLite",
        "MongoDB",
        "Cassandra",
        "Redis",
        "Memcached",
        "DynamoDB",
        "Elasticsearch",
        "Kibana",
        "Logstash",
        "Grafana",
        "Prometheus",
        "Datadog",
        "Splunk",
        "Nginx",
        "Apache",
        "Linux",
        "Ubuntu",
        "Debian",
        "Windows",
        "macOS",
        "Unix",
        "Git",
        "GitHub",
        "GitLab",
        "Bitbucket",
        "Heroku",
        "Vercel",
        "Netlify",
        "AWS",
        "Azure",
        "GCP",
        "Lambda",
        "EC2",
        "S3",
        "DuckDB",
        "Tableau",
        "Looker",
        "Power BI",
        "Excel",
        "Jira",
        "Confluence",
        "Figma",
        "Sketch",
        "Notion",
        "Slack",
        "Salesforce",
        "SAP",
        "Oracle",
        "Unity",
        "Unreal",
        "Blender",
        "Maya",
        "Photoshop",
        "Illustrator",
    )
)
# Capitalized words that head or end a name-shaped phrase but are roles, sections or salutations.
NOT_NAME_WORDS = frozenset(
    word.lower()
    for word in (
        "Hiring",
        "Manager",
        "Team",
        "Recruiter",
        "Recruiting",
        "Recruitment",
        "Talent",
        "Technical",
        "Human",
        "Resources",
        "HR",
        "People",
        "Department",
        "Committee",
        "Sir",
        "Madam",
        "Sirs",
        "All",
        "Senior",
        "Junior",
        "Lead",
        "Head",
        "Principal",
        "Staff",
        "Chief",
        "Director",
        "VP",
        "President",
        "Officer",
        "Engineer",
        "Engineering",
        "Developer",
        "Designer",
        "Analyst",
        "Scientist",
        "Architect",
        "Consultant",
        "Specialist",
        "Coordinator",
        "Administrator",
        "Intern",
        "Product",
        "Project",
        "Program",
        "Data",
        "Software",
        "Sales",
        "Marketing",
        "Operations",
        "Support",
        "Customer",
        "Partner",
        "Member",
        "Board",
        "Admissions",
        "Selection",
        "Search",
        "Company",
        "Inc",
        "LLC",
        "Ltd",
        "Corp",
        "Summary",
        "Experience",
        "Education",
        "Skills",
        "Profile",
        "Objective",
        "Resume",
        "Résumé",
        "Curriculum",
        "Vitae",
        "CV",
        "Cover",
        "Letter",
        "Contact",
        "References",
        "Reference",
        "Projects",
        "Certifications",
        "Key",
        "Professional",
        "Work",
        "History",
        "Core",
        "Competencies",
        "Languages",
        "Awards",
        "Interests",
        "Publications",
        "Tailored",
        "Highlights",
        "Requirements",
        "Responsibilities",
        "Qualifications",
        "Benefits",
        "About",
        "Us",
        "Role",
        "Position",
        "Job",
        "Description",
        "Apply",
        "Application",
        "Dear",
        "Hello",
        "Hi",
        "Thanks",
        "Thank",
        "You",
        "Regards",
        "Best",
        "Sincerely",
        "The",
        "Our",
        "Your",
        "My",
        "Email",
        "Phone",
        "Mobile",
        "Address",
        "Website",
        "Portfolio",
        "LinkedIn",
        "Name",
        "Remote",
        "Hybrid",
        "Full",
        "Time",
        "Part",
        "Contract",
        "Present",
        "Current",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Prof",
        "Home",
        "Tel",
        "Cell",
        "Web",
        "Scrum",
        "Master",
        "Frontend",
        "Backend",
        "Fullstack",
        "DevOps",
        "Writer",
        "Reliability",
        "Site",
        "Security",
        "QA",
        "Machine",
        "Learning",
        "UX",
        "UI",
        "Solutions",
        "Quality",
        "Cloud",
        "Platform",
        "Infrastructure",
        "Network",
        "Systems",
        "Database",
        "Mobile",
        "Research",
        "Researcher",
        "Associate",
        "Assistant",
        "Executive",
        "Owner",
        "Founder",
        "Advisor",
    )
)
NAME_PARTICLES = frozenset(
    (
        "de",
        "del",
        "della",
        "der",
        "den",
        "van",
        "von",
        "da",
        "das",
        "dos",
        "do",
        "di",
        "du",
        "la",
        "le",
        "bin",
        "binti",
        "ibn",
        "al",
        "el",
        "ter",
        "ten",
        "y",
        "e",
    )
)
# One word of a name: letters with inner hyphens/apostrophes (O'Brien, Al-Sayed, Min-jun), or an initial.
_NAME_WORD = r"[^\W\d_]+(?:['’\-][^\W\d_]+)*\.?"
_NAME_RUN = rf"{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,5}}"
_HONORIFIC = r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof)\.?[ \t]+"
_SIGN_OFFS = (
    r"sincerely|best regards|kind regards|warm regards|warmest regards|regards|best wishes|best|thanks|"
    r"thank you|many thanks|cheers|respectfully|yours truly|yours sincerely|yours faithfully|"
    r"with appreciation|with gratitude|all the best|cordially"
)
_LABELS = (
    r"name|full name|candidate|applicant|contact|contact person|reference|referee|recruiter|"
    r"hiring manager|manager|supervisor|prepared by|submitted by|attn|attention"
)
_CUES = (
    r"reach out to|contact|call|email|e-mail|ask for|reports? to|reporting to|managed by|mentored by|"
    r"supervised by|recommended by|referred by|hiring manager|recruiter|talent partner|"
    r"my (?:former |current |previous )?(?:manager|supervisor|mentor|colleague|team lead|lead)|"
    # self-introductions, dialogue and family, as people write in chats and letters
    r"my name is|my name's|i am|i'm|this is|call me|named|called|said|says|asked|told|replied|shouted at|"
    r"yelled at|according to|thanks to|married|son of|daughter of|"
    r"my (?:kid|son|daughter|wife|husband|partner|friend|brother|sister|mother|father|mom|dad|boss)"
)
# Each cue pattern captures a name-shaped run in group "name"; the run is trimmed to real name words.
_NAME_CONTEXTS = (
    ("label", re.compile(rf"(?im)^[ \t]*(?:{_LABELS})[ \t]*[:\-–—][ \t]*(?:{_HONORIFIC})?(?P<name>{_NAME_RUN})")),
    ("salutation", re.compile(rf"(?i)\b(?:dear|hi|hello|greetings)[ \t]+(?:{_HONORIFIC})?(?P<name>{_NAME_RUN})")),
    ("honorific", re.compile(rf"\b{_HONORIFIC}(?P<name>{_NAME_RUN})")),
    ("sign_off", re.compile(rf"(?im)^[ \t]*(?:{_SIGN_OFFS})[ \t]*[,.!]?[ \t]*\r?\n[ \t]*(?P<name>{_NAME_RUN})")),
    ("cue", re.compile(rf"(?i)\b(?:{_CUES}),?[ \t]+(?:{_HONORIFIC})?(?P<name>{_NAME_RUN})")),
)
_REFERENCES_SECTION = re.compile(r"(?im)^[ \t]*(?:references|referees|professional references)[ \t]*:?[ \t]*\r?\n")
_LINE_START_NAME = re.compile(rf"(?m)^[ \t]*(?P<name>{_NAME_RUN})[ \t]*(?:,|\||–|—|-|\(|$)")
_HEADER_SEPARATORS = re.compile(r"[|•·,]|\s[–—-]\s")


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


def _is_name_word(word: str) -> bool:
    bare = word.rstrip(".")
    if len(bare) == 1:  # a middle initial, even "C." or "R."
        return bare.isupper() and bare.isalpha()
    return (
        bool(bare) and bare[0].isupper() and bare.lower() not in NOT_NAME_WORDS and bare.lower() not in TECH_ALLOW_LIST
    )


def name_extent(text: str, start: int, end: int, min_words: int = 1) -> tuple[int, int] | None:
    """The longest run of name words at the start of text[start:end] (particles inside allowed), or None."""
    words = list(re.finditer(r"\S+", text[start:end]))
    kept = []
    for match in words:
        word = match.group()
        if _is_name_word(word):
            kept.append(match)
        elif word.lower() in NAME_PARTICLES and kept:
            kept.append(match)
        else:
            break
    while kept and not _is_name_word(kept[-1].group()):
        kept.pop()
    if len(kept) < min_words:
        return None
    return start + kept[0].start(), start + kept[-1].end()


class ContextualNameRecognizer(EntityRecognizer):
    """Names that resume-like documents put in predictable places, whatever their culture or case.

    The statistical NER misses ALL-CAPS headers and many non-English names; these
    positions (first line, ``Name:``, ``Dear …``, sign-offs, reference lists,
    recruiter contacts) identify a name without knowing it.
    """

    # Above spaCy's 0.85: Presidio drops a PERSON span contained in a higher-or-equal-scored one,
    # and an NER span running past the name must not swallow the exact one found here.
    SCORE = 0.9

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name="ContextualNameRecognizer", version="1")

    def load(self) -> None:
        """Nothing to load: the rules are regular expressions."""

    def _result(self, start: int, end: int, rule: str) -> RecognizerResult:
        return recognizer_result(self, "PERSON", start, end, self.SCORE, rule=rule)

    def _header(self, text: str) -> list[tuple[int, int]]:
        first_line = re.search(r"\S[^\n]*", text)
        if not first_line:
            return []
        separator = _HEADER_SEPARATORS.search(first_line.group())
        segment_end = first_line.start() + (separator.start() if separator else len(first_line.group()))
        extent = name_extent(text, first_line.start(), segment_end, min_words=2)
        # The whole first segment must be the name: "Adobe is hiring ..." is not a header.
        if extent and not text[extent[1] : segment_end].strip():
            return [extent]
        return []

    def _references(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for heading in _REFERENCES_SECTION.finditer(text):
            section = text[heading.end() :]
            section_end = heading.end() + (re.search(r"\n[ \t]*\n|\Z", section).start())
            for line in _LINE_START_NAME.finditer(text, heading.end(), section_end):
                extent = name_extent(text, line.start("name"), line.end("name"), min_words=2)
                if extent:
                    spans.append(extent)
        return spans

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        results = [self._result(s, e, "header") for s, e in self._header(text)]
        results += [self._result(s, e, "references") for s, e in self._references(text)]
        for rule, pattern in _NAME_CONTEXTS:
            for match in pattern.finditer(text):
                extent = name_extent(text, match.start("name"), match.end("name"))
                if extent:
                    results.append(self._result(*extent, rule))
        return results


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
_UNIT = r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Room|Rm\.?|Floor|Fl\.?|Bldg\.?|Building|#)\s*#?[A-Za-z0-9-]+)?"


class StreetAddressRecognizer(PatternRecognizer):
    """Street addresses: US style (number + street + suffix, optional unit), PO boxes, and the international
    formats of ``formats.INTERNATIONAL_STREET_PATTERNS`` (street name first, number-street-number, units,
    military addresses), each widened to its whole block (``formats.extend_address``).

    Presidio ships no street-address recognizer; spaCy tags at most the city.
    """

    INTERNATIONAL_SCORE = 0.6

    PATTERNS = [
        Pattern(
            "street_address",
            rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[NSEW]{{1,2}}\.?\s+)?(?:[A-Z0-9][\w'.-]*\s+){{1,4}}"
            rf"(?:(?:{_STREET_SUFFIXES})\b|(?:{_STREET_SUFFIX_ABBREVIATIONS})\b\.?)(?!\s+Fargo)(?:\s+[NSEW]{{1,2}}\b)?{_UNIT}",
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
            version="3",
        )

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        results = [
            recognizer_result(self, "STREET_ADDRESS", *extend_address(text, r.start, r.end), r.score)
            for r in super().analyze(text, entities, nlp_artifacts, regex_flags)
        ]
        if "STREET_ADDRESS" in entities:
            results += [
                recognizer_result(self, "STREET_ADDRESS", start, end, self.INTERNATIONAL_SCORE)
                for start, end in international_address_spans(text)
            ]
        return results


class _FormatRecognizer(EntityRecognizer):
    """One entity type found by a plain function of ``formats.py`` (shared with the residual-PII gate)."""

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
    country code or the North American shape; ``785 8949`` after ``cell:`` is a phone anywhere.
    """

    ENTITY, SCORE = "PHONE_NUMBER", 0.6
    find = staticmethod(cued_phone_spans)


class CardNumberRecognizer(_FormatRecognizer):
    """Luhn-valid card numbers of every major issuer range and length (12-19 digits, ``formats.is_card_number``).

    Presidio's pattern misses 19-digit Visa, Maestro, 2-series Mastercard and 15-digit JCB.
    """

    ENTITY, SCORE = "CREDIT_CARD", 0.8
    find = staticmethod(card_spans)


@cache
def first_names() -> frozenset[str]:
    """Lower-cased first names of the 1990 US Census lists (see ``data/PROVENANCE.md``), minus tech and role words."""
    path = Path(__file__).parent / "data" / "first_names.txt"
    names = path.read_text(encoding="utf-8").split()
    return frozenset(n for n in names if n not in TECH_ALLOW_LIST and n not in NOT_NAME_WORDS)


# Employers named after people: list hits inside them are the company, not a person.
PERSON_NAMED_EMPLOYERS = re.compile(
    r"\b(?:Goldman Sachs|Morgan Stanley|J\.? ?P\.? Morgan|JPMorgan|Johnson (?:&|and) Johnson|Johnson Controls|"
    r"Wells Fargo|Charles Schwab|Edward Jones|Raymond James|Ernst (?:&|and) Young|Procter (?:&|and) Gamble|"
    r"Marks (?:&|and) Spencer|Merrill Lynch|Lehman Brothers|Booz Allen(?: Hamilton)?|Arthur Andersen|Dow Jones|"
    r"Hewlett[- ]Packard|Bristol[- ]Myers Squibb|Eli Lilly|Thomson Reuters|Walt Disney|Ralph Lauren|Calvin Klein|"
    r"Tommy Hilfiger|Estée Lauder|Baker McKenzie|Allen (?:&|and) Overy|Robert Half|Kelly Services|Harley[- ]Davidson|"
    r"Sherwin[- ]Williams|Lockheed Martin|Northrop Grumman|Warner Bros|Berkshire Hathaway|Ben (?:&|and) Jerry's|"
    r"Dolce (?:&|and) Gabbana|Louis Vuitton|Christian Dior|Hugo Boss|Ruth's Chris|Wendy's|McDonald's|Martin Marietta)\b"
)
_TITLE_WORD = r"[A-ZÀ-ÖØ-Þ\u0100-\u024f][^\W\d_]*(?:['’\-][^\W\d_]+)*"
_LIST_NAME = re.compile(rf"(?<![\w@./#-]){_TITLE_WORD}(?:[ \t]+(?:[A-Z]\.?|{_TITLE_WORD})){{0,3}}(?![\w@-])")
# A lower-case name right after a strong cue ("pls change the name at the top to anika sharma").
_LOWER_CASE_INTRO = re.compile(
    r"(?i:\b(?:my name is|my name's|named|name to|change it to|"
    r"change (?:the |my )?name (?:at the top |on top |in the header )?to)[ \t]+)"
    r"(?P<name>[a-zà-ÿ\u0100-\u024f][^\W\d_]+(?:-[^\W\d_]+)?(?:[ \t]+[a-zà-ÿ\u0100-\u024f][^\W\d_]+(?:-[^\W\d_]+)?)?)"
)


class NameListRecognizer(EntityRecognizer):
    """Capitalized words that open with a census first name ("Megan", "Charlotte Mathiassen", "Nikolaj N Møller"),
    and lower-case names right after a strong self-introduction cue.

    Hits are not propagated to other occurrences (``no_propagation``) and skip employers named
    after people (``PERSON_NAMED_EMPLOYERS``); the scrubber's employer checks apply to them as to NER guesses.
    """

    SCORE = 0.6

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name="NameListRecognizer", version="1")

    def load(self) -> None:
        """The list loads on first use (cached for the process)."""

    def _result(self, start: int, end: int, rule: str) -> RecognizerResult:
        return recognizer_result(self, "PERSON", start, end, self.SCORE, rule=rule, no_propagation=True)

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        names = first_names()
        employers = [m.span() for m in PERSON_NAMED_EMPLOYERS.finditer(text)]
        results = []
        for match in _LIST_NAME.finditer(text):
            words = match.group().split()
            if (
                words[0].lower() not in names
                or words[0].isupper()
                and len(words[0]) > 1
                and not match.group().isupper()
            ):
                continue
            if any(s < match.end() and match.start() < e for s, e in employers):
                continue
            extent = name_extent(text, match.start(), match.end())
            if extent:
                results.append(self._result(*extent, "first_name_list"))
        results += [self._result(*m.span("name"), "lower_case_intro") for m in _LOWER_CASE_INTRO.finditer(text)]
        return results


def english_lemmas(nlp) -> frozenset[str]:
    """Every lemma of WordNet's index (nouns, verbs, adjectives, adverbs) as the model's lemmatizer ships it."""
    if "lemmatizer" not in nlp.component_names:
        return frozenset()
    index = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index", {})
    return frozenset(word for pos in ("noun", "verb", "adj", "adv") for word in index.get(pos, ()))


_CAPITALIZED = r"[A-ZÀ-ÖØ-Þ\u0100-\u024f][^\W\d_]+(?:['’\-][^\W\d_]+)*"
# Family-name endings shared by millions of people (Nordic patronymics and -sen/-ström, Slavic -ov/-ova/-enko/-ović,
# Polish -ski, Greek -poulos, Romanian -escu, Georgian -shvili, Finnish -nen): a capitalized word ending so,
# and not an English word, is a surname far more often than anything else.
_SURNAME_ENDINGS = (
    r"sson|dóttir|dottir|poulos|opoulou|enko|ović|ovic|ević|evic|escu|shvili|ová|ovna|ovich|evich|"
    r"ovsky|evsky|owski|ewski|owska|ewska|ov|ova|ev|eva|yev|yeva|sen|nen|ström|strom|qvist|kvist"
)
_SURNAME = re.compile(
    rf"(?<![\w@./#-])(?:(?P<given>{_CAPITALIZED})[ \t]+(?:[A-Z]\.?[ \t]+)?)?"
    rf"(?P<surname>{_CAPITALIZED}(?:{_SURNAME_ENDINGS}))(?![\w@-])"
)
_MIN_SURNAME_LETTERS = 6
# The answer to a question about a name, or the value after "name is": "her maiden name is nyberg",
# "Last name: Arcuri", "What's your last name? Arcuri", "User: Maja S Hermansen".
_NAME_ANSWER = re.compile(
    r"(?i:\b(?:first|last|maiden|middle|full|family|given|birth|nick)?[ -]?name(?:'s| is| was|:)"
    r"|\bname\?[ \t]*(?:\n[ \t]*)?(?:[^\W\d_]+:[ \t]*)?)"
    r"[ \t]*(?P<name>[^\W\d_][^\W\d_'’\-]*(?:[ \t]+(?:[^\W\d_][^\W\d_'’\-]*|[^\W\d_]\.?)){0,2})"
)
# Names of things, not people: "Company name: Acme", "file name is".
_THING_BEFORE_NAME = re.compile(
    r"(?i)\b(?:company|business|brand|product|project|file|field|column|table|package|variable|host|domain|user|"
    r"team|event|band|app|street|account|display|screen|code|model|store|shop|school)[ \t-]*$"
)
# Dialogue: speakers labelling their lines ("Ubul: What a wife."), when two or more speakers do.
_SPEAKER = re.compile(r"(?m)^[ \t>]*(?P<name>[^\W\d_][^\W\d_'’\-]{2,})[ \t]*:[ \t]*[\"“']?[^\W\d_]")
_FUNCTION_WORDS = frozenset(
    "a an the this that it its my your his her our their is was be not no yes and or but of to in on at for "
    "with from by as so if then than too very also just only".split()
)


class NameShapeRecognizer(EntityRecognizer):
    """Names no list holds, found by their shape or their place: surname endings common to whole languages,
    the answer after "name is" or a question about a name, and dialogue speakers' labels.

    English words (WordNet's index, from the model's lemmatizer tables) are never taken: "Lesson",
    "Tools:" and "name is required" stay. Hits are not propagated to other occurrences.
    """

    SCORE = 0.6

    def __init__(self, english_words: frozenset[str]) -> None:
        self._english = english_words
        super().__init__(supported_entities=["PERSON"], name="NameShapeRecognizer", version="1")

    def load(self) -> None:
        """Nothing to load: the word index comes from the scrubber's model."""

    def _result(self, start: int, end: int, rule: str) -> RecognizerResult:
        return recognizer_result(self, "PERSON", start, end, self.SCORE, rule=rule, no_propagation=True)

    def _is_word(self, word: str) -> bool:
        # Any English word, or one ending in an English word of 5+ letters ("Betterlesson" is not "-sson").
        lower = word.lower()
        forms = (lower, lower.removesuffix("s"), lower.removesuffix("es"), lower[:-3] + "y")
        return any(form in self._english for form in forms) or any(
            lower[i:] in self._english for i in range(1, len(lower) - 4)
        )

    def _not_a_name(self, word: str) -> bool:
        lower = word.lower()
        return lower in NOT_NAME_WORDS or lower in TECH_ALLOW_LIST or lower in NAME_PARTICLES or self._is_word(word)

    def _surnames(self, text: str) -> list[RecognizerResult]:
        results = []
        for match in _SURNAME.finditer(text):
            surname = match.group("surname")
            if len(surname) < _MIN_SURNAME_LETTERS or self._not_a_name(surname):
                continue
            given = match.group("given")
            start = match.start("surname") if given and self._not_a_name(given) else match.start()
            results.append(self._result(start, match.end(), "surname_ending"))
        return results

    def _answers(self, text: str) -> list[RecognizerResult]:
        results = []
        for match in _NAME_ANSWER.finditer(text):
            if _THING_BEFORE_NAME.search(text, max(0, match.start() - 20), match.start()):
                continue
            kept = []
            for word in re.finditer(r"\S+", match.group("name")):
                value = word.group().rstrip(".")
                if value.lower() in _FUNCTION_WORDS or (len(value) > 1 and self._not_a_name(value) and value.islower()):
                    break
                if len(value) > 1 and value.lower() in NOT_NAME_WORDS | TECH_ALLOW_LIST:
                    break
                kept.append(word)
            if kept:
                base = match.start("name")
                results.append(self._result(base + kept[0].start(), base + kept[-1].end(), "name_answer"))
        return results

    def _speakers(self, text: str) -> list[RecognizerResult]:
        labels = list(_SPEAKER.finditer(text))
        if len({m.group("name").lower() for m in labels}) < 2:
            return []
        return [self._result(*m.span("name"), "speaker") for m in labels if not self._not_a_name(m.group("name"))]

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        return self._surnames(text) + self._answers(text) + self._speakers(text)
