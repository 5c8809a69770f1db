"""Deterministic synthetic raw events for the demo, the tests and the benchmarks.

``python -m analytics_pipeline.sample_data --out data/raw/events`` writes a few days
of events for a few hundred users: resumes and job descriptions carrying realistic
(synthetic, Faker-made) PII in realistic places, tailoring and refinement chains,
copies and downloads, UI interactions, and a small share of malformed lines so the
quarantine path is exercised. Same seed, same bytes.

The PII templates here are deliberately different from the scrubber's evaluation
set (``analytics_pipeline.privacy``), so the demo does not grade its own homework.

Behaviour is synthetic too, with a signal on purpose so that a model trained on the
training sets has something to learn (``take_away_chance``, ``refine_chance``): users
refine low-scoring outputs more often, and copy or download an output more often the
higher its ATS and JD scores, more for some tailoring modes than others. The numbers are
invented; they make the labels learnable, not realistic.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from faker import Faker

from analytics_pipeline.raw_log import SAMPLE_FILE_NAME
from analytics_pipeline.tracking_plan import WORKSPACE_ELEMENTS

SAMPLE_START = date(2026, 11, 2)
NAME_LOCALES = ["en_US", "en_GB", "es_ES", "de_DE", "fr_FR", "it_IT", "en_IN", "pt_BR", "nl_NL"]

SKILLS = [
    "Python",
    "SQL",
    "Kubernetes",
    "Terraform",
    "React",
    "TypeScript",
    "Go",
    "Rust",
    "Java",
    "Spark",
    "Airflow",
    "dbt",
    "PostgreSQL",
    "AWS",
    "GCP",
    "Docker",
    "Flask",
    "Django",
    "TensorFlow",
    "PyTorch",
    "Tableau",
    "Excel",
    "Figma",
    "Salesforce",
    "Kafka",
    "Snowflake",
]
TITLES = [
    "Data Engineer",
    "Software Engineer",
    "Product Manager",
    "Data Scientist",
    "UX Designer",
    "DevOps Engineer",
    "Machine Learning Engineer",
    "Business Analyst",
    "Backend Developer",
    "Marketing Manager",
    "Site Reliability Engineer",
    "Frontend Developer",
]
EMPLOYERS = [
    "Acme Analytics",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Industries",
    "Wayne Logistics",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Cyberdyne Systems",
    "Tyrell Labs",
    "Massive Dynamic",
]
AREA_CODES = [212, 312, 415, 617, 646, 206, 303, 512, 713, 404, 305, 202, 773, 818, 919]
MODES = ["personalized", "concise", "keyword-optimized", "executive"]
# Invented effect of the mode on taking an output away (log-odds): see take_away_chance.
MODE_APPEAL = {"personalized": 0.6, "concise": 0.0, "keyword-optimized": -0.6, "executive": 0.3}
# Chance of a copy and of a download for an output of average scores (ATS 65, JD 60) and a neutral mode.
TAKE_AWAY_BASE = {"resume.copy": 0.45, "resume.download": 0.5}
REFINE_BASE = 0.4  # chance of one more refinement of an output with ATS score 62
PAGES = ["/editor", "/tailor", "/dashboard", "/history", "/settings"]
ELEMENTS = list(WORKSPACE_ELEMENTS)  # the app's tracking plan: what the pipeline stores


def _logistic(log_odds: float) -> float:
    return 1 / (1 + math.exp(-log_odds))


def _log_odds(chance: float) -> float:
    return math.log(chance / (1 - chance))


def take_away_chance(action: str, ats_score: int, jd_score: int, mode: str) -> float:
    """Synthetic: the chance that a user copies (or downloads) their final output rises with its scores."""
    return _logistic(
        _log_odds(TAKE_AWAY_BASE[action]) + 0.06 * (ats_score - 65) + 0.03 * (jd_score - 60) + MODE_APPEAL[mode]
    )


def refine_chance(ats_score: int) -> float:
    """Synthetic: the lower an output's ATS score, the likelier the user refines it once more."""
    return _logistic(_log_odds(REFINE_BASE) - 0.04 * (ats_score - 62))


@dataclass
class SeededPii:
    """Every PII value the generator planted, so tests can prove none survives the pipeline."""

    values: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, value: str) -> str:
        self.values.setdefault(kind, set()).add(value)
        return value

    def all_values(self) -> set[str]:
        return set().union(*self.values.values()) if self.values else set()


@dataclass
class Person:
    name: str
    email: str
    phone: str
    address: str
    profile_url: str


