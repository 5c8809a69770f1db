"""End to end from a real browser: a page imports the built JS client (clients/js/dist) in headless
Chromium, calls the app's hooks, is clicked and closed; the events reach the real API over CORS fetch
and sendBeacon, land in the raw log exactly once, and after the pipeline in DuckDB, scrubbed."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics_pipeline.raw_log import available_days
from analytics_pipeline_tests.browser import Browser, Page, chromium, static_server
from analytics_pipeline_tests.ingest_helpers import IngestServer, ingest_server, raw_event_ids
from analytics_pipeline_tests.js_client import require_built_client

BROWSER_KEY = "browser-key-not-secret"
EMAIL = "jane.synthetic@example.com"  # synthetic PII the pipeline must scrub

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>resume app</title></head>
<body>
<button id="refine" style="width:200px;height:60px">Refine</button>
<script type="module">
import * as analytics from "./dist/index.js";
const config = window.config = CONFIG;
analytics.init({ ...config, batchSize: 100, flushIntervalMs: 600000, maxRetries: 1, backoffBaseMs: 10 });
window.analytics = analytics;
window.logged = [];
const user = { userId: "synthetic-user-7" };
document.getElementById("refine").addEventListener("click", async () => {
  window.logged.push(await analytics.logInteractionEvent({ ...user, action: "click", element: "refine-button",
    page: location.pathname + "?email=" + encodeURIComponent(config.email) }));
});
window.ready = true;
</script>
</body></html>
"""

# Run in the page: the documented calls, then an explicit flush (CORS fetch with the key in a header).
FETCH_PHASE = """(async () => {
  const user = { userId: "synthetic-user-7", resumeId: "synthetic-resume-7" };
  const resume = `Jane Synthetic, data engineer. Contact ${config.email}.`;
  window.logged.push(await analytics.logResumeUploadEvent({ ...user, resumeText: resume }));
  window.logged.push(await analytics.logResumeTailoringEvent({ ...user, isRefinement: false, resumeText: resume,
    jobDescription: "Data engineer, Python and SQL.", tailoredText: resume, atsScore: 85, jdScore: 90,
    tailoringMode: "personalized", version: 1 }));
  await analytics.flush();
  return analytics.stats();
})()"""

# Queued but not flushed: these leave with the page (sendBeacon on pagehide / visibilitychange).
BEACON_PHASE = """(async () => {
  const user = { userId: "synthetic-user-7", resumeId: "synthetic-resume-7" };
  window.logged.push(await analytics.logResumeTailoringEvent({ ...user, isRefinement: true, tailoredText: "v2",
    version: 2 }));
  window.logged.push(await analytics.logResumeCopyEvent({ ...user, version: 2 }));
  const invalid = await analytics.logInteractionEvent({ userId: "u", action: "poke", element: "x" })
    .then(() => "accepted", (error) => error.name);
  return { invalid, stats: analytics.stats() };
})()"""


def write_site(root: Path, config: dict) -> Path:
    root.mkdir()
    shutil.copytree(require_built_client(), root / "dist")
    (root / "index.html").write_text(PAGE.replace("CONFIG", json.dumps(config)), encoding="utf-8")
    return root


