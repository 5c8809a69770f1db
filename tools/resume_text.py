"""Resume-shaped text with labeled names, for training the name detector and for a resume-shaped dev set.

Real resumes put a name where news and social posts never do: alone on the first line, in capitals,
in a contact line, a profile link, a signature under a declaration. A model trained on news and posts
alone misses those, so this generator writes documents laid out the way resumes, cover letters and
chat requests to a tailoring app are, with every name, e-mail, phone and link labeled by offset.

Names come only from real annotated corpora (the PERSON spans of the CoNLL-2003 and WNUT-17 train
splits) and the public-domain 1990 US Census name lists, never from a data generator's lists. Names
are split into disjoint train and dev pools (by a hash of the surname), so the dev set measures names
the model never saw. Skills, titles, employers, schools and places are this module's own lists and
stay as they are (the evaluation's keep-words).
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from tools.labeled_text import DocBuilder

SKILLS = (
    "Python",
    "Java",
    "SQL",
    "JavaScript",
    "TypeScript",
    "C",
    "C++",
    "C#",
    "Go",
    "Rust",
    "Scala",
    "R",
    "Kotlin",
    "Swift",
    "PHP",
    "Perl",
    "Ruby",
    "MATLAB",
    "SAS",
    "SPSS",
    "HTML",
    "CSS",
    "jQuery",
    "AngularJS",
    "React",
    "Node.js",
    "Vue.js",
    "Django",
    "Flask",
    "Spring Boot",
    "Hibernate",
    "ASP.NET",
    "VB.NET",
    ".NET",
    "Eclipse",
    "NetBeans",
    "Visual Studio",
    "Visual Studio Code",
    "IntelliJ",
    "PyCharm",
    "Anaconda",
    "Spyder",
    "Tableau",
    "Power BI",
    "QlikView",
    "Excel",
    "MS Office",
    "Outlook",
    "SharePoint",
    "Jira",
    "Confluence",
    "Git",
    "GitHub",
    "SVN",
    "Jenkins",
    "Maven",
    "Ansible",
    "Puppet",
    "Chef",
    "Docker",
    "Kubernetes",
    "Terraform",
    "AWS",
    "Azure",
    "GCP",
    "Linux",
    "Unix",
    "Windows Server",
    "Red Hat",
    "CentOS",
    "Ubuntu",
    "Solaris",
    "Zabbix",
    "Splunk",
    "Selenium",
    "JUnit",
    "TestNG",
    "Cucumber",
    "LoadRunner",
    "QTP",
    "Postman",
    "SoapUI",
    "SAP",
    "SAP BW",
    "ABAP",
    "Oracle",
    "MySQL",
    "PostgreSQL",
    "MongoDB",
    "Cassandra",
    "Hadoop",
    "Hive",
    "Pig",
    "Spark",
    "Kafka",
    "Informatica",
    "Talend",
    "DataStage",
    "Teradata",
    "Salesforce",
    "ServiceNow",
    "Remedy",
    "ITIL",
    "WAN",
    "TCP/IP",
    "DNS",
    "DHCP",
    "VMware",
    "Citrix",
    "Cisco",
    "Active Directory",
    "Photoshop",
    "Illustrator",
    "AutoCAD",
    "SolidWorks",
    "CATIA",
    "ANSYS",
    "Tally",
    "Tally ERP 9",
    "Pandas",
    "NumPy",
    "scikit-learn",
    "TensorFlow",
    "Keras",
    "PyTorch",
    "OpenCV",
    "NLTK",
    "Machine Learning",
    "Deep Learning",
    "Data Analysis",
    "Agile",
    "Scrum",
    "Kanban",
    "Six Sigma",
    "Lean",
)
TITLES = (
    "Software Engineer",
    "Senior Software Engineer",
    "Application Development Associate",
    "Associate Consultant",
    "System Engineer",
    "Test Engineer",
    "QA Analyst",
    "Data Analyst",
    "Data Scientist",
    "Business Analyst",
    "Project Manager",
    "Technical Lead",
    "Team Lead",
    "Network Engineer",
    "Network Administrator",
    "Database Administrator",
    "SAP ABAP Consultant",
    "SAP FICO Consultant",
    "Java Developer",
    "Web Developer",
    "Front End Developer",
    "DevOps Engineer",
    "Cloud Engineer",
    "Support Engineer",
    "Technical Support Engineer",
    "HR Executive",
    "HR Manager",
    "Sales Executive",
    "Marketing Manager",
    "Accountant",
    "Operations Manager",
    "Customer Service Representative",
    "Mechanical Engineer",
    "Civil Engineer",
    "Electrical Engineer",
    "Graduate Trainee",
    "Intern",
    "Senior Associate",
    "Process Associate",
    "Content Writer",
    "UI Designer",
)
COMPANIES = (
    "Accenture",
    "Infosys",
    "Wipro",
    "Tata Consultancy Services",
    "TCS",
    "Cognizant",
    "Capgemini",
    "IBM",
    "HCL Technologies",
    "Tech Mahindra",
    "Oracle",
    "Microsoft",
    "Amazon",
    "Google",
    "Deloitte",
    "KPMG",
    "Ernst & Young",
    "PwC",
    "Genpact",
    "Mphasis",
    "Mindtree",
    "L&T Infotech",
    "Hexaware",
    "Syntel",
    "Dell",
    "HP",
    "Cisco Systems",
    "Intel",
    "Siemens",
    "Bosch",
    "Honeywell",
    "Philips",
    "Samsung",
    "Flipkart",
    "Paytm",
    "Reliance Industries",
    "ICICI Bank",
    "HDFC Bank",
    "Axis Bank",
    "State Bank of India",
    "Larsen & Toubro",
    "Mahindra & Mahindra",
    "Bajaj Auto",
    "Maruti Suzuki",
    "Godrej",
    "Vodafone",
    "Airtel",
    "Goldman Sachs",
    "Morgan Stanley",
    "JP Morgan",
    "Wells Fargo",
    "Johnson & Johnson",
    "Procter & Gamble",
    "Lockheed Martin",
    "Ford",
    "Dell Technologies",
    "Shopify",
    "Stripe",
    "Atlassian",
    "SAP Labs",
    "Indeed",
)
SCHOOLS = (
    "Visvesvaraya Technological University",
    "Anna University",
    "University of Mumbai",
    "University of Pune",
    "Delhi University",
    "Osmania University",
    "Jawaharlal Nehru Technological University",
    "Amity University",
    "VIT University",
    "SRM University",
    "Manipal Institute of Technology",
    "NIT Trichy",
    "IIT Bombay",
    "BITS Pilani",
    "Christ University",
    "Symbiosis Institute",
    "University of Texas",
    "Arizona State University",
    "University of Toronto",
    "National University of Singapore",
    "University of Lagos",
    "Makerere University",
)
DEGREES = (
    "B.Tech",
    "B.E",
    "B.E.",
    "M.Tech",
    "B.Sc",
    "M.Sc",
    "BCA",
    "MCA",
    "MBA",
    "B.Com",
    "M.Com",
    "BBA",
    "Ph.D",
    "Bachelor of Engineering",
    "Master of Computer Applications",
    "Bachelor of Science",
    "Diploma",
)
FIELDS = (
    "Computer Science",
    "Information Science and Engineering",
    "Electronics and Communication",
    "Mechanical Engineering",
    "Information Technology",
    "Finance",
    "Marketing",
    "Human Resources",
)
CITIES = (
    ("Bengaluru", "Karnataka"),
    ("Bangalore", "Karnataka"),
    ("Hubli", "Karnataka"),
    ("Mumbai", "Maharashtra"),
    ("Pune", "Maharashtra"),
    ("Nagpur", "Maharashtra"),
    ("Chennai", "Tamil Nadu"),
    ("Coimbatore", "Tamil Nadu"),
    ("Hyderabad", "Telangana"),
    ("Noida", "Uttar Pradesh"),
    ("Lucknow", "Uttar Pradesh"),
    ("Gurgaon", "Haryana"),
    ("New Delhi", "Delhi"),
    ("Kolkata", "West Bengal"),
    ("Ahmedabad", "Gujarat"),
    ("Jaipur", "Rajasthan"),
    ("Kochi", "Kerala"),
    ("Bhopal", "Madhya Pradesh"),
    ("Austin", "TX"),
    ("Chicago", "IL"),
    ("Seattle", "WA"),
    ("Toronto", "ON"),
    ("London", "UK"),
    ("Dublin", "Ireland"),
    ("Nairobi", "Kenya"),
    ("Lagos", "Nigeria"),
    ("Manila", "Philippines"),
    ("Dubai", "UAE"),
)
# Section headings of CVs written in other languages (European CV conventions).
FOREIGN_HEADINGS = (
    "Berufserfahrung",
    "Ausbildung",
    "Kenntnisse",
    "Sprachkenntnisse",
    "Persönliche Daten",
    "Expérience professionnelle",
    "Formation",
    "Compétences",
    "Langues",
    "Experiencia laboral",
    "Formación académica",
    "Habilidades",
    "Idiomas",
    "Esperienza lavorativa",
    "Istruzione",
    "Competenze",
    "Werkervaring",
    "Opleiding",
    "Vaardigheden",
    "Doświadczenie zawodowe",
    "Wykształcenie",
    "Umiejętności",
    "Työkokemus",
    "Koulutus",
    "Arbetslivserfarenhet",
    "Utbildning",
    "Experiência profissional",
    "Formação",
    "Competências",
    "Iş deneyimi",
    "Eğitim",
)
PARTICLES = ("de", "de la", "van", "van der", "von", "da", "dos", "del", "di", "le", "bin", "al", "Mac", "O'")
MONTHS = ("January February March April May June July August September October November December").split()
VERBS = (
    "Developed",
    "Designed",
    "Implemented",
    "Managed",
    "Led",
    "Maintained",
    "Automated",
    "Migrated",
    "Tested",
    "Configured",
    "Monitored",
    "Supported",
    "Coordinated",
    "Built",
    "Optimized",
    "Analyzed",
    "Prepared",
)
OBJECTS = (
    "the reporting module",
    "REST APIs for the billing platform",
    "test cases for regression cycles",
    "dashboards for the sales team",
    "the data warehouse",
    "ETL pipelines",
    "client escalations",
    "the monthly closing process",
    "network devices across branches",
    "user access requests",
    "a team of 6 engineers",
    "the migration to the cloud",
    "incident tickets within SLA",
    "web pages",
)


class Builder(DocBuilder):
    """A document of labeled pieces (``add``), with the names of ``Person`` rendered in a given style."""

    def add(self, text: str, pii: str | None = None, keep: str | None = None) -> None:
        if pii:
            self.pii_value(pii, text)
        elif keep:
            self.keep_word(text, keep)
        else:
            self.text(text)

    def name(self, person: Person, style: str) -> None:
        """One rendering of a person's name, labeled PERSON (a lone initial stays unlabeled text)."""
        self.add(person.render(style), pii="PERSON")


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    middle: str = ""

    def render(self, style: str) -> str:
        middle = f" {self.middle}" if self.middle else ""
        forms = {
            "full": f"{self.first}{middle} {self.last}",
            "first_last": f"{self.first} {self.last}",
            "upper": f"{self.first}{middle} {self.last}".upper(),
            "lower": f"{self.first} {self.last}".lower(),
            "initial_last": f"{self.first[0]}. {self.last}",
            "first_initial": f"{self.first} {self.last[0]}",
            "last_comma_first": f"{self.last}, {self.first}",
            "first": self.first,
            "last": self.last,
            "first_lower": self.first.lower(),
        }
        return forms[style]

    @property
    def path_name(self) -> str:
        """The name as a profile path writes it: its words joined by hyphens, case kept (``Jane-van-Dyke``)."""
        return "-".join(f"{self.first} {self.last}".split())

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", f"{self.first} {self.last}".lower()).strip("-")


