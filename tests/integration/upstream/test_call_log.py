"""The call log on SQLite and PostgreSQL: durable, masked, searchable, survives a rollback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select

from adapter.domain.errors import NotFound, UpstreamRejected
from adapter.domain.upstream import CertType, Infno
from connectors.upstream.call_log import CallLog, ResendRefused
from connectors.upstream.client import ReferenceClient
from connectors.upstream.simulator import SimulatorServer

from .conftest import Msgids, make_config

CITIZEN_ID = "310102197803141310"


@pytest.fixture
def call_log(engine: Engine) -> CallLog:
    log = CallLog(engine)
    log.create_tables()
    return log


@pytest.fixture
def logged_client(sim: SimulatorServer, call_log: CallLog):
    with ReferenceClient.from_config(make_config(sim.url), recorder=call_log) as client:
        client.sign_in(context="start-of-day")
        yield client


def test_every_call_is_stored_masked_and_found_by_context_msgid_and_infno(
    logged_client: ReferenceClient, call_log: CallLog, msgid: Msgids
) -> None:
    logged_client.query_person(CertType.CITIZEN_ID, CITIZEN_ID, context="enc-7")
    admission = msgid()
    logged_client.submit(
        Infno.ADMISSION,
        admission,
        {"mdtrt_id": "E7", "psn_no": "P001", "begntime": "2026-11-24 09:00:00"},
        context="enc-7",
    )
    calls = call_log.search(context="enc-7")
    assert [c.infno for c in calls] == ["WI2401", "WI1101"]
    stored = json.dumps([(c.request_body, c.reply_body) for c in calls], ensure_ascii=False)
    assert CITIZEN_ID not in stored and "王建国" not in stored and "310100A0001" not in stored
    [write] = call_log.search(msgid=admission)
    assert write.is_write and write.outcome == "ok" and write.infcode == 0
    assert write.started_at.tzinfo is not None and write.duration_ms >= 0
    [sign_in] = call_log.search(infno="WI9001")
    assert sign_in.context == "start-of-day" and not sign_in.is_write


def test_a_refusal_is_logged_with_upstreams_message(
    logged_client: ReferenceClient, call_log: CallLog
) -> None:
    with pytest.raises(UpstreamRejected):
        logged_client.query_person(CertType.CITIZEN_ID, "110101199001011237", context="enc-8")
    [call] = call_log.search(context="enc-8")
    assert (call.outcome, call.infcode) == ("rejected", -1)
    assert call.err_msg == "未查询到该人员的工伤保险参保信息"
    assert call_log.search(outcome="rejected") == [call]


def test_search_by_time_range(logged_client: ReferenceClient, call_log: CallLog) -> None:
    logged_client.query_filings("P001", context="enc-9")
    now = datetime.now(UTC)
    assert len(call_log.search(since=now - timedelta(minutes=5), until=now + timedelta(minutes=5)))
    assert call_log.search(since=now + timedelta(minutes=5)) == []
    assert call_log.search(until=now - timedelta(minutes=5)) == []


def test_the_log_survives_a_rolled_back_business_transaction(
    engine: Engine, logged_client: ReferenceClient, call_log: CallLog
) -> None:
    business = Table("business_row", MetaData(), Column("id", Integer, primary_key=True),
                     Column("note", String(20)))  # fmt: skip
    business.metadata.create_all(engine)
    with pytest.raises(RuntimeError), engine.begin() as connection:
        filings = logged_client.query_filings("P001", context="enc-rollback")
        connection.execute(insert(business).values(note=filings[0].filing_no))
        raise RuntimeError("the use case fails after calling upstream")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(business)).scalar() == 0
    assert [c.infno for c in call_log.search(context="enc-rollback")] == ["WI1201"]


def test_a_logged_read_can_be_resent_and_a_write_cannot(
    logged_client: ReferenceClient, call_log: CallLog, msgid: Msgids
) -> None:
    logged_client.query_filings("P002", context="enc-10")
    [read] = call_log.search(context="enc-10")
    output = call_log.resend(read.id, logged_client)
    assert [f["filing_no"] for f in output["filings"]] == ["F002"]
    resent = call_log.search(context="enc-10")[0]
    assert resent.resent_from == read.id and resent.msgid != read.msgid

    logged_client.submit(
        Infno.DEVICE_FUNDS_CONFIRM,
        msgid(),
        {"month": "2026-10", "amount": "1.00"},
        context="enc-11",
    )
    [write] = call_log.search(context="enc-11")
    with pytest.raises(ResendRefused, match="上传队列"):
        call_log.resend(write.id, logged_client)
    with pytest.raises(NotFound):
        call_log.resend(999_999, logged_client)


def test_a_masked_read_needs_the_real_values_to_be_resent(
    logged_client: ReferenceClient, call_log: CallLog
) -> None:
    logged_client.query_person(CertType.CITIZEN_ID, CITIZEN_ID, context="enc-12")
    [read] = call_log.search(context="enc-12")
    with pytest.raises(ResendRefused, match="脱敏"):
        call_log.resend(read.id, logged_client)
    output = call_log.resend(read.id, logged_client, overrides={"mdtrt_cert_no": CITIZEN_ID})
    assert output["baseinfo"]["psn_no"] == "P001"
