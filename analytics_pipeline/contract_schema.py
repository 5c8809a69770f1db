"""The event contract as JSON Schema, for clients outside Python (the browser logger in ``clients/js``).

The committed copy (``clients/js/src/contract.schema.json``) is generated from the pydantic models;
a test regenerates it and fails when the two differ. Regenerate with
``python -m analytics_pipeline.contract_schema``.
"""

from __future__ import annotations

import json
from pathlib import Path

from analytics_pipeline.contract import EVENT_ADAPTER

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "clients" / "js" / "src" / "contract.schema.json"


def event_json_schema_text() -> str:
    """The contract's JSON Schema (validation mode), serialised stably."""
    return json.dumps(EVENT_ADAPTER.json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(event_json_schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