def _stable_bucket(value: str) -> int:
    return hashlib.sha256(value.lower().encode()).digest()[0] % 10


def hyphenated_given_names(full_names: Sequence[tuple[str, str]]) -> list[str]:
    """Given names written with a hyphen, as many Korean, Chinese and Vietnamese names are romanized: the pools'
    own (``Dae-jung``) and their syllables recombined, so the model learns the shape rather than a few names."""
    found = sorted({w for pair in full_names for w in pair if re.fullmatch(r"[A-Z][a-z]+-[A-Za-z][a-z]+", w)})
    romanized = [w.split("-") for w in found if re.fullmatch(r"[A-Z][a-z]{0,5}-[a-z]{1,5}", w)]
    heads, tails = sorted({head for head, _ in romanized}), sorted({tail for _, tail in romanized})
    recombined = {f"{head}-{tail}" for head in heads for tail in tails if head.lower() != tail}
    return sorted(set(found) | recombined)


# Romanization rules, not name lists: Korean (Revised Romanization plus the common "oo"/"ee" spellings) and
# Mandarin (Hanyu Pinyin) syllables as initial + vowel (+ final). Most results are no one's name; the shape is.
ROMANIZATION = {
    "korean": (
        ("", "g", "k", "n", "d", "t", "m", "b", "p", "s", "j", "ch", "h", "y"),
        ("a", "eo", "o", "u", "eu", "i", "ae", "e", "oe", "ya", "yeo", "yo", "yu", "wa", "wo", "oo", "ee"),
        ("", "", "", "n", "ng", "l", "k", "m"),
    ),
    "mandarin": (
        (
            "b",
            "p",
            "m",
            "f",
            "d",
            "t",
            "n",
            "l",
            "g",
            "k",
            "h",
            "j",
            "q",
            "x",
            "zh",
            "ch",
            "sh",
            "r",
            "z",
            "c",
            "s",
            "y",
            "w",
        ),
        ("a", "ai", "ao", "e", "ei", "i", "ia", "iao", "ie", "iu", "o", "ou", "u", "ua", "ui", "uo"),
        ("", "", "n", "ng"),
    ),
}


