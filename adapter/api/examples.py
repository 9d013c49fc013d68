"""Response examples for the OpenAPI document, one per operation, from ``examples.json``.

The examples are real answers of the adapter running against the upstream simulator with
its demo seed (fictional people, personal data masked as every answer masks it), recorded by
``tests/integration/api/test_conventions.py`` (``WI_RECORD_API_EXAMPLES=1``), which also
checks them against the conventions (times +08:00, amounts to the fen). Long lists keep their
first items. :func:`attach` puts each on its operation's success answer.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FILE = Path(__file__).with_name("examples.json")
KEEP_ITEMS = 2  # a recorded list keeps this many items


@cache
def load() -> dict[str, Any]:
    """``{operationId: example body}``."""
    if not FILE.exists():
        return {}
    return json.loads(FILE.read_text("utf-8"))


def trim(body: Any) -> Any:
    """``body`` with every list cut to its first :data:`KEEP_ITEMS` items."""
    if isinstance(body, dict):
        return {key: trim(value) for key, value in body.items()}
    if isinstance(body, list):
        return [trim(value) for value in body[:KEEP_ITEMS]]
    return body


def attach(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the recorded example to each operation's first success answer in JSON."""
    examples = load()
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            example = examples.get(operation.get("operationId", ""))
            if example is None:
                continue
            for code, answer in sorted(operation.get("responses", {}).items()):
                media = answer.get("content", {}).get("application/json")
                if code.startswith("2") and media is not None:
                    media.setdefault("example", example)
                    break
    return schema
