"""Columns of the training sets, defined once: DuckDB tables, Parquet snapshots, dataset cards, UI schemas.

Each training set lives in DuckDB schema ``training`` (asset key ``training/<name>``) and as
versioned Parquet snapshots. Every set carries ``anon_user_id`` and ``split``.
"""

from __future__ import annotations

from analytics_pipeline.schema import Column, Table

_USER_COLUMNS = (
    Column("anon_user_id", "VARCHAR", "HMAC-SHA256 pseudonym of the user (hex); the unit of the split."),
    Column("split", "VARCHAR", "train | validation | test, decided by a hash of anon_user_id."),
)
_LABEL_WINDOW_CLOSED = Column(
    "label_window_closed",
    "BOOLEAN",
    "True when the label window ended before the newest event in the data (its `occurred_at`, capped at the "
    "newest arrival: `received_at`, at most the end of its partition day, so one skewed client clock cannot "
    "close every window), so False labels are final; False for recent rows whose labels may still turn True.",
)
_SCRUBBER_VERSION = Column("scrubber_version", "VARCHAR", "PiiScrubber version that scrubbed the texts.")
# Last column of every set's DuckDB table, left out of the Parquet snapshots: it changes at every
# rebuild, so it would make identical rebuilds look different (a snapshot's card has its created_at).
LOADED_AT = Column(
    "loaded_at",
    "TIMESTAMP",
    "When training_job wrote this row to the DuckDB table (UTC); the same for every row of one rebuild. "
    "Not in the Parquet snapshots, whose dataset card has created_at.",
)
# Columns whose description starts with this are outcome labels: the dataset card reports their rates.
LABEL_PREFIX = "Label:"

TAILORING_EXAMPLES = Table(
    "training",
    "tailoring_examples",
    (
        Column("event_id", "VARCHAR", "The tailor or refine event (unique)."),
        *_USER_COLUMNS,
        Column("anon_resume_id", "VARCHAR", "HMAC-SHA256 pseudonym of the resume (hex)."),
        Column("occurred_at", "TIMESTAMP", "When the output was produced (UTC)."),
        Column("partition_date", "DATE", "Day partition the event arrived in."),
        Column("event_type", "VARCHAR", "resume.tailor or resume.refine."),
        Column("version", "INTEGER", "Resume version this output is."),
        Column("is_refinement", "BOOLEAN", "True when the output refined an earlier output."),
        Column("tailoring_mode", "VARCHAR", "Tailoring mode chosen (e.g. personalized)."),
        Column("ats_score", "DOUBLE", "ATS match score 0-100 of the output, if any."),
        Column("jd_score", "DOUBLE", "Job-description match score 0-100, if any."),
        Column("resume_text", "VARCHAR", "Input resume text (for a refinement: the previous output), scrubbed."),
        Column("job_description", "VARCHAR", "Job description, scrubbed."),
        Column("tailored_text", "VARCHAR", "The tailored output, scrubbed."),
        Column("copied", "BOOLEAN", "Label: the user copied this output within the label window."),
        Column("downloaded", "BOOLEAN", "Label: the user downloaded this output within the label window."),
        Column("refined_again", "BOOLEAN", "Label: the user refined this output within the label window."),
        Column("accepted", "BOOLEAN", "Label: copied or downloaded (the user took the output away)."),
        _LABEL_WINDOW_CLOSED,
        _SCRUBBER_VERSION,
        LOADED_AT,
    ),
)