def romanized_given_names(rng: random.Random, count: int) -> list[str]:
    """Two-syllable given names written with a hyphen (``Xxx-yyy`` or ``Xxx-Yyy``), built from syllable rules."""
    names = []
    for _ in range(count):
        initials, vowels, finals = ROMANIZATION[rng.choice(list(ROMANIZATION))]
        first, second = ("".join(rng.choice(part) for part in (initials, vowels, finals)) for _ in range(2))
        names.append(f"{first.capitalize()}-{second.capitalize() if rng.random() < 0.3 else second}")
    return names


def split_pools(firsts: list[str], lasts: list[str], full_names: list[tuple[str, str]]):
    """Disjoint (train, dev) pools: a tenth of surnames (and the full names carrying them) go to dev."""
    pools = {"train": ([], [], []), "dev": ([], [], [])}
    for first in firsts:
        pools["dev" if _stable_bucket(first) == 0 else "train"][0].append(first)
    for last in lasts:
        pools["dev" if _stable_bucket(last) == 0 else "train"][1].append(last)
    for first, last in full_names:
        pools["dev" if _stable_bucket(last) == 0 else "train"][2].append((first, last))
    return pools


class ResumeWriter:
    """Documents from name pools, plus tool names, employers and places that are not people (``tools``,
    ``companies``, ``places``)."""

    def __init__(
        self,
        firsts: list[str],
        lasts: list[str],
        full_names: list[tuple[str, str]],
        seed: int,
        tools: Sequence[str] = (),
        companies: Sequence[str] = (),
        places: Sequence[str] = (),
    ):
        self.firsts, self.lasts, self.full_names = firsts, lasts, full_names
        self.tools, self.companies = list(tools), list(companies)
        self.places = list(places)
        self.rng = random.Random(seed)
        self.hyphenated = hyphenated_given_names(full_names) + romanized_given_names(self.rng, 600)

    def person(self) -> Person:
        rng = self.rng
        if self.full_names and rng.random() < 0.5:
            first, last = rng.choice(self.full_names)
        else:
            first, last = rng.choice(self.firsts), rng.choice(self.lasts)
        roll = rng.random()
        if roll < 0.12:
            first = rng.choice(self.hyphenated)
        elif roll < 0.18:
            first = f"{first} {rng.choice(self.firsts)}"  # two given names
        if rng.random() < 0.1:
            particle = rng.choice(PARTICLES)
            last = f"{particle}{last}" if particle.endswith("'") else f"{particle} {last}"
        # A middle initial, with or without its full stop (forms and exports often drop it).
        middle = rng.choice(string.ascii_uppercase) + rng.choice([".", ""]) if rng.random() < 0.15 else ""
        return Person(first, last, middle)

    def skill(self) -> str:
        """A skill or tool: a known one, or a tool name of the Debian archive written as resumes write them."""
        rng = self.rng
        if self.tools and rng.random() < 0.5:
            tool = rng.choice(self.tools)
            return rng.choice([tool.title(), tool.title(), tool, tool.upper()])
        return rng.choice(SKILLS)

    def skills(self, count: int) -> list[str]:
        return [self.skill() for _ in range(count)]

    def city(self) -> str:
        rng = self.rng
        return rng.choice(self.places) if self.places and rng.random() < 0.3 else rng.choice(CITIES)[0]

    def company(self) -> str:
        rng = self.rng
        return rng.choice(self.companies) if self.companies and rng.random() < 0.5 else rng.choice(COMPANIES)

    def email(self, person: Person) -> str:
        rng = self.rng
        local = rng.choice(
            [
                f"{person.first}.{person.last}",
                f"{person.first}{person.last}{rng.randint(1, 99)}",
                f"{person.first[0]}{person.last}",
                f"{person.first}_{rng.randint(100, 9999)}",
            ]
        ).lower()
        local = re.sub(r"[^a-z0-9._]", "", local) or "me"
        return f"{local}@{rng.choice(['gmail.com', 'yahoo.co.in', 'outlook.com', 'rediffmail.com', 'hotmail.com'])}"

    def phone(self) -> str:
        rng = self.rng
        digits = rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(8))
        return rng.choice(
            [
                f"+91 {rng.choice('6789')}{digits}",
                f"+91-{rng.choice('6789')}{digits[:4]}-{digits[4:]}",
                f"{rng.choice('6789')}{digits}",
                f"({rng.randint(201, 989)}) {digits[:3]}-{digits[3:7]}",
                f"+1 {rng.randint(201, 989)} {digits[:3]} {digits[3:7]}",
            ]
        )

    def link(self, person: Person) -> str:
        rng = self.rng
        token = "".join(rng.choice("0123456789abcdef") for _ in range(16))
        return rng.choice(
            [
                f"indeed.com/r/{person.path_name}/{token}",
                f"linkedin.com/in/{person.slug}",
                f"https://www.linkedin.com/in/{person.slug}-{token[:8]}",
                f"github.com/{person.slug.replace('-', '')}",
            ]
        )

    def wrapped(self, link: str) -> str:
        """Text extracted from a PDF breaks long links at the line width."""
        if self.rng.random() < 0.35 and len(link) > 20:
            cut = self.rng.randint(len(link) // 2, len(link) - 3)
            return link[:cut] + "\n" + link[cut:]
        return link

    def _date_range(self) -> str:
        rng = self.rng
        start = rng.randint(2005, 2019)
        end = rng.choice(["Present", f"{rng.choice(MONTHS)} {start + rng.randint(1, 4)}"])
        return f"{rng.choice(MONTHS)} {start} to {end}"

    def header(self, b: Builder, person: Person) -> None:
        rng = self.rng
        style = rng.choices(
            ["indeed", "contact_line", "labeled", "caps_block", "cv_title", "surname_first"], [4, 3, 1, 2, 1, 1]
        )[0]
        if style == "surname_first":  # European CVs: family name in capitals first
            b.add(f"{person.last.upper()} {person.first}", pii="PERSON")
            if rng.random() < 0.4:
                b.add(rng.choice([" — ", " - ", ", ", " | "]))
                b.add(rng.choice(TITLES), keep="TITLE")
            b.add("\n")
            style = "labeled" if rng.random() < 0.3 else "contact_line_body"
        city, state = rng.choice(CITIES)
        if style == "cv_title":
            b.add(rng.choice(["RESUME", "CURRICULUM VITAE", "Resume", "Curriculum Vitae"]) + "\n\n")
            style = "contact_line"
        if style == "indeed":
            b.name(person, rng.choices(["first_last", "full", "upper", "lower"], [6, 2, 1, 1])[0])
            b.add("\n")
            title, company = rng.choice(TITLES), self.company()
            b.add(title, keep="TITLE")
            b.add(" - ")
            b.add(company, keep="ORG")
            b.add("\n\n")
            b.add(city, keep="LOC")
            b.add(", ")
            b.add(state, keep="LOC")
            b.add(" - Email me on Indeed: ")
            b.add(self.wrapped(f"indeed.com/r/{person.path_name}/{self._hex()}"), pii="URL")
            b.add("\n\n")
        elif style == "labeled":
            b.add(rng.choice(["Name: ", "Name : ", "NAME: ", "Full Name: "]))
            b.name(person, rng.choice(["first_last", "full", "upper"]))
            b.add(rng.choice(["\nEmail: ", "\nE-mail: ", "\nEmail ID: "]))
            b.add(self.email(person), pii="EMAIL_ADDRESS")
            b.add(rng.choice(["\nMobile: ", "\nPhone: ", "\nContact No: "]))
            b.add(self.phone(), pii="PHONE_NUMBER")
            b.add("\n\n")
        else:
            if style != "contact_line_body":
                b.name(person, rng.choices(["full", "upper", "first_last", "lower"], [3, 4, 2, 1])[0])
            if rng.random() < 0.3:
                b.add(rng.choice([", ", " | ", "\n"]))
                b.add(rng.choice(TITLES), keep="TITLE")
            b.add("\n")
            separator = rng.choice([" | ", " • ", "\n", " · "])
            labeled = rng.random() < 0.4  # "Tel: …", "Email: …" before each value
            b.add(rng.choice(["Email: ", "E-mail: ", "Mail: ", "✉ "]) if labeled else "")
            b.add(self.email(person), pii="EMAIL_ADDRESS")
            b.add(separator)
            b.add(rng.choice(["Tel: ", "Cell: ", "Mobile: ", "Ph: ", "Phone: ", "Mob. "]) if labeled else "")
            b.add(self.phone(), pii="PHONE_NUMBER")
            b.add(separator)
            b.add(rng.choice(["Location: ", "Based in ", "City: "]) if labeled else "")
            b.add(city, keep="LOC")
            if rng.random() < 0.7:
                b.add(separator)
                b.add(rng.choice(["Web: ", "Portfolio: ", "LinkedIn: ", "Profile: "]) if labeled else "")
                b.add(self.wrapped(self.link(person)), pii="URL")
            b.add("\n\n")

    def _hex(self) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(16))

    def _heading(self, text: str) -> str:
        if self.rng.random() < 0.15:
            text = self.rng.choice(FOREIGN_HEADINGS)
        return self.rng.choice([text.upper(), text.title(), text, text.upper() + ":"])

    def body(self, b: Builder, person: Person) -> None:
        rng = self.rng
        sections = ["summary", "experience", "education", "skills"]
        sections += rng.sample(["projects", "references", "declaration", "additional", "personal"], rng.randint(1, 3))
        for section in sections:
            getattr(self, f"_{section}")(b, person)

    def _summary(self, b: Builder, person: Person) -> None:
        rng = self.rng
        b.add(self._heading(rng.choice(["Objective", "Summary", "Professional Summary", "Career Objective"])) + "\n")
        b.add("• " if rng.random() < 0.5 else "")
        b.add(f"{rng.choice(['Seeking', 'Looking for'])} a challenging role as ")
        b.add(rng.choice(TITLES), keep="TITLE")
        b.add(" with ")
        b.add(f"{rng.randint(1, 12)} years", keep=None)
        b.add(" of experience in ")
        self.skill_list(b, rng.randint(1, 4))
        b.add(".")
        if rng.random() < 0.4:
            b.add(rng.choice([" What I bring to ", " Why I fit ", " Eager to contribute to ", " Ready to join "]))
            b.add(self.company(), keep="ORG")
            b.add(rng.choice([": ", " - ", ", with "]))
            self.skill_list(b, rng.randint(1, 3))
            b.add(".")
        b.add("\n\n")

    def _experience(self, b: Builder, person: Person) -> None:
        rng = self.rng
        b.add(self._heading("Work Experience") + "\n\n")
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.25:  # "Employer: role" lines
                b.add(rng.choice(["", "Company: ", "Employer: "]))
                b.add(self.company(), keep="ORG")
                b.add(": " if rng.random() < 0.5 else " — ")
                b.add(rng.choice(TITLES), keep="TITLE")
                b.add(f" ({self._date_range()})\n")
                continue
            b.add(rng.choice(TITLES), keep="TITLE")
            b.add("\n\n")
            b.add(self.company(), keep="ORG")
            city, state = rng.choice(CITIES)
            b.add(" - ")
            b.add(city, keep="LOC")
            b.add(", ")
            b.add(state, keep="LOC")
            b.add("\n\n" + self._date_range() + "\n\n")
            for _ in range(rng.randint(1, 4)):
                self._bullet(b)
            b.add("\n")

    def skill_list(self, b: Builder, count: int) -> None:
        """Skills inline in a sentence: ``A``, ``A and B``, ``A, B, C`` (tool names next to each other are
        the shape the model confused with "Surname, Given")."""
        skills = self.skills(count)
        for index, skill in enumerate(skills):
            if index:
                b.add(" and " if index == len(skills) - 1 and self.rng.random() < 0.4 else ", ")
            b.add(skill, keep="SKILL")

    def _bullet(self, b: Builder) -> None:
        """One line of work done, with tools anywhere in it."""
        rng = self.rng
        b.add(rng.choice(["• ", "- ", "", "* "]))
        form = rng.randrange(6)
        if form == 0:
            b.add(f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} using ")
            self.skill_list(b, rng.randint(1, 3))
        elif form == 1:
            b.add(f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} in ")
            self.skill_list(b, rng.randint(2, 3))
            b.add(f" for {rng.randint(2, 90)} {rng.choice(['clients', 'teams', 'stores', 'million users'])}")
        elif form == 2:
            self.skill_list(b, rng.randint(1, 2))
            b.add(f" {rng.choice(['work', 'setup', 'rollout', 'upgrade'])}: {rng.choice(OBJECTS)}")
        elif form == 3:
            b.add(f"Moved {rng.choice(OBJECTS)} from ")
            b.add(self.skill(), keep="SKILL")
            b.add(" to ")
            b.add(self.skill(), keep="SKILL")
        elif form == 4:
            b.add(rng.choice(["Tech stack: ", "Tools: ", "Environment: ", "Stack - "]))
            self.skill_list(b, rng.randint(2, 5))
        else:
            b.add(f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} for ")
            b.add(self.company(), keep="ORG")
            b.add(" with ")
            self.skill_list(b, rng.randint(1, 3))
        if rng.random() < 0.12:
            b.add(", reporting to ")
            b.name(self.person(), rng.choice(["first_last", "initial_last"]))
        b.add(".\n")

    def _education(self, b: Builder, person: Person) -> None:
        rng = self.rng
        b.add(self._heading("Education") + "\n\n")
        b.add(rng.choice(DEGREES), keep="DEGREE")
        b.add(" in ")
        b.add(rng.choice(FIELDS), keep="FIELD")
        b.add("\n")
        b.add(rng.choice(SCHOOLS), keep="ORG")
        city = self.city()
        b.add(" - ")
        b.add(city, keep="LOC")
        b.add(f"\n{rng.choice(MONTHS)} {rng.randint(2000, 2018)}\n\n")

    def _skills(self, b: Builder, person: Person) -> None:
        rng = self.rng
        b.add(self._heading(rng.choice(["Skills", "Technical Skills", "Key Skills", "IT Skills"])) + "\n\n")
        years = ["Less than 1 year", "1 year", "2 years", "3 years", "5 years", "10+ years"]
        separator = rng.choice([", ", "\n", " | ", "\n• "])
        for index, skill in enumerate(self.skills(rng.randint(4, 12))):
            b.add(separator if index else "")
            b.add(skill, keep="SKILL")
            if rng.random() < 0.4:
                b.add(f" ({rng.choice(years)})")
        b.add("\n\n")

    def _projects(self, b: Builder, person: Person) -> None:
        rng = self.rng
        b.add(self._heading("Projects") + "\n")
        for _ in range(rng.randint(1, 2)):
            b.add("Project: " + rng.choice(OBJECTS).capitalize() + "\nEnvironment: ")
            for index, skill in enumerate(self.skills(3)):
                b.add(", " if index else "")
                b.add(skill, keep="SKILL")
            b.add("\nClient: ")
            b.add(self.company(), keep="ORG")
            b.add("\n\n")

    def _references(self, b: Builder, person: Person) -> None:
        rng = self.rng
        b.add(self._heading(rng.choice(["References", "Referees"])) + "\n")
        for _ in range(rng.randint(1, 2)):
            referee = self.person()
            if rng.random() < 0.4:  # one line: "Name, Title at Company — phone"
                b.name(referee, rng.choice(["first_last", "full", "upper", "initial_last"]))
                b.add(", ")
                b.add(rng.choice(TITLES), keep="TITLE")
                b.add(rng.choice([" at ", ", "]))
                b.add(self.company(), keep="ORG")
                b.add(rng.choice([" — ", ", ", " | "]))
                b.add(self.phone(), pii="PHONE_NUMBER")
                b.add("\n")
                continue
            b.add(rng.choice(["", "Mr. ", "Ms. ", "Dr. ", "Prof. "]))
            b.name(referee, rng.choice(["first_last", "full", "initial_last", "upper"]))
            b.add(", ")
            b.add(rng.choice(TITLES), keep="TITLE")
            b.add(", ")
            b.add(self.company(), keep="ORG")
            b.add("\n")
            b.add(self.phone(), pii="PHONE_NUMBER")
            if rng.random() < 0.5:
                b.add(" | ")
                b.add(self.email(referee), pii="EMAIL_ADDRESS")
            b.add("\n")
        b.add("\n")

    def _declaration(self, b: Builder, person: Person) -> None:
        rng = self.rng
        b.add(self._heading("Declaration") + "\n")
        b.add("I hereby declare that the information furnished above is true to the best of my knowledge.\n\n")
        city = self.city()
        b.add("Place: ")
        b.add(city, keep="LOC")
        b.add("\nDate:\n")
        open_, close = rng.choice([("(", ")"), ("", ""), ("[", "]")])
        b.add(open_)
        b.name(person, rng.choice(["upper", "first_last", "full"]))
        b.add(close + "\n")

    def _additional(self, b: Builder, person: Person) -> None:
        rng = self.rng
        b.add(self._heading("Additional Information") + "\n")
        b.add("Willing to relocate to: ")
        city, state = rng.choice(CITIES)
        b.add(city, keep="LOC")
        b.add(", ")
        b.add(state, keep="LOC")
        b.add("\nAuthorized to work in the US for any employer\n\n" if rng.random() < 0.3 else "\n\n")

    def _personal(self, b: Builder, person: Person) -> None:
        rng = self.rng
        b.add(self._heading("Personal Details") + "\n")
        b.add(rng.choice(["Father's Name: ", "Father Name : "]))
        b.name(Person(self.person().first, person.last), rng.choice(["first_last", "upper"]))
        b.add(f"\nDate of Birth: {rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.randint(1975, 2000)}\n")
        b.add("Languages Known: English, Hindi\n\n")

    def resume(self, doc_id: str) -> dict:
        b, person = Builder(), self.person()
        self.header(b, person)
        self.body(b, person)
        return b.build(doc_id, "resume")

    def cover_letter(self, doc_id: str) -> dict:
        rng = self.rng
        b, person, manager = Builder(), self.person(), self.person()
        if rng.random() < 0.5:
            b.add("Dear ")
            b.add(rng.choice(["Mr. ", "Ms. ", "Dr. ", ""]))
            b.name(manager, rng.choice(["last", "first_last", "first"]))
        else:
            b.add(rng.choice(["Dear Hiring Manager", "To whom it may concern", "Dear Recruitment Team"]))
        b.add(",\n\nI am writing to apply for the ")
        b.add(rng.choice(TITLES), keep="TITLE")
        b.add(" position at ")
        b.add(self.company(), keep="ORG")
        b.add(". In my current role at ")
        b.add(self.company(), keep="ORG")
        b.add(" I work daily with ")
        b.add(self.skill(), keep="SKILL")
        b.add(" and ")
        b.add(self.skill(), keep="SKILL")
        b.add(". ")
        if rng.random() < 0.4:
            b.add("My former manager, ")
            b.name(self.person(), "first_last")
            b.add(", can speak to my work. ")
        if rng.random() < 0.3:  # several people in a row, by given name or surname alone
            b.add(rng.choice(["I built it with ", "Colleagues who can vouch: ", "Our team of "]))
            style = rng.choice(["first", "last", "first_last"])
            people = [self.person() for _ in range(rng.randint(2, 4))]
            for index, colleague in enumerate(people):
                b.add((" and " if index == len(people) - 1 else ", ") if index else "")
                b.name(colleague, style)
            b.add(". ")
        b.add("\n\n" + rng.choice(["Sincerely", "Best regards", "Regards", "Thanks", "Yours faithfully"]) + ",\n")
        b.name(person, rng.choice(["first_last", "full", "first", "first", "upper"]))
        b.add("\n")
        b.add(self.phone(), pii="PHONE_NUMBER")
        b.add("\n")
        return b.build(doc_id, "cover_letter")

    def chat(self, doc_id: str) -> dict:
        rng = self.rng
        if rng.random() < 0.25:
            return self.nameless_chat(doc_id)
        if rng.random() < 0.2:
            return self.transcript(doc_id)
        b, person = Builder(), self.person()
        lower = rng.random() < 0.6
        style = "lower" if lower else "first_last"
        opener = rng.choice(
            [
                ("hi, my name is ", " and i need my resume tailored for a "),
                ("pls change the name at the top to ", ", it should match my passport. target role: "),
                ("hello this is ", " again. can you make it fit a "),
                ("i'm ", ", can you rewrite the summary for a "),
                ("update contact: ", " is my new name after marriage. role: "),
            ]
        )
        b.add(opener[0] if lower else opener[0].capitalize())
        b.name(person, style)
        b.add(opener[1])
        b.add(rng.choice(TITLES), keep="TITLE")
        b.add(" role at ")
        b.add(self.company(), keep="ORG")
        b.add(rng.choice([". email me at ", ". reach me at ", ". my mail: "]))
        b.add(self.email(person), pii="EMAIL_ADDRESS")
        if rng.random() < 0.5:
            b.add(rng.choice([" or call ", ", phone "]))
            b.add(self.phone(), pii="PHONE_NUMBER")
        if rng.random() < 0.3:
            b.add(". also add my skills in ")
            b.add(self.skill(), keep="SKILL")
        b.add(rng.choice([" thanks", ". thx!", ".", " :)"]))
        return b.build(doc_id, "chat_request")

    def transcript(self, doc_id: str) -> dict:
        """A support chat export: each line starts with its speaker, the user by name."""
        rng = self.rng
        b, person = Builder(), self.person()
        agent = rng.choice(["Agent", "Support", "Assistant", "Bot", "Recruiter"])
        speaker = rng.choice(["first", "first", "first_last", "first_lower"])
        lines = [
            (None, rng.choice(["How can I help with your resume?", "Hi! What should we change today?"])),
            (person, rng.choice(["the header still shows my old phone", "can you shorten the summary", "hi"])),
            (None, "Sure. What name should appear at the top?"),
            (person, "it should say "),
        ]
        for who, message in lines:
            if who is None:
                b.add(f"{agent}: {message}\n")
                continue
            b.name(who, speaker)
            b.add(rng.choice([": ", ":"]) + message)
            if message.endswith("say "):
                b.name(who, rng.choice(["first_last", "full", "lower"]))
            b.add("\n")
        return b.build(doc_id, "chat_request")

    def nameless_chat(self, doc_id: str) -> dict:
        """Most requests name no one: a capitalized first word is an interjection or a tool, not a person."""
        rng = self.rng
        b = Builder()
        b.add(
            rng.choice(
                [
                    "Quick question",
                    "Thanks",
                    "Help",
                    "Urgent",
                    "Awesome",
                    "Hey",
                    "Please",
                    "Great",
                    "Ok",
                    "Wow",
                    "Hmm",
                    "Again",
                    "Update",
                    "Sorry",
                    "Perfect",
                    "Nope",
                ]
            )
        )
        b.add(rng.choice([" - ", ", ", "! ", ". ", " "]))
        b.add(
            rng.choice(["can you make my resume fit a ", "rewrite it for a ", "i applied for a ", "tailor this to a "])
        )
        b.add(rng.choice(TITLES), keep="TITLE")
        b.add(" role at ")
        b.add(self.company(), keep="ORG")
        if rng.random() < 0.6:
            b.add(rng.choice([". ", "? ", " and "]))
            skill = self.skill()
            b.add(rng.choice(["", "mention ", "add ", "drop "]))
            b.add(skill, keep="SKILL")
            b.add(rng.choice([" is my strongest skill", " too", " pls", "", " in the summary"]))
        b.add(rng.choice([" thanks", ". thx!", ".", " :)", "!!", "?"]))
        return b.build(doc_id, "chat_request")

    def job_description(self, doc_id: str) -> dict:
        rng = self.rng
        b = Builder()
        b.add(self.company(), keep="ORG")
        b.add(" is hiring a ")
        b.add(rng.choice(TITLES), keep="TITLE")
        b.add(" in ")
        b.add(self.city(), keep="LOC")
        b.add(".\n\nRequirements:\n")
        for skill in self.skills(rng.randint(3, 7)):
            b.add("- Experience with ")
            b.add(skill, keep="SKILL")
            b.add("\n")
        if rng.random() < 0.3:
            b.add("\nContact ")
            recruiter = self.person()
            b.name(recruiter, "first_last")
            b.add(" at ")
            b.add(self.email(recruiter), pii="EMAIL_ADDRESS")
            b.add("\n")
        return b.build(doc_id, "job_description")

    def documents(self, count: int, prefix: str) -> list[dict]:
        kinds = [(self.resume, 5), (self.cover_letter, 2), (self.chat, 2), (self.job_description, 1)]
        makers = [maker for maker, weight in kinds for _ in range(weight)]
        return [self.rng.choice(makers)(f"{prefix}-{index:05d}") for index in range(count)]
