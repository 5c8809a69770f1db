"""The sentences a failed warning check gives as its description."""

from datetime import date

from analytics_pipeline.quality.explain import canary_reason, freshness_reason, lateness_reason, quarantine_rate_reason
from analytics_pipeline.raw_log import SAMPLE_FILE_NAME, is_sample_day


def test_quarantine_rate_says_rate_threshold_and_the_sample_hint_only_for_the_sample():
    reason = quarantine_rate_reason(10, 432, 0.01, sample=False)
    assert reason.startswith("10 of 432 raw lines quarantined (2.3%), above the 1.0% threshold")
    assert "sample" not in reason
    assert "plants ~2% malformed lines" in quarantine_rate_reason(10, 432, 0.01, sample=True)


def test_freshness_says_age_and_limit():
    reason = freshness_reason(date(2026, 11, 4), 24, 2, sample=True)
    assert reason.startswith("The newest loaded partition, 2026-11-04, is 24 days old; at most 2 allowed")
    assert "goes stale by design" in reason
    assert freshness_reason(None, None, 2, sample=False) == "No partition is loaded yet."


def test_lateness_counts_each_rule():
    reason = lateness_reason({"too_late": ["a", "b"]}, date(2026, 11, 3), 7)
    assert reason.startswith("2 events occurred more than 7 days before their arrival day 2026-11-03")
    assert "future" not in reason


def test_canary_reason_names_the_surviving_types():
    assert canary_reason({"street_address": 1}, 100, 20).startswith(
        "1 of 100 synthetic canaries planted in 20 of the day's texts survived the scrubber (street_address 1)"
    )


def test_only_a_day_made_entirely_of_sample_files_is_the_sample(tmp_path):
    day = tmp_path / "2026-11-02"
    day.mkdir()
    assert not is_sample_day(tmp_path, "2026-11-02")
    (day / SAMPLE_FILE_NAME).write_text("{}\n")
    assert is_sample_day(tmp_path, "2026-11-02")
    (day / "events-host-12.jsonl").write_text("{}\n")
    assert not is_sample_day(tmp_path, "2026-11-02")
