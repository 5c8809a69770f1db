"""Why a warning check failed, in one sentence for the check's description (the UI and `make run` show it).

Synthetic samples (``sample_data``: the committed one, dated November 2026, or ``analytics-pipeline
sample``) plant malformed lines and lie in the past, so two of the warnings are expected on them; the
sentence says so when the day's raw files are such a sample.
"""

from __future__ import annotations

from datetime import date

# The committed sample and `analytics-pipeline sample` write the same file name: one hint fits both.
SAMPLE_QUARANTINE_HINT = (
    " This day is synthetic sample data (the committed synthetic sample or `analytics-pipeline sample`), "
    "which plants ~2% malformed lines on purpose: expected here."
)
SAMPLE_FRESHNESS_HINT = (
    " It is synthetic sample data (the committed synthetic sample or `analytics-pipeline sample`), dated in "
    "the past, so it goes stale by design: expected here."
)


def quarantine_rate_reason(quarantined: int, lines_read: int, max_rate: float, sample: bool) -> str:
    rate = quarantined / lines_read if lines_read else 0.0
    reason = (
        f"{quarantined} of {lines_read} raw lines quarantined ({rate:.1%}), above the {max_rate:.1%} threshold "
        "(ANALYTICS_MAX_QUARANTINE_RATE); analytics.quarantine says why per line (reason_code)."
    )
    return reason + (SAMPLE_QUARANTINE_HINT if sample else "")


def freshness_reason(latest: date | None, age_days: int | None, max_age_days: int, sample: bool) -> str:
    if latest is None:
        return "No partition is loaded yet."
    reason = (
        f"The newest loaded partition, {latest.isoformat()}, is {age_days} days old; at most {max_age_days} "
        "allowed (ANALYTICS_FRESHNESS_MAX_AGE_DAYS). Is the daily schedule running?"
    )
    return reason + (SAMPLE_FRESHNESS_HINT if sample else "")


def lateness_reason(violations: dict[str, list[str]], day: date, lateness_days: int) -> str:
    parts = []
    if future := len(violations.get("in_future", [])):
        parts.append(f"{future} events occurred in the future")
    if late := len(violations.get("too_late", [])):
        parts.append(
            f"{late} events occurred more than {lateness_days} days before their arrival day {day.isoformat()}"
        )
    return (
        "; ".join(parts) + " (ANALYTICS_LATENESS_DAYS). Client clocks or long-delayed uploads; "
        "the events are loaded all the same, event_ids lists them."
    )


def canary_reason(survived: dict[str, int], planted: int, texts: int) -> str:
    kinds = ", ".join(f"{kind} {n}" for kind, n in survived.items())
    return (
        f"{sum(survived.values())} of {planted} synthetic canaries planted in {texts} of the day's texts survived "
        f"the scrubber ({kinds}): its recall on this day's kind of text; no_residual_pii gates the real data."
    )
