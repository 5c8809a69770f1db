"""The built JavaScript client (``clients/js/dist``) for the Python tests that use it.

``make test`` builds it (``npm ci && npm run build``) before pytest runs; a missing build is a
failure with instructions, never a skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

CLIENT_DIR = Path(__file__).resolve().parent.parent / "clients" / "js"
DIST = CLIENT_DIR / "dist"

_VALIDATE_STDIN = """
import { readFileSync } from "node:fs";
import { validate } from "./dist/validate.js";
import { contractSchema } from "./dist/contract-schema.generated.js";
const cases = JSON.parse(readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map((event) => validate(contractSchema, event))));
"""


def require_built_client() -> Path:
    """``clients/js/dist``, or an AssertionError that says how to build it."""
    assert (DIST / "index.js").is_file(), (
        "the JS client is not built: run `make test` or `cd clients/js && npm ci && npm run build`"
    )
    return DIST


def js_validation_errors(events: list) -> list[list[str]]:
    """The built client's validator run on ``events`` (one node process for all)."""
    require_built_client()
    node = shutil.which("node")
    assert node, "node is not installed (see README: Use from the web app)"
    result = subprocess.run(
        [node, "--input-type=module", "-e", _VALIDATE_STDIN],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        cwd=CLIENT_DIR,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)