class SampleGenerator:
    def __init__(self, seed: int = 7, users: int = 200, text_scale: int = 1, ui_scale: int = 1):
        self.rng = random.Random(seed)
        self.fake = Faker(NAME_LOCALES)
        self.fake.seed_instance(seed)
        self.us = Faker("en_US")
        self.us.seed_instance(seed + 1)
        self.text_scale = text_scale
        self.ui_scale = ui_scale  # more UI interactions per session (real click streams are long)
        self.pii = SeededPii()
        self.user_ids = [self._user_id(i) for i in range(users)]

    # --- PII in realistic shapes --------------------------------------------------------
    def _user_id(self, index: int) -> str:
        # Some apps key users by e-mail: the raw user ID itself is then PII.
        if index % 3 == 0:
            return self.pii.add("user_id", f"{self.us.user_name()}{index}@{self.us.free_email_domain()}")
        return self.pii.add("user_id", f"usr_{uuid.UUID(int=self.rng.getrandbits(128)).hex[:16]}")

    def _name(self) -> str:
        return self.pii.add("name", f"{self.fake.first_name()} {self.fake.last_name()}")

    def _phone(self) -> str:
        a = self.rng.choice(AREA_CODES)
        b, c = self.rng.randint(201, 989), self.rng.randint(1000, 9999)
        shape = self.rng.choice(["({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "{a} {b} {c}"])
        return self.pii.add("phone", shape.format(a=a, b=b, c=c))

    def _person(self) -> Person:
        name = self._name()
        handle = self.us.user_name()
        site = self.rng.choice(["linkedin.com/in/", "github.com/", "https://www.linkedin.com/in/"])
        return Person(
            name=name,
            email=self.pii.add("email", f"{handle}@{self.us.free_email_domain()}"),
            phone=self._phone(),
            address=self.pii.add("address", self.us.street_address()),
            profile_url=self.pii.add("url", f"{site}{handle}"),
        )

    # --- documents ------------------------------------------------------------------------
    def _experience(self, title: str) -> str:
        lines = []
        for _ in range(2 + self.text_scale):
            employer = self.rng.choice(EMPLOYERS)
            start = self.rng.randint(2012, 2022)
            skills = ", ".join(self.rng.sample(SKILLS, 3))
            lines.append(
                f"{title}, {employer} ({start}-{start + self.rng.randint(1, 4)})\n"
                f"- Built and operated services with {skills}; cut costs by "
                f"{self.rng.randint(5, 40)}% over {self.rng.randint(2, 8)} years.\n"
                f"- Led a team of {self.rng.randint(2, 9)} engineers and mentored new hires."
            )
        return "\n".join(lines)

    def resume(self, person: Person) -> tuple[str, str]:
        title = self.rng.choice(TITLES)
        header = person.name.upper() if self.rng.random() < 0.5 else person.name
        referee = self._name()
        ssn_line = ""
        if self.rng.random() < 0.05:  # some applicants paste form data
            ssn = self.pii.add(
                "ssn", f"{self.rng.randint(100, 665)}-{self.rng.randint(10, 99)}-{self.rng.randint(1000, 9999)}"
            )
            ssn_line = f"SSN: {ssn}\n"
        text = (
            f"{header}\n{person.address}, {self.us.city()}, {self.us.state_abbr()}\n"
            f"{person.email} | {person.phone} | {person.profile_url}\n{ssn_line}\n"
            f"SUMMARY\n{title} with {self.rng.randint(2, 15)} years of experience in "
            f"{', '.join(self.rng.sample(SKILLS, 4))}.\n\nEXPERIENCE\n{self._experience(title)}\n\n"
            f"SKILLS\n{', '.join(self.rng.sample(SKILLS, 6))}\n\n"
            f"REFERENCES\n{referee}, {self.rng.choice(TITLES)} at {self.rng.choice(EMPLOYERS)}, "
            f"{self._phone()}"
        )
        return text, title

    def job_description(self, title: str) -> str:
        recruiter = self._name()
        email = self.pii.add("email", f"{self.us.user_name()}@{self.us.domain_name()}")
        skills = ", ".join(self.rng.sample(SKILLS, 5))
        # Longer postings at a larger text_scale (nothing extra, and no extra draws, at scale 1).
        duties = "".join(
            f"- Own {self.rng.choice(['pipelines', 'services', 'dashboards', 'models', 'releases'])} built "
            f"with {', '.join(self.rng.sample(SKILLS, 2))} and work with {self.rng.randint(2, 12)} "
            f"colleagues across product, design and operations.\n"
            for _ in range(2 * (self.text_scale - 1))
        )
        return (
            f"{self.rng.choice(EMPLOYERS)} is hiring a {title}.\n"
            f"You will design, build and run production systems using {skills}.\n{duties}"
            f"Requirements: {self.rng.randint(2, 8)}+ years of experience, strong communication.\n"
            f"Questions? Contact {recruiter} at {email} or {self._phone()}."
        )

    def tailored(self, resume_text: str, job_description: str, person: Person, round_: int) -> str:
        focus = ", ".join(self.rng.sample(SKILLS, 3))
        signoff = person.name if self.rng.random() < 0.5 else person.name.split()[0]
        return (
            f"{resume_text}\n\nTAILORED SUMMARY (v{round_})\nResults-driven professional aligned "
            f"with the role: {focus}.\n\nBest regards,\n{signoff}"
        )

    # --- events ---------------------------------------------------------------------------
    def _event(self, event_type: str, user_id: str, at: datetime, **fields) -> dict:
        return {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "event_type": event_type,
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "user_id": user_id,
            **fields,
        }

    def _interaction(self, user_id: str, at: datetime, element: str | None = None) -> dict:
        return self._event(
            "interaction",
            user_id,
            at,
            action=self.rng.choice(["click", "hover", "click", "view"]),
            element=element or self.rng.choice(ELEMENTS),
            page=self.rng.choice(PAGES),
        )

    def session(self, user_id: str, start: datetime) -> Iterator[dict]:
        """One user's visit: upload, tailor, maybe refine, then copy and/or download."""
        person = self._person()
        resume_id = f"res_{self.rng.getrandbits(48):012x}"
        resume_text, title = self.resume(person)
        at = start
        yield self._interaction(user_id, at, "upload-button")
        yield self._event("resume.upload", user_id, at, resume_id=resume_id, version=1, resume_text=resume_text)
        job_description = self.job_description(title)
        mode = self.rng.choice(MODES)
        version = 1
        tailored = self.tailored(resume_text, job_description, person, version)
        at += timedelta(seconds=self.rng.randint(20, 300))
        ats_score, jd_score = self.rng.randint(35, 90), self.rng.randint(30, 90)
        yield self._event(
            "resume.tailor",
            user_id,
            at,
            resume_id=resume_id,
            version=version,
            is_refinement=False,
            resume_text=resume_text,
            job_description=job_description,
            tailored_text=tailored,
            ats_score=ats_score,
            jd_score=jd_score,
            tailoring_mode=mode,
        )
        while self.rng.random() < refine_chance(ats_score) and version < 4:
            version += 1
            at += timedelta(seconds=self.rng.randint(30, 600))
            yield self._interaction(user_id, at, "refine-button")
            previous, tailored = tailored, self.tailored(resume_text, job_description, person, version)
            ats_score, jd_score = self.rng.randint(50, 99), self.rng.randint(45, 99)
            yield self._event(
                "resume.refine",
                user_id,
                at,
                resume_id=resume_id,
                version=version,
                is_refinement=True,
                resume_text=previous,
                job_description=job_description,
                tailored_text=tailored,
                ats_score=ats_score,
                jd_score=jd_score,
                tailoring_mode=mode,
            )
        for _ in range(self.rng.randint(0, 4 * self.ui_scale)):
            at += timedelta(seconds=self.rng.randint(1, 60))
            yield self._interaction(user_id, at)
        for action in TAKE_AWAY_BASE:
            if self.rng.random() < take_away_chance(action, ats_score, jd_score, mode):
                at += timedelta(seconds=self.rng.randint(5, 120))
                yield self._event(action, user_id, at, resume_id=resume_id, version=version)

    def malformed(self, good: dict) -> str:
        """A broken line of the kinds real logs contain, with no PII that escapes scrubbing."""
        kind = self.rng.choice(["truncated", "missing", "wrong_type", "out_of_range", "unknown_type", "duplicate"])
        broken = dict(good)
        if kind == "truncated":
            return json.dumps(good)[: self.rng.randint(5, 40)]
        if kind == "missing":
            broken.pop("user_id")
        elif kind == "wrong_type":
            broken["occurred_at"] = 1730000000
        elif kind == "out_of_range":
            broken.update(event_type="resume.tailor", resume_id="res_bad", version=1, ats_score=140)
        elif kind == "unknown_type":
            broken["event_type"] = "resume.share"
        return json.dumps(broken)

    def day_lines(self, day: date, sessions: int, malformed_share: float = 0.02) -> list[str]:
        lines = []
        for _ in range(sessions):
            start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                seconds=self.rng.randint(0, 20 * 3600)
            )
            for event in self.session(self.rng.choice(self.user_ids), start):
                lines.append(json.dumps(event))
                if self.rng.random() < malformed_share:
                    lines.append(self.malformed(event))
        return lines


def write_sample(
    out_dir: Path,
    days: int = 3,
    sessions_per_day: int = 60,
    users: int = 200,
    seed: int = 7,
    start: date = SAMPLE_START,
    text_scale: int = 1,
    malformed_share: float = 0.02,
) -> SeededPii:
    """Write ``days`` daily files under ``out_dir`` and return the PII values planted in them."""
    generator = SampleGenerator(seed=seed, users=users, text_scale=text_scale)
    for offset in range(days):
        day = start + timedelta(days=offset)
        target = Path(out_dir) / day.isoformat()
        target.mkdir(parents=True, exist_ok=True)
        lines = generator.day_lines(day, sessions_per_day, malformed_share)
        (target / SAMPLE_FILE_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return generator.pii


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/raw/events"))
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--sessions-per-day", type=int, default=60)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, default=SAMPLE_START)
    parser.add_argument("--text-scale", type=int, default=1, help="longer resumes (more jobs)")
    args = parser.parse_args(argv)
    pii = write_sample(args.out, args.days, args.sessions_per_day, args.users, args.seed, args.start, args.text_scale)
    print(f"wrote {args.days} day(s) under {args.out}; {len(pii.all_values())} distinct synthetic PII values")


if __name__ == "__main__":
    main()
