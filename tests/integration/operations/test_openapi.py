"""The OpenAPI document as the HIS team reads it: named operations, the slip's two media."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from adapter.bootstrap import build_app
from adapter.settings import load_settings
from adapter.store.migrate import upgrade
from adapter.wiring.runtime import build_runtime


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_operations_have_explicit_ids_and_the_slip_documents_html_and_pdf(
    db_url: str, engine: Engine
) -> None:
    upgrade(engine)
    settings = load_settings(database={"url": db_url})
    runtime = build_runtime(settings, engine=engine, workers=0, hl7=False, scheduled=False)
    schema: dict[str, Any] = build_app(settings, runtime).openapi()
    operations = {
        (path, method): op for path, item in schema["paths"].items() for method, op in item.items()
    }
    ids = [op["operationId"] for op in operations.values()]
    assert len(ids) == len(set(ids))
    assert not [i for i in ids if "api_v1" in i]  # not generated from the path
    assert operations[("/api/v1/encounters", "post")]["operationId"] == "encounters_admit"
    slip = operations[("/api/v1/settlements/{settlement_id}/slip", "get")]["responses"]
    assert set(slip["200"]["content"]) == {"text/html", "application/pdf"}
    assert "SLIP_FONT_MISSING" in slip["503"]["description"]
    for path in ("/livez", "/readyz", "/healthz"):
        assert path in schema["paths"]