def wait_until(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextmanager
def served_page(
    tmp_path: Path, raw_dir: Path, host: str = "127.0.0.1", **behaviour
) -> Iterator[tuple[Page, IngestServer, Browser]]:
    """The real API (allowing only the origin http://127.0.0.1:<port>) and the page opened at ``host``:<port>.
    ``behaviour`` goes to the API's test middleware (``fail_first=1`` ...)."""
    site = tmp_path / "site"
    with static_server(site) as allowed_origin:
        settings = {"allowed_origins": frozenset({allowed_origin}), "browser_write_key": BROWSER_KEY}
        with ingest_server(raw_dir, **settings, **behaviour) as api, chromium() as browser:
            write_site(site, {"endpoint": api.url, "writeKey": BROWSER_KEY, "email": EMAIL})
            page = browser.open(allowed_origin.replace("127.0.0.1", host) + "/index.html")
            page.wait_for("window.ready === true")
            yield page, api, browser


def log_from_the_browser(tmp_path: Path, raw_dir: Path) -> tuple[list[str], list[dict]]:
    """Log through fetch and beacon, click, close the page; returns the logged IDs and the POSTs' headers."""
    with served_page(tmp_path, raw_dir) as (page, api, _):
        fetched = page.evaluate(FETCH_PHASE)
        assert (fetched["sent"], fetched["dropped"], fetched["rejected"]) == (2, 0, 0)
        queued = page.evaluate(BEACON_PHASE)
        assert queued["invalid"] == "InvalidEventError"
        page.click("#refine")
        page.wait_for("window.logged.length === 5")
        assert page.evaluate("analytics.stats().queued") == 3
        logged = page.evaluate("window.logged")
        page.close()
        wait_until(lambda: raw_dir.exists() and len(raw_event_ids(raw_dir)) >= len(logged), "the beacon's events")
        time.sleep(0.5)  # a late duplicate would show up here
        assert Counter(raw_event_ids(raw_dir)) == Counter(logged)
        return logged, list(api.behaviour.seen)


@pytest.mark.slow
def test_events_from_a_real_browser_reach_the_raw_log_once_and_duckdb(pipeline, salt_env, tmp_path):
    logged, posts = log_from_the_browser(tmp_path, pipeline.raw_dir)
    content_types = [p["content-type"].split(";")[0] for p in posts]
    assert content_types == ["application/json", "text/plain"]  # one CORS fetch, then one beacon
    assert all(p["origin"] == posts[0]["origin"] for p in posts)
    assert "authorization" in posts[0] and "authorization" not in posts[1]

    # The day's partition runs once the day is over: file today's arrivals under yesterday.
    for day in available_days(pipeline.raw_dir):
        (pipeline.raw_dir / day).rename(pipeline.raw_dir / (date.fromisoformat(day) - timedelta(days=1)).isoformat())
    for day in available_days(pipeline.raw_dir):
        assert pipeline.run(day).success
    resume_rows = pipeline.query("SELECT event_id, event_type, resume_text FROM analytics.resume_events")
    interaction_rows = pipeline.query("SELECT event_id, action, element, page FROM analytics.interactions")
    assert Counter(str(r[0]) for r in resume_rows + interaction_rows) == Counter(logged)
    assert sorted(r[1] for r in resume_rows) == ["resume.copy", "resume.refine", "resume.tailor", "resume.upload"]
    # The test page's path is no route of the app's tracking plan: stored as "other", never as sent.
    assert [r[1:] for r in interaction_rows] == [("click", "refine-button", "other")]
    texts = [r[2] for r in resume_rows if r[2]]
    assert len(texts) == 2 and all(EMAIL not in t and "<EMAIL_ADDRESS_1>" in t for t in texts)


def test_a_page_on_another_origin_gets_nothing_in(tmp_path):
    """Same page, served as http://localhost:<port> while only http://127.0.0.1:<port> is allowed: CORS blocks
    its fetch, and its beacon (which CORS does not stop) reaches the API but is refused for its Origin."""
    raw_dir = tmp_path / "raw"
    with served_page(tmp_path, raw_dir, host="localhost") as (page, api, _):
        fetched = page.evaluate(FETCH_PHASE)
        assert (fetched["sent"], fetched["dropped"]) == (0, 2)  # blocked, retried once, given up
        page.evaluate(BEACON_PHASE)
        page.close()
        wait_until(
            lambda: any(p["content-type"].startswith("text/plain") for p in api.behaviour.seen),
            "the beacon to reach the API",
        )
        assert all(p["origin"].startswith("http://localhost:") for p in api.behaviour.seen)
    assert not raw_dir.exists() or raw_event_ids(raw_dir) == []


# Six resume events of ~25 kB: together more than Chromium's 64 KiB keepalive quota for beacons.
LARGE_BACKLOG = """(async () => {
  window.hidden = 0;
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") window.hidden++; });
  const text = "Experienced data engineer. ".repeat(925);
  const ids = [];
  for (let i = 0; i < 6; i++)
    ids.push(await analytics.logResumeUploadEvent({ userId: "synthetic-user-7", resumeId: "r-" + i, resumeText: text }));
  return ids;
})()"""


def test_a_tab_switch_loses_nothing_of_a_backlog_over_the_beacon_quota(tmp_path):
    raw_dir = tmp_path / "raw"
    with served_page(tmp_path, raw_dir) as (page, _api, browser):
        logged = page.evaluate(LARGE_BACKLOG)
        other = browser.open("about:blank")
        browser.devtools.call("Target.activateTarget", targetId=other.target_id)
        page.wait_for("window.hidden === 1", timeout=5)
        browser.devtools.call("Target.activateTarget", targetId=page.target_id)
        stats = page.evaluate("(async () => { await analytics.flush(); return analytics.stats(); })()")
        assert (stats["dropped"], stats["queued"], stats["sent"] + stats["beaconed"]) == (0, 0, 6)
        wait_until(lambda: raw_dir.exists() and len(raw_event_ids(raw_dir)) >= 6, "the six events", timeout=10)
        assert Counter(raw_event_ids(raw_dir)) == Counter(logged)


def test_a_batch_waiting_for_its_retry_leaves_with_the_page(tmp_path):
    """The API's first answer is a 503 (without CORS headers, as a proxy's: a network error for the page), so
    the batch sleeps in its backoff when the tab is closed: it goes out as a beacon."""
    raw_dir = tmp_path / "raw"
    with served_page(tmp_path, raw_dir, fail_first=1) as (page, api, _):
        event_id = page.evaluate("""(async () => {
          analytics.init({ ...config, flushIntervalMs: 600000, backoffBaseMs: 30000 });
          const id = await analytics.logInteractionEvent({ userId: "u-1", action: "click", element: "refine-button" });
          analytics.flush();
          return id;
        })()""")
        wait_until(lambda: len(api.behaviour.seen) == 1, "the first attempt", timeout=5)
        assert page.wait_for("analytics.stats().retried === 1", timeout=5)
        assert page.evaluate("analytics.stats().queued") == 1
        page.close()
        wait_until(lambda: raw_dir.exists() and raw_event_ids(raw_dir) == [event_id], "the beaconed event", timeout=10)
        assert api.behaviour.seen[-1]["content-type"].startswith("text/plain")


def test_an_offline_tab_switch_keeps_the_events_queued_until_the_network_is_back(tmp_path):
    """Offline (DevTools network emulation: navigator.onLine false), Chromium's sendBeacon accepts a body and
    loses it: a tab switch must hand nothing over. Back online, flush() sends the three events."""
    raw_dir = tmp_path / "raw"
    with served_page(tmp_path, raw_dir) as (page, api, browser):
        page.devtools.call("Network.enable", page.session)

        def emulate(offline: bool) -> None:
            conditions = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
            page.devtools.call("Network.emulateNetworkConditions", page.session, offline=offline, **conditions)

        emulate(offline=True)
        assert page.evaluate("navigator.onLine") is False
        logged = page.evaluate("""(async () => {
          window.hidden = 0;
          document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") window.hidden++; });
          const ids = [];
          for (let i = 0; i < 3; i++) ids.push(await analytics.logResumeCopyEvent({ userId: "u-1", resumeId: "r-" + i }));
          return ids;
        })()""")
        other = browser.open("about:blank")
        browser.devtools.call("Target.activateTarget", targetId=other.target_id)
        page.wait_for("window.hidden === 1", timeout=5)
        browser.devtools.call("Target.activateTarget", targetId=page.target_id)
        stats = page.evaluate("analytics.stats()")
        assert (stats["beaconed"], stats["queued"]) == (0, 3)
        emulate(offline=False)
        page.wait_for("navigator.onLine", timeout=5)
        stats = page.evaluate("(async () => { await analytics.flush(); return analytics.stats(); })()")
        assert (stats["sent"], stats["beaconed"], stats["dropped"], stats["queued"]) == (3, 0, 0, 0)
        assert Counter(raw_event_ids(raw_dir)) == Counter(logged)
        assert [p["content-type"].split(";")[0] for p in api.behaviour.seen] == ["application/json"]
