"""The parts of Twilio's OpenAPI description (twilio_api_v2010.json) robocall relies on."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# The full description, as published in twilio/twilio-oai (not kept in this repository).
FULL = Path(
    os.environ.get(
        "ROBOCALL_TWILIO_OPENAPI", ROOT.parent / "shared" / "reference" / "twilio_api_v2010.json"
    )
)
# The same operations and schemas, extracted by `extract` below.
SUBSET = ROOT / "tests" / "payloads" / "twilio_api_v2010_subset.json"
OPERATIONS = ("CreateCall", "FetchCall", "UpdateCall", "ListCall", "CreateMessage", "FetchMessage")


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    """The operations robocall uses, and every schema they refer to."""
    operations: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") in OPERATIONS:
                operations[operation["operationId"]] = {
                    "path": path,
                    "method": method,
                    **{
                        k: operation[k]
                        for k in ("parameters", "requestBody", "responses")
                        if k in operation
                    },
                }
    schemas = spec["components"]["schemas"]
    wanted = sorted(
        name
        for name in schemas
        if name in {"api.v2010.account.call", "api.v2010.account.message"}
        or name.startswith(("call_enum_", "message_enum_"))
    )
    return {"operations": operations, "schemas": {name: schemas[name] for name in wanted}}


def load() -> dict[str, Any]:
    """The subset, from the full description when it is at hand (checked to match)."""
    subset: dict[str, Any] = json.loads(SUBSET.read_text(encoding="utf-8"))
    if FULL.exists():
        fresh = extract(json.loads(FULL.read_text(encoding="utf-8")))
        assert fresh == subset, f"{SUBSET.name} differs from {FULL}: regenerate it"
    return subset


if __name__ == "__main__":
    SUBSET.write_text(
        json.dumps(extract(json.loads(FULL.read_text(encoding="utf-8"))), indent=1, sort_keys=True)
        + "\n",
        encoding="utf-8",
    )