REFINEMENT_PAIRS = Table(
    "training",
    "refinement_pairs",
    (
        Column("after_event_id", "VARCHAR", "The refine event (unique): the 'after' side."),
        Column("before_event_id", "VARCHAR", "The tailor or refine event it refined: the 'before' side."),
        *_USER_COLUMNS,
        Column("anon_resume_id", "VARCHAR", "HMAC-SHA256 pseudonym of the resume (hex)."),
        Column("occurred_at", "TIMESTAMP", "When the refinement happened (UTC)."),
        Column("partition_date", "DATE", "Day partition the refine event arrived in."),
        Column("tailoring_mode", "VARCHAR", "Tailoring mode of the refinement."),
        Column("job_description", "VARCHAR", "The job description both versions target, scrubbed."),
        Column("before_version", "INTEGER", "Version before the refinement."),
        Column("after_version", "INTEGER", "Version after the refinement (before_version + 1)."),
        Column("before_text", "VARCHAR", "Output before the refinement, scrubbed."),
        Column("after_text", "VARCHAR", "Output after the refinement, scrubbed."),
        Column("before_ats_score", "DOUBLE", "ATS score before."),
        Column("after_ats_score", "DOUBLE", "ATS score after."),
        Column("ats_score_delta", "DOUBLE", "after_ats_score - before_ats_score."),
        Column("before_jd_score", "DOUBLE", "JD score before."),
        Column("after_jd_score", "DOUBLE", "JD score after."),
        Column("jd_score_delta", "DOUBLE", "after_jd_score - before_jd_score."),
        Column("seconds_between", "DOUBLE", "Seconds from the 'before' output to the refinement."),
        Column("after_accepted", "BOOLEAN", "Label: the refined output was copied or downloaded within the window."),
        Column("after_refined_again", "BOOLEAN", "Label: the refined output was itself refined within the window."),
        _LABEL_WINDOW_CLOSED,
        _SCRUBBER_VERSION,
        LOADED_AT,
    ),
)

_COUNT = "BIGINT"
ENGAGEMENT_FEATURES = Table(
    "training",
    "engagement_features",
    (
        *_USER_COLUMNS,
        Column("activity_date", "DATE", "UTC day of the user's activity (from occurred_at)."),
        Column("events", _COUNT, "All events of the user that day."),
        Column("uploads", _COUNT, "resume.upload events."),
        Column("tailors", _COUNT, "resume.tailor events."),
        Column("refines", _COUNT, "resume.refine events."),
        Column("copies", _COUNT, "resume.copy events."),
        Column("downloads", _COUNT, "resume.download events."),
        Column("interactions", _COUNT, "UI interactions."),
        Column("clicks", _COUNT, "Interactions with action click."),
        Column("hovers", _COUNT, "Interactions with action hover."),
        Column("focuses", _COUNT, "Interactions with action focus."),
        Column("scrolls", _COUNT, "Interactions with action scroll."),
        Column("views", _COUNT, "Interactions with action view."),
        Column("submits", _COUNT, "Interactions with action submit."),
        Column("element_counts", "MAP(VARCHAR, BIGINT)", "Interactions per UI element (element -> count)."),
        Column("resumes", _COUNT, "Distinct resumes worked on."),
        Column("did_upload", "BOOLEAN", "Funnel step 1: uploaded a resume."),
        Column("did_tailor", "BOOLEAN", "Funnel step 2: tailored or refined a resume."),
        Column("did_export", "BOOLEAN", "Funnel step 3: copied or downloaded a resume."),
        Column(
            "funnel_depth", "INTEGER", "Deepest funnel step reached that day: 0 none, 1 upload, 2 tailor, 3 export."
        ),
        Column("first_event_at", "TIMESTAMP", "First event of the day (UTC)."),
        Column("first_download_at", "TIMESTAMP", "First download of the day (UTC), if any."),
        Column(
            "seconds_to_first_download",
            "DOUBLE",
            "Seconds from the first event of the day to the first download; NULL without one.",
        ),
        LOADED_AT,
    ),
)

TRAINING_TABLES = {t.name: t for t in (TAILORING_EXAMPLES, REFINEMENT_PAIRS, ENGAGEMENT_FEATURES)}


def snapshot_columns(table: Table) -> list[Column]:
    """The columns of a set's Parquet snapshot: the table's, without ``loaded_at``."""
    return [c for c in table.columns if c is not LOADED_AT]


def label_columns(table: Table) -> list[str]:
    """The outcome labels of a set (``accepted``, ...); none for engagement features."""
    return [c.name for c in table.columns if c.description.startswith(LABEL_PREFIX)]
