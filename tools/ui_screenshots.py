"""Screenshots of the Dagster UI's asset pages in headless Chromium: what an operator sees, as PNGs.

    python -m tools.ui_screenshots [--url http://127.0.0.1:3000] [--out data/screenshots]

Reads a running webserver (``make dev``); writes one PNG per page and prints its path, with any text on
the page that would mislead an operator ("Never materialized" on the raw log, a check "Execution failed").
``test_ui.py`` takes the same screenshots of its own webserver and asserts that none has such text.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from analytics_pipeline_tests.browser import Page, chromium

# The asset pages the UI opens for the raw log, the checked tables and the whole-table users: a path on the
# webserver, and the screenshots taken there in turn, each after clicking a tab or toggle (or nothing).
PAGES = {
    "/assets/raw/events": [("raw_events_overview", None), ("raw_events_plots", "Plots")],
    "/assets/raw/events?view=partitions": [("raw_events_partitions", None)],
    "/assets/staging/scrubbed_events?view=checks": [("scrubbed_events_checks", None)],
    "/assets/analytics/resume_events?view=checks": [
        ("resume_events_checks", None),
        ("resume_events_check_history", "Execution history"),
    ],
    "/assets/analytics/users": [("users_overview", None)],
}
MISLEADING = ("Never materialized", "Execution failed")
SETTLE_SECONDS = 1.5  # the page text unchanged this long: the UI's queries have answered
SETTLE_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Screenshot:
    name: str
    png: Path
    text: str

    @property
    def misleading(self) -> list[str]:
        return [phrase for phrase in MISLEADING if phrase in self.text]


def settled_text(page: Page) -> str:
    """The page's text once it has stopped changing (the UI renders as its GraphQL queries answer), or as
    it is after ``SETTLE_TIMEOUT_SECONDS`` on a page that never stops (a live clock)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    text, since = "", time.monotonic()
    while time.monotonic() < deadline:
        current = page.evaluate("document.body ? document.body.innerText : ''")
        if current != text:
            text, since = current, time.monotonic()
        elif text and "Loading" not in text and time.monotonic() - since >= SETTLE_SECONDS:
            break
        time.sleep(0.25)
    return text


def dismiss_welcome_dialog(url: str) -> None:
    """What the UI's "Skip" on its "Join the Dagster community" dialog sends; else it covers every page."""
    request = urllib.request.Request(
        url.rstrip("/") + "/graphql",
        data=json.dumps({"query": "mutation SetNuxSeen { setNuxSeen }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def click_text(page: Page, text: str) -> None:
    """Click the innermost element that reads exactly ``text`` (a tab, a toggle), once the page shows it."""
    page.wait_for(
        "(() => { const matches = [...document.querySelectorAll('button, a, [role=tab], span, div')]"
        f".filter(e => e.innerText && e.innerText.trim() === {json.dumps(text)});"
        " const target = matches[matches.length - 1]; if (target) target.click(); return !!target; })()",
        timeout=SETTLE_TIMEOUT_SECONDS,
    )


def take_screenshots(url: str, out: Path, pages: dict[str, list[tuple[str, str | None]]] = PAGES) -> list[Screenshot]:
    """The screenshots of ``pages`` (path on the webserver at ``url`` -> name and click of each), under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    dismiss_welcome_dialog(url)
    shots = []
    with chromium() as browser:
        for path, views in pages.items():
            page = browser.open(url.rstrip("/") + path)
            text = settled_text(page)
            for name, click in views:
                if click:
                    click_text(page, click)
                    text = settled_text(page)
                shots.append(Screenshot(name, page.screenshot(out / f"{name}.png"), text))
            page.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the Dagster webserver (make dev)")
    parser.add_argument("--out", type=Path, default=Path("data/screenshots"), help="where the PNGs go")
    args = parser.parse_args(argv)
    shots = take_screenshots(args.url, args.out)
    for shot in shots:
        print(f"{shot.png}" + (f"  shows: {', '.join(shot.misleading)}" if shot.misleading else ""))
    return 1 if any(shot.misleading for shot in shots) else 0


if __name__ == "__main__":
    sys.exit(main())
