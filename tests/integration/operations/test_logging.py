"""The log IT reads: a settle-to-upload run can be followed line by line, personal data masked.

The real runtime (services, store, upload queue, MLLP listener, simulator over real HTTP)
logs through :mod:`adapter.logs` into a file, as ``serve`` configures it from ``[logging]``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from adapter import logs
from tests.e2e.hl7_rest import (
    CITIZEN_ID,
    SHANGHAI,
    ack_code,
    msh,
    send,
    settle_over_rest,
    visit_segments,
)
from tests.integration.operations.conftest import live_adapter
from tests.support.polling import eventually


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Path]:
    file = tmp_path / "logs" / "adapter.log"
    root = logging.getLogger()
    level = root.level
    logs.configure(level="INFO", style="json", file=str(file), max_bytes=1 << 20, backup_count=2)
    try:
        yield file
    finally:
        logs.unconfigure()
        root.setLevel(level)


@pytest.fixture
def adapter(db_url: str, engine: Engine) -> Iterator[tuple[str, int, dict[str, str]]]:
    with live_adapter(db_url, engine) as running:
        yield running.base, running.port, running.headers


def lines(file: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line]


def test_the_log_follows_admission_settlement_and_upload_with_personal_data_masked(
    logged: Path, adapter: tuple[str, int, dict[str, str]]
) -> None:
    base, port, headers = adapter
    discharged = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
    admitted = discharged - timedelta(days=3)
    settle_over_rest(base, headers, admitted, discharged)
    a01 = "\r".join([msh("A01", "LOGC1"), "EVN|A01", *visit_segments("HVLOG1", admitted)])
    answered = ack_code(send(port, a01 + "\r"))  # AA or AR: either is logged with its code

    def delivered() -> dict[str, Any] | None:
        found = [e for e in lines(logged) if e["event"] == "job_delivered"]
        return next((e for e in found if e["kind"] == "WI2301"), None)

    upload = eventually(delivered)
    encounter, msgid = upload["encounter"], upload["msgid"]
    events = lines(logged)
    for event in events:  # every line: time in the site's zone, level, logger, event
        assert event["time"].endswith("+08:00"), event
        assert event["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        assert event["logger"] and event["event"]
    chain = [e for e in events if encounter in (e.get("encounter"), e.get("encounter_id"))]
    admission = next(e for e in chain if e.get("infno") == "WI2401")
    settle = next(
        e for e in chain if e["event"] == "http.request" and e["route"].endswith("/settle")
    )
    sent = next(e for e in chain if e.get("infno") == "WI2301" and e["outcome"] == "ok")
    assert settle["status"] == 201 and settle["method"] == "POST"
    assert len(settle["request_id"]) >= 8  # every HTTP line carries its request's id
    # and so does every line logged while the request ran: the identity re-check at settlement
    during = [e for e in chain if e.get("request_id") == settle["request_id"]]
    assert {e["infno"] for e in during if e["event"] == "upstream.call"} >= {"WI1101"}
    assert sent["msgid"] == msgid
    # the request's own line is written when its answer is sent, and the queue may deliver
    # the upload it committed before that: the order that holds is the business one
    worked = [e for e in during if e["event"] != "http.request"]
    order = [events.index(e) for e in (admission, *worked, sent, upload)]
    assert order == sorted(order), "admission → settle → upload → delivered"
    assert events.index(admission) < events.index(settle)
    hl7 = next(e for e in events if e["event"] == "hl7.message" and e["control_id"] == "LOGC1")
    assert hl7["type"] == "ADT^A01" and hl7["ack_code"] == answered
    text = logged.read_text(encoding="utf-8")
    assert CITIZEN_ID not in text


def test_personal_data_in_fields_and_text_is_masked_as_the_pages_mask_it() -> None:
    formatter = logs.StructuredFormatter("kv")
    record = logging.LogRecord("adapter", logging.INFO, __file__, 1, "identity.checked", None, None)
    record.__dict__.update(
        certno=CITIZEN_ID,
        psn_name="王建国",
        note=f"card of {CITIZEN_ID} read",
        card_no="310100A0001",
    )
    line = formatter.format(record)
    assert CITIZEN_ID not in line and "王建国" not in line and "310100A0001" not in line
    assert "certno=310102********1310" in line and "psn_name=王**" in line
    assert " INFO adapter identity.checked " in line


def test_a_line_logged_with_printf_arguments_keeps_its_event_name_and_masks_the_text() -> None:
    formatter = logs.StructuredFormatter("json")
    record = logging.LogRecord(
        "upload_queue", logging.ERROR, __file__, 1, "job_dead job_id=%s error=%s", (7, CITIZEN_ID),
        None,
    )  # fmt: skip
    line = json.loads(formatter.format(record))
    assert line["event"] == "job_dead"
    assert line["message"] == "job_dead job_id=7 error=310102********1310"


def test_the_demo_s_in_process_simulator_leaves_uvicorn_s_lines_in_the_log(logged: Path) -> None:
    """`wi-adapter demo` printed "INFO:     Started server process [10659]" and uvicorn's
    other lines as plain text among the JSON lines, and a log file never got them: the
    simulator it starts in process configured uvicorn's loggers with uvicorn's own handlers
    (its default log config), which replaced the adapter's."""
    from connectors.upstream.simulator.server import start_simulator
    from tests.support.ports import free_port

    simulator = start_simulator(host="127.0.0.1", port=free_port())
    try:
        logging.getLogger("uvicorn.error").warning("Started server process [%d]", 4242)
    finally:
        simulator.stop()
    last = lines(logged)[-1]
    assert last["logger"] == "uvicorn.error" and last["level"] == "WARNING"
    assert last["event"] == "Started server process [4242]"


def test_printing_a_pdf_slip_adds_no_font_library_chatter_to_the_log(logged: Path) -> None:
    """Each PDF slip wrote some 40 INFO lines of fontTools' subsetting ("Glyph IDs: [0, 1,
    …]", "glyf pruned", "GSUB dropped") into the log IT reads, as events of their own."""
    from adapter.web.slip_pdf import find_font, render_pdf
    from tests.integration.web.test_slip_pdf_lines import ZONE, _slip

    render_pdf(_slip(3), find_font(), ZONE, datetime.now(SHANGHAI))
    logging.getLogger("adapter").info("slip.printed")
    assert [e["logger"] for e in lines(logged)] == ["adapter"]
