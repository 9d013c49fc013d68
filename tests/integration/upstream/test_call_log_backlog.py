"""The call log never drops a row silently (issue 14, item 2): a record the database cannot
take now (every pooled connection busy) waits and is written with the next one; only past
the backlog's bound is one given up — logged and counted in a metric."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select, text

from adapter.store.db import make_engine
from connectors.upstream.call_log import CallLog, CallLogMetrics, upstream_call
from connectors.upstream.records import CallRecord


def record(msgid: str) -> CallRecord:
    return CallRecord(
        infno="WI1101",
        msgid=msgid,
        context="enc-1",
        started_at=datetime.now(UTC),
        duration_ms=400,
        outcome="ok",
        http_status=200,
        infcode=0,
        err_msg="",
        request_body={"infno": "WI1101", "msgid": msgid, "input": {}},
        reply_body={"infcode": 0},
        is_write=False,
    )


def stored(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(select(upstream_call.c.msgid).order_by(upstream_call.c.id))
        return [row[0] for row in rows]


@pytest.fixture
def tiny(db_url: str) -> Engine:
    engine = make_engine(db_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    CallLog(engine).create_tables()
    yield engine
    engine.dispose()


def test_a_record_the_busy_database_refused_is_written_with_the_next_one(tiny: Engine) -> None:
    log = CallLog(tiny)
    held = tiny.connect()
    held.execute(text("SELECT 1"))
    log.record(record("M1"))  # every connection busy: waits in memory
    assert (log.waiting, log.written, log.dropped) == (1, 0, 0)
    held.close()
    assert stored(tiny) == []
    log.record(record("M2"))
    assert stored(tiny) == ["M1", "M2"]
    assert (log.waiting, log.written, log.dropped) == (0, 2, 0)


def test_past_the_backlog_bound_the_oldest_is_given_up_logged_and_counted(
    tiny: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    log = CallLog(tiny, backlog_limit=2)
    registry = CollectorRegistry()
    CallLogMetrics(log).register(registry)
    held = tiny.connect()
    held.execute(text("SELECT 1"))
    with caplog.at_level(logging.WARNING, logger="connectors.upstream"):
        for msgid in ("M1", "M2", "M3"):
            log.record(record(msgid))
    held.close()
    dropped = [r for r in caplog.records if r.getMessage() == "upstream_call_log_dropped"]
    assert [getattr(r, "msgid", "") for r in dropped] == ["M1"]
    assert (
        registry.get_sample_value("adapter_upstream_call_log_records_total", {"result": "dropped"})
        == 1
    )
    assert registry.get_sample_value("adapter_upstream_call_log_backlog") == 2

    assert log.flush() == 0  # at shutdown: what waits is written
    assert stored(tiny) == ["M2", "M3"]
    assert (
        registry.get_sample_value("adapter_upstream_call_log_records_total", {"result": "written"})
        == 2
    )
    assert registry.get_sample_value("adapter_upstream_call_log_backlog") == 0
