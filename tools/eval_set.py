"""Generator of the committed, labeled PII evaluation set (synthetic, seeded, reproducible).

Every document is built piece by piece, so each personal value (PII) and each
word that must survive scrubbing (skills, tools, job titles, employers) is
labeled with its exact character offsets. The templates and word lists here are
deliberately separate from the sample-data generator (``sample_data.py``) so the
scrubber is never measured on the text it was demoed on.

Regenerate with ``python -m tools.eval_set`` (writes
``eval_data/labeled_docs.jsonl``); the output is byte-identical for a given seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from tools.labeled_text import DocBuilder

EVAL_SET_PATH = Path(__file__).parent / "eval_data" / "labeled_docs.jsonl"
DEFAULT_SEED = 20260327
DEFAULT_DOCS_PER_KIND = 70

# Names from many cultures, including particles, hyphens, apostrophes and diacritics.
FIRST_NAMES = (
    "Emily",
    "Marcus",
    "Priya",
    "Venkatesh",
    "Wei",
    "Xiaoming",
    "Fatima",
    "Omar",
    "Chinedu",
    "Amara",
    "Kwame",
    "Thandiwe",
    "Haruto",
    "Yui",
    "Min-jun",
    "Ji-woo",
    "Thi Lan",
    "Łukasz",
    "Agnieszka",
    "Dmitri",
    "Svetlana",
    "Ayşe",
    "Mehmet",
    "Nikos",
    "Eleni",
    "Siobhán",
    "Ciarán",
    "Astrid",
    "Björn",
    "João",
    "Inês",
    "Noa",
    "Yosef",
    "Dariush",
    "Shirin",
    "Maricel",
    "Rodrigo",
    "Guadalupe",
    "José",
    "Zoë",
    "Kenji",
    "Aiko",
    "Olusegun",
    "Ngozi",
    "Rahul",
    "Ananya",
    "Hamza",
    "Layla",
    "Mateo",
    "Valentina",
    "Tomasz",
    "Ingrid",
    "Kofi",
    "Abena",
    "Tariq",
    "Soo-ah",
    "Bogdan",
    "Oksana",
    "Declan",
    "Mei",
    "Arjun",
    "Lucía",
    "Pieter",
    "Anneke",
    "Tiago",
    "Beatriz",
)
LAST_NAMES = (
    "Hartley",
    "Okafor",
    "Raghunathan",
    "Subramanian",
    "Zhang",
    "Li",
    "Al-Sayed",
    "Haddad",
    "Nwosu",
    "Mensah",
    "Dlamini",
    "Sato",
    "Takahashi",
    "Park",
    "Kim",
    "Nguyen",
    "Kowalczyk",
    "Wiśniewska",
    "Volkov",
    "Ivanova",
    "Yılmaz",
    "Demir",
    "Papadopoulos",
    "Georgiou",
    "O'Brien",
    "Mac Giolla",
    "Lindqvist",
    "Åkesson",
    "Pereira",
    "Gonçalves",
    "Levi",
    "Mizrahi",
    "Farahani",
    "Tehrani",
    "Dela Cruz",
    "Bautista",
    "Hernández",
    "de la Fuente",
    "van der Berg",
    "Müller",
    "Nakamura",
    "Adeyemi",
    "Eze",
    "Sharma",
    "Iyer",
    "Qureshi",
    "Mansour",
    "Gutiérrez",
    "Rossi",
    "Nowak",
    "Johansson",
    "Boateng",
    "Asante",
    "Rahman",
    "Choi",
    "Kovalenko",
    "Shevchenko",
    "Fitzgerald",
    "Chen",
    "Mehta",
    "Ortega",
    "Jansen",
    "Visser",
    "Carvalho",
    "Nguyen-Tran",
    "D'Souza",
)
MIDDLE_INITIALS = "ABCDEFGHJKLMNPRSTW"
HONORIFICS = ("Mr.", "Ms.", "Dr.", "Mrs.")

JOB_TITLES = (
    "Software Engineer",
    "Senior Data Scientist",
    "Machine Learning Engineer",
    "Product Manager",
    "DevOps Engineer",
    "Site Reliability Engineer",
    "Data Analyst",
    "Engineering Manager",
    "Frontend Developer",
    "Backend Developer",
    "QA Engineer",
    "Technical Writer",
    "UX Designer",
    "Solutions Architect",
    "Data Engineer",
    "Security Analyst",
    "Staff Engineer",
    "Scrum Master",
)
EMPLOYERS = (
    "Stripe",
    "Shopify",
    "Goldman Sachs",
    "Morgan Stanley",
    "Wells Fargo",
    "Deloitte",
    "Accenture",
    "Johnson & Johnson",
    "Procter & Gamble",
    "Capital One",
    "Salesforce",
    "Adobe",
    "Spotify",
    "Airbnb",
    "Siemens",
    "SAP",
    "Infosys",
    "Wipro",
    "Booz Allen Hamilton",
    "Lockheed Martin",
    "Boeing",
    "Pfizer",
    "Intuit",
    "Datadog",
    "Atlassian",
    "Zalando",
    "Rakuten",
    "Mercado Libre",
    "Ernst & Young",
    "Tata Consultancy Services",
    "Cisco",
    "Oracle",
)
# Technology words that NER models often mistake for names or places.
SKILLS = (
    "Python",
    "Go",
    "Rust",
    "Java",
    "Scala",
    "Spark",
    "Flask",
    "Django",
    "Kubernetes",
    "Docker",
    "Terraform",
    "Kafka",
    "Airflow",
    "PostgreSQL",
    "MongoDB",
    "Redis",
    "React",
    "Angular",
    "TypeScript",
    "PyTorch",
    "TensorFlow",
    "Pandas",
    "Snowflake",
    "Tableau",
    "Looker",
    "Jenkins",
    "Ansible",
    "Elixir",
    "Ruby",
    "Swift",
    "Kotlin",
    "Hadoop",
    "Grafana",
    "Prometheus",
    "FastAPI",
    "GraphQL",
    "Elasticsearch",
    "Figma",
    "Jira",
    "Excel",
    "AWS",
    "Azure",
    "GCP",
    "dbt",
    "Dagster",
    "Node.js",
    "Vue.js",
    "C++",
    "Haskell",
    "Perl",
    "Clojure",
    "Heroku",
    "Vercel",
    "Celery",
)
CITIES = (
    "Austin, TX",
    "Seattle, WA",
    "Chicago, IL",
    "Denver, CO",
    "Boston, MA",
    "Atlanta, GA",
    "Portland, OR",
    "Raleigh, NC",
    "Columbus, OH",
    "Phoenix, AZ",
    "Madison, WI",
    "Pittsburgh, PA",
)
STREET_NAMES = (
    "Maple",
    "Oak",
    "Cedar",
    "Willow",
    "Lincoln",
    "Washington",
    "Highland",
    "Lakeview",
    "Sunset",
    "Chestnut",
    "Magnolia",
    "Riverside",
    "Elm",
    "Hawthorne",
    "Juniper",
    "Birch",
    "Franklin",
    "Prospect",
    "Meadowbrook",
    "Orchard",
    "Spring Valley",
    "Martin Luther King Jr",
    "Old Mill",
    "Park",
    "Hillcrest",
    "Granite",
    "Pine",
    "Bayview",
)
STREET_SUFFIXES = (
    "Street",
    "St",
    "St.",
    "Avenue",
    "Ave",
    "Ave.",
    "Road",
    "Rd",
    "Boulevard",
    "Blvd",
    "Lane",
    "Ln",
    "Drive",
    "Dr",
    "Court",
    "Ct",
    "Way",
    "Place",
    "Pl",
    "Terrace",
    "Circle",
    "Parkway",
    "Pkwy",
    "Highway",
    "Trail",
    "Square",
)
DIRECTIONS = ("N", "S", "E", "W", "N.", "NE", "SW")
UNITS = ("Apt", "Apt.", "Apartment", "Suite", "Ste", "Unit", "#")
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "fastmail.fm", "icloud.com", "hey.com")
SIGN_OFFS = (
    "Sincerely",
    "Best regards",
    "Kind regards",
    "Regards",
    "Warm regards",
    "Thank you",
    "Best",
    "Respectfully",
)
# Well-known real streets, written as each country writes them (type word before, after or fused with the name).
INTERNATIONAL_STREETS = (
    "Hauptstraße",
    "Bahnhofstr.",
    "Schillerweg",
    "Kerkstraat",
    "Stationsweg",
    "Storgatan",
    "Kirkeveien",
    "Nørregade",
    "Mannerheimintie",
    "Aleksanterinkatu",
    "rue de la Paix",
    "Avenue Victor Hugo",
    "boulevard Saint-Michel",
    "Calle Mayor",
    "Avenida de la Constitución",
    "Rua Augusta",
    "Avenida Paulista",
    "Via Garibaldi",
    "Corso Vittorio Emanuele",
    "ul. Długa",
    "ul. Marszałkowska",
    "Váci utca",
    "Andrássy út",
)
INTERNATIONAL_CITIES = (
    ("10115", "Berlin", "Germany"),
    ("1012 AB", "Amsterdam", "Netherlands"),
    ("111 22", "Stockholm", "Sweden"),
    ("0150", "Oslo", "Norway"),
    ("00100", "Helsinki", "Finland"),
    ("75002", "Paris", "France"),
    ("28013", "Madrid", "Spain"),
    ("01310-100", "São Paulo", "Brazil"),
    ("20121", "Milano", "Italy"),
    ("00-001", "Warszawa", "Poland"),
    ("1052", "Budapest", "Hungary"),
)
# Phone cues as CVs and chats write them, and national groupings without a country code.
PHONE_CUES = ("Tel.: ", "Mobile: ", "Puh. ", "Tlf: ", "cell ", "Handy: ", "Móvil: ", "whatsapp ", "call me on ")
PII_TYPES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "URL", "US_SSN", "STREET_ADDRESS", "CREDIT_CARD")
KINDS = ("resume", "tailored_resume", "job_description", "cover_letter", "no_pii", "international_cv", "chat_request")


@dataclass
class _Person:
    first: str
    last: str
    middle: str = ""

    @property
    def full(self) -> str:
        return " ".join(part for part in (self.first, self.middle, self.last) if part)


class _Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def pick(self, options):
        return self.rng.choice(options)

    def person(self) -> _Person:
        middle = f"{self.pick(MIDDLE_INITIALS)}." if self.rng.random() < 0.2 else ""
        return _Person(self.pick(FIRST_NAMES), self.pick(LAST_NAMES), middle)

    def _slug(self, person: _Person, sep: str) -> str:
        ascii_name = "".join(
            c for c in f"{person.first}{sep}{person.last}".lower() if c.isascii() and (c.isalnum() or c in sep)
        )
        return ascii_name.replace(" ", "").replace("'", "")

    def email(self, person: _Person) -> str:
        first, last = self._slug(_Person(person.first, ""), ""), self._slug(_Person("", person.last), "")
        local = self.pick(
            (f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{self.rng.randint(1, 99)}", f"{last}.{first}")
        )
        return f"{local}@{self.pick(EMAIL_DOMAINS)}"

    def phone(self) -> str:
        area, exchange, line = (
            self.pick(("555", "212", "415", "617", "312", "206", "512", "303")),
            self.rng.randint(200, 989),
            self.rng.randint(0, 9999),
        )
        ext = self.rng.randint(10, 9999)
        formats = (
            f"({area}) {exchange}-{line:04d}",
            f"{area}-{exchange}-{line:04d}",
            f"{area}.{exchange}.{line:04d}",
            f"+1 {area} {exchange} {line:04d}",
            f"{area} {exchange} {line:04d}",
            f"+1-{area}-{exchange}-{line:04d}",
            f"1-{area}-{exchange}-{line:04d}",
            f"{area}-{exchange}-{line:04d} ext. {ext}",
            f"({area}) {exchange}-{line:04d} x{ext}",
            f"+1 ({area}) {exchange}-{line:04d}",
            f"+44 20 {self.rng.randint(7000, 8999)} {self.rng.randint(1000, 9999)}",
            f"+44 7{self.rng.randint(100, 999)} {self.rng.randint(100000, 999999)}",
            f"+49 30 {self.rng.randint(1000000, 9999999)}",
            f"+91 {self.rng.randint(70000, 99999)} {self.rng.randint(10000, 99999)}",
            f"+33 1 {self.rng.randint(10, 99)} {self.rng.randint(10, 99)} {self.rng.randint(10, 99)} {self.rng.randint(10, 99)}",
            f"+61 2 {self.rng.randint(8000, 9999)} {self.rng.randint(1000, 9999)}",
            f"+81 3-{self.rng.randint(1000, 9999)}-{self.rng.randint(1000, 9999)}",
            f"+55 11 9{self.rng.randint(1000, 9999)}-{self.rng.randint(1000, 9999)}",
        )
        return self.pick(formats)

    def url(self, person: _Person) -> str:
        slug = self._slug(person, "-")
        handle = self._slug(person, "")
        return self.pick(
            (
                f"https://www.linkedin.com/in/{slug}-{self.rng.randint(100, 9999)}",
                f"linkedin.com/in/{handle}",
                f"www.linkedin.com/in/{slug}/",
                f"github.com/{handle}",
                f"https://github.com/{slug}",
                f"www.{handle}.dev",
                f"https://{handle}.io",
                f"http://portfolio.{handle}.com/projects",
                f"gitlab.com/{handle}",
                f"https://stackoverflow.com/users/{self.rng.randint(10000, 999999)}/{slug}",
                f"{handle}.github.io",
                f"https://medium.com/@{handle}",
            )
        )

    def ssn(self) -> str:
        # Structurally valid per SSA rules (area not 000/666/9xx, group and serial not zero).
        area = self.pick([a for a in range(1, 900) if a != 666])
        sep = self.pick(("-", " "))
        return f"{area:03d}{sep}{self.rng.randint(1, 99):02d}{sep}{self.rng.randint(1, 9999):04d}"

    def street_address(self) -> str:
        number = str(self.rng.randint(1, 19999)) + (self.pick(("", "", "", "A", "B")))
        if self.rng.random() < 0.12:
            return self.pick(("PO Box", "P.O. Box", "P. O. Box", "Post Office Box")) + f" {self.rng.randint(1, 9999)}"
        direction = f"{self.pick(DIRECTIONS)} " if self.rng.random() < 0.25 else ""
        street = self.pick(STREET_NAMES)
        if self.rng.random() < 0.15:
            street = self.pick(("1st", "2nd", "3rd", "5th", "12th", "42nd", "101st"))
        address = f"{number} {direction}{street} {self.pick(STREET_SUFFIXES)}"
        if self.rng.random() < 0.35:
            address += (
                f"{self.pick((', ', ' '))}{self.pick(UNITS)} {self.rng.randint(1, 999)}{self.pick(('', '', 'B', 'C'))}"
            )
        return address

    def national_phone(self) -> str:
        d = self.rng.randint
        return self.pick(
            (
                f"030 {d(1000000, 9999999)}",
                f"06 {d(10, 99)} {d(10, 99)} {d(10, 99)} {d(10, 99)}",
                f"040 {d(100, 999)} {d(1000, 9999)}",
                f"{d(20, 99)} {d(10, 99)} {d(10, 99)} {d(10, 99)}",
                f"0{d(400, 499)} {d(100, 999)} {d(100, 999)}",
                f"0{d(10, 99)}-{d(100, 999)} {d(10, 99)} {d(10, 99)}",
                f"6{d(10, 99)} {d(100, 999)} {d(100, 999)}",
                f"({d(10, 99)}) {d(1000, 9999)}-{d(1000, 9999)}",
                f"{d(100, 999)} {d(1000, 9999)}",
            )
        )

    def international_address(self) -> tuple[str, str]:
        """The street line (labeled) and the postcode/city line after it (its postcode labeled too)."""
        street, number = self.pick(INTERNATIONAL_STREETS), self.rng.randint(1, 240)
        street_line = f"{street}, {number}" if street.startswith("Calle") else f"{street} {number}"
        if self.rng.random() < 0.3:
            street_line += self.pick((", Apt 4", " Flat 2", ", Suite 310", " Apt. 12"))
        postcode, city, country = self.pick(INTERNATIONAL_CITIES)
        return street_line, f"{postcode} {city}, {country}"

    def card_number(self) -> str:
        prefix = self.pick(("4", "4", "51", "55", "2221", "2720", "34", "37", "6011", "65", "3530", "50", "67", "62"))
        length = {"34": 15, "37": 15, "50": 12, "67": 19, "4": self.pick((16, 19))}.get(prefix, 16)
        digits = prefix + "".join(str(self.rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
        total = sum(int(c) * 2 - 9 * (int(c) > 4) if i % 2 == 0 else int(c) for i, c in enumerate(reversed(digits)))
        number = digits + str((10 - total % 10) % 10)
        return self.pick((number, " ".join(number[i : i + 4] for i in range(0, len(number), 4))))

    def name_styled(self, person: _Person) -> str:
        return self.pick((person.full, person.full, person.full.upper(), f"{person.first} {person.last}"))

    def skills(self, doc: DocBuilder, count: int) -> None:
        for i, skill in enumerate(self.rng.sample(SKILLS, count)):
            if i:
                doc.text(", ")
            doc.keep_word(skill)

    # --- document kinds ---

    def contact_block(self, doc: DocBuilder, person: _Person) -> None:
        lines = [
            ("EMAIL_ADDRESS", self.email(person), self.pick(("Email: ", "E-mail: ", "", "✉ "))),
            ("PHONE_NUMBER", self.phone(), self.pick(("Phone: ", "Tel: ", "Mobile: ", "", "Cell: "))),
            ("URL", self.url(person), self.pick(("LinkedIn: ", "", "Web: ", "Portfolio: "))),
        ]
        if self.rng.random() < 0.8:
            lines.append(("STREET_ADDRESS", self.street_address(), self.pick(("Address: ", "", "Home: "))))
        if self.rng.random() < 0.45:
            lines.append(("US_SSN", self.ssn(), self.pick(("SSN: ", "Social Security Number: ", "SSN "))))
        self.rng.shuffle(lines)
        separator = self.pick(("\n", " | ", " • "))
        for i, (entity, value, label) in enumerate(lines):
            if i:
                doc.text(separator)
            doc.text(label).pii_value(entity, value)
            if entity == "STREET_ADDRESS" and self.rng.random() < 0.6:
                doc.text(f", {self.pick(CITIES)} {self.rng.randint(10000, 99999)}")
        doc.text("\n\n")

    def experience(self, doc: DocBuilder) -> None:
        for _ in range(self.rng.randint(1, 3)):
            doc.keep_word(self.pick(JOB_TITLES)).text(self.pick((" at ", " — ", ", ", " | ")))
            doc.keep_word(self.pick(EMPLOYERS)).text(
                f", {self.pick(CITIES)} ({self.rng.randint(2008, 2019)}–{self.pick(('Present', '2023', '2024'))})\n"
            )
            doc.text("- Built data services in ")
            self.skills(doc, 2)
            doc.text(
                f" serving {self.rng.randint(2, 90)} million requests a day; cut latency by {self.rng.randint(10, 70)}%.\n- Led a team of {self.rng.randint(2, 12)} engineers using "
            )
            self.skills(doc, 2)
            doc.text(".\n")

    def references(self, doc: DocBuilder) -> None:
        doc.text(self.pick(("\nReferences\n", "\nREFERENCES\n", "\nReferences:\n")))
        for _ in range(self.rng.randint(1, 2)):
            ref = self.person()
            doc.pii_value("PERSON", self.name_styled(ref)).text(", ").keep_word(self.pick(JOB_TITLES)).text(
                " at "
            ).keep_word(self.pick(EMPLOYERS))
            doc.text(self.pick((" — ", ", ", " | "))).pii_value("PHONE_NUMBER", self.phone()).text("\n")

    def resume(self, doc: DocBuilder) -> None:
        person = self.person()
        header = self.rng.random()
        if header < 0.35:
            doc.pii_value("PERSON", person.full.upper()).text("\n")
        elif header < 0.65:
            doc.pii_value("PERSON", person.full).text("\n")
        elif header < 0.85:
            doc.text(self.pick(("Name: ", "Full name: ", "Candidate: "))).pii_value("PERSON", person.full).text("\n")
        else:
            doc.pii_value("PERSON", self.name_styled(person)).text(" | ").keep_word(self.pick(JOB_TITLES)).text("\n")
        self.contact_block(doc, person)
        doc.text(self.pick(("SUMMARY\n", "Professional Summary\n", "Profile\n")))
        doc.keep_word(self.pick(JOB_TITLES)).text(f" with {self.rng.randint(2, 15)} years of experience in ")
        self.skills(doc, 3)
        doc.text(".\n\nEXPERIENCE\n")
        self.experience(doc)
        doc.text("\nSKILLS\n")
        self.skills(doc, 5)
        doc.text("\n")
        if self.rng.random() < 0.6:
            self.references(doc)

    def tailored_resume(self, doc: DocBuilder) -> None:
        person = self.person()
        title, employer = self.pick(JOB_TITLES), self.pick(EMPLOYERS)
        doc.pii_value("PERSON", self.name_styled(person)).text(" | ").pii_value("EMAIL_ADDRESS", self.email(person))
        doc.text(" | ").pii_value("PHONE_NUMBER", self.phone()).text(" | ").pii_value("URL", self.url(person)).text(
            "\n"
        )
        doc.text("Tailored for the ").keep_word(title).text(" role at ").keep_word(employer).text("\n\n")
        doc.text("Results-driven engineer who shipped ")
        self.skills(doc, 2)
        doc.text(" platforms. Highlights relevant to ").keep_word(employer).text(":\n")
        self.experience(doc)
        if self.rng.random() < 0.5:
            doc.text("Mailing address: ").pii_value("STREET_ADDRESS", self.street_address()).text(
                f", {self.pick(CITIES)}\n"
            )
        if self.rng.random() < 0.5:
            self.references(doc)

    def job_description(self, doc: DocBuilder) -> None:
        employer, title = self.pick(EMPLOYERS), self.pick(JOB_TITLES)
        recruiter = self.person()
        doc.keep_word(employer).text(" is hiring a ").keep_word(title).text(
            f" in {self.pick(CITIES)}.\n\nWhat you'll do:\n- Design pipelines in "
        )
        self.skills(doc, 3)
        doc.text(".\n- Partner with the ").keep_word(self.pick(JOB_TITLES)).text(" team.\n\nRequirements:\n- ")
        doc.text(f"{self.rng.randint(2, 10)}+ years with ")
        self.skills(doc, 3)
        doc.text(".\n\n")
        style = self.rng.random()
        if style < 0.3:
            doc.text("Questions? Reach out to ").pii_value("PERSON", recruiter.full).text(", Technical Recruiter, at ")
        elif style < 0.55:
            doc.text("Recruiter: ").pii_value("PERSON", recruiter.full).text(" (")
        elif style < 0.8:
            doc.text("Contact ").pii_value("PERSON", f"{recruiter.first} {recruiter.last}").text(
                " from our talent team: "
            )
        else:
            doc.text("Hiring manager ").pii_value("PERSON", recruiter.full).text(" will review applications; email ")
        doc.pii_value("EMAIL_ADDRESS", self.email(recruiter))
        doc.text(" or call ").pii_value("PHONE_NUMBER", self.phone()).text(".\n")
        if self.rng.random() < 0.6:
            doc.text("Apply at ").pii_value(
                "URL",
                self.pick(
                    (
                        f"https://careers.example-jobs.com/{self.rng.randint(1000, 99999)}",
                        f"www.jobs-board.io/apply/{self.rng.randint(100, 9999)}",
                        f"https://boards.greenhouse.io/acme/jobs/{self.rng.randint(10000, 99999)}",
                        f"jobs.lever.co/acme/{self.rng.randint(1000, 9999)}",
                    )
                ),
            ).text(".\n")
        if self.rng.random() < 0.5:
            doc.text("Office: ").pii_value("STREET_ADDRESS", self.street_address()).text(f", {self.pick(CITIES)}.\n")

    def cover_letter(self, doc: DocBuilder) -> None:
        person, addressee = self.person(), self.person()
        if self.rng.random() < 0.3:
            doc.pii_value("STREET_ADDRESS", self.street_address()).text(f"\n{self.pick(CITIES)}\n\n")
        if self.rng.random() < 0.7:
            doc.text("Dear ")
            if self.rng.random() < 0.4:
                doc.text(f"{self.pick(HONORIFICS)} ").pii_value("PERSON", addressee.last)
            else:
                doc.pii_value("PERSON", f"{addressee.first} {addressee.last}")
            doc.text(",\n\n")
        else:
            doc.text(self.pick(("Dear Hiring Manager,\n\n", "To the hiring team,\n\n")))
        doc.text("I am excited to apply for the ").keep_word(self.pick(JOB_TITLES)).text(" position at ").keep_word(
            self.pick(EMPLOYERS)
        )
        doc.text(". At ").keep_word(self.pick(EMPLOYERS)).text(" I built systems in ")
        self.skills(doc, 3)
        doc.text(f" and mentored {self.rng.randint(2, 8)} junior engineers.")
        if self.rng.random() < 0.4:
            colleague = self.person()
            doc.text(" My former manager, ").pii_value("PERSON", colleague.full).text(", can speak to my work on ")
            self.skills(doc, 1)
            doc.text(".")
        doc.text("\n\nI would welcome the chance to talk. You can reach me at ").pii_value(
            "EMAIL_ADDRESS", self.email(person)
        )
        doc.text(" or ").pii_value("PHONE_NUMBER", self.phone()).text(".\n\n")
        doc.text(f"{self.pick(SIGN_OFFS)},\n").pii_value(
            "PERSON", self.pick((person.full, f"{person.first} {person.last}", person.first))
        )
        doc.text("\n")

    def no_pii(self, doc: DocBuilder) -> None:
        doc.text("Key skills for a ").keep_word(self.pick(JOB_TITLES)).text(": ")
        self.skills(doc, 4)
        doc.text(f". Worked {self.rng.randint(2, 12)} years at ").keep_word(self.pick(EMPLOYERS)).text(
            " and "
        ).keep_word(self.pick(EMPLOYERS))
        doc.text(f" on teams of {self.rng.randint(3, 40)}, migrating from ")
        self.skills(doc, 1)
        doc.text(" to ")
        self.skills(doc, 1)
        doc.text(f" in {self.rng.randint(2015, 2024)}.\n")

    def international_cv(self, doc: DocBuilder) -> None:
        person = self.person()
        doc.pii_value("PERSON", self.pick((person.full, f"{person.last.upper()} {person.first}")))
        doc.text(self.pick((" — ", "\n", ", "))).keep_word(self.pick(JOB_TITLES)).text("\n")
        street, city = self.international_address()
        doc.text(self.pick(("Adresse: ", "Address: ", "", "Dirección: "))).pii_value("STREET_ADDRESS", street)
        doc.text("\n" + city + "\n")
        doc.text(self.pick(PHONE_CUES)).pii_value("PHONE_NUMBER", self.national_phone())
        doc.text(" · ").pii_value("EMAIL_ADDRESS", self.email(person)).text("\n\n")
        doc.text(self.pick(("Berufserfahrung", "Experience", "Expérience", "Werkervaring"))).text("\n")
        doc.text(f"{self.rng.randint(2012, 2019)}–{self.rng.randint(2020, 2025)}  ").keep_word(self.pick(JOB_TITLES))
        doc.text(", ").keep_word(self.pick(EMPLOYERS)).text(" — ")
        self.skills(doc, 3)
        doc.text("\n")

    def chat_request(self, doc: DocBuilder) -> None:
        person = self.person()
        name = self.pick((person.full.lower(), f"{person.first} {person.last}", person.full.lower()))
        opening = self.pick(
            (
                "pls change the name at the top to ",
                "hey can u make it say my name is ",
                "my name is ",
                "can you change the name to ",
            )
        )
        doc.text(opening).pii_value("PERSON", name)
        choice = self.rng.random()
        if choice < 0.4:
            doc.text(self.pick((" and use my cell ", " and put my mobile ", ", my phone is "))).pii_value(
                "PHONE_NUMBER", self.pick((self.national_phone(), self.phone()))
            )
        elif choice < 0.75:
            street, city = self.international_address()
            doc.text(self.pick((" and my address is ", ", i moved to ", ". new address: "))).pii_value(
                "STREET_ADDRESS", street
            )
            doc.text(", " + city.lower())
        else:
            doc.text(self.pick((" and charge card ", ", pay with ", " - card is "))).pii_value(
                "CREDIT_CARD", self.card_number()
            )
        doc.text(self.pick((" thx", ". also make it sound more senior for ", " and tailor it for ")))
        if not doc.parts[-1].endswith("thx"):
            doc.keep_word(self.pick(JOB_TITLES)).text(" at ").keep_word(self.pick(EMPLOYERS))
        doc.text(self.pick(("", " pls", "!!", " asap")))


def generate(seed: int = DEFAULT_SEED, docs_per_kind: int = DEFAULT_DOCS_PER_KIND) -> list[dict]:
    """The labeled documents: ``{id, kind, text, pii: [{type, start, end, value}], keep: [{start, end, value}]}``."""
    generator = _Generator(seed)
    docs = []
    for kind in KINDS:
        for i in range(docs_per_kind):
            doc = DocBuilder()
            getattr(generator, kind)(doc)
            docs.append(doc.build(f"{kind}-{i:03d}", kind))
    return docs


def write_jsonl(docs: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")


def load_jsonl(path: Path = EVAL_SET_PATH) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


if __name__ == "__main__":
    generated = generate()
    write_jsonl(generated, EVAL_SET_PATH)
    print(
        f"wrote {len(generated)} documents, {sum(len(d['pii']) for d in generated)} labeled PII values to {EVAL_SET_PATH}"
    )
