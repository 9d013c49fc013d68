"""IT's answers are typed: the OpenAPI document names every field of the upload queue's jobs,
summary and clearing list, the upstream call log, the HL7 message log and its reprocessing,
the audit log and the schedule — before, each was an untyped object, so a client generated
from the document saw none of them. And the lists still mask personal data — over HTTP, on
the real runtime against the simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapter.bootstrap import build_app
from adapter.settings import Settings
from adapter.store.tokens import create_token
from adapter.store.uow import UnitOfWork
from adapter.wiring.runtime import Runtime, build_runtime
from connectors.upstream.simulator import SimulatorServer
from tests.support.live import serving
from tests.support.polling import eventually
from tests.unit.hl7 import messages as m

JOB = {
    "id", "kind", "payload", "idempotency_key", "ordering_key", "deadline", "created_at",
    "status", "available_at", "attempts", "total_attempts", "last_error", "delivered_at",
    "dead_at", "leased_by", "lease_expires_at", "time_left_s", "waiting_for",
    "withdrawn_at",
}  # fmt: skip
HL7_MESSAGE = {
    "id", "received_at", "peer", "sender_application", "sender_facility", "control_id",
    "message_type", "version", "charset", "visit_number", "size", "raw", "duplicate_of",
    "ack_code", "outcome", "detail", "ack", "processed_at", "attempts",
}  # fmt: skip
CALL = {
    "id", "infno", "msgid", "context", "started_at", "duration_ms", "outcome", "http_status",
    "infcode", "err_msg", "request_body", "reply_body", "is_write", "attempt", "resent_from",
}  # fmt: skip
AT_RISK = {
    "setl_id", "slip_no", "psn_no", "encounter_id", "infno", "msgid", "month", "reason",
    "reason_label", "cutoff", "cutoff_kind", "cutoff_label", "article", "days_left",
    "delivered_at",
}  # fmt: skip
AUDIT_ENTRY = {
    "seq", "at", "actor", "role", "action", "subject_type", "subject_id", "details",
    "prev_hash", "hash", "key_id",
}  # fmt: skip
SUMMARY: dict[str, set[str] | None] = {
    "by_status": None, "by_kind": None, "oldest_pending": JOB, "next_deadline": None,
    "at_risk": None, "missed": None, "missed_today": None, "clearing_at_risk": None,
}  # fmt: skip
CLEARING: dict[str, set[str] | None] = {
    "today": None, "count": None, "settlements": AT_RISK,
    "by_cutoff": {"cutoff", "cutoff_kind", "count"},
}  # fmt: skip
SCHEDULED_JOB = {"job", "cron", "time_zone", "next_run_time"}
# operation → {field: the fields of the object it holds (None: a plain value)}
ANSWERS: dict[tuple[str, str], dict[str, set[str] | None]] = {
    ("get", "/api/v1/queue/jobs"): {"jobs": JOB},
    ("post", "/api/v1/queue/jobs/{job_id}/retry"): dict.fromkeys(JOB),
    ("post", "/api/v1/queue/jobs/{job_id}/reverse"): dict.fromkeys(JOB),
    ("get", "/api/v1/queue/summary"): SUMMARY,
    ("get", "/api/v1/queue/clearing"): CLEARING,
    ("get", "/api/v1/upstream/calls"): {"calls": CALL},
    ("post", "/api/v1/upstream/calls/{call_id}/resend"): {"output": None},
    ("get", "/api/v1/hl7/messages"): {"messages": HL7_MESSAGE},
    ("post", "/api/v1/hl7/messages/{message_id}/reprocess"): dict.fromkeys(HL7_MESSAGE),
    ("get", "/api/v1/audit"): {"entries": AUDIT_ENTRY},
    ("get", "/api/v1/audit/verify"): dict.fromkeys({"ok", "checked", "broken_seq", "problem"}),
    ("get", "/api/v1/schedule/jobs"): {"running": None, "jobs": SCHEDULED_JOB},
    ("post", "/api/v1/schedule/jobs/{job}/run"): dict.fromkeys(
        {"job", "slot", "result", "outcome", "by"}
    ),
}
TIMES = {"deadline", "created_at", "started_at", "received_at", "at", "delivered_at", "slot"}
CITIZEN_ID, NAME, PHONE = "110101199003078515", "王建国", "13812345678"


@pytest.fixture
def live(
    simulated: tuple[Settings, SimulatorServer],
) -> Iterator[tuple[str, dict[str, str], Runtime]]:
    settings, _ = simulated
    hl7 = settings.hl7.model_copy(update={"port": 0})  # any free port
    settings = settings.model_copy(update={"hl7": hl7})
    runtime = build_runtime(settings, scheduled=False)
    token = create_token(runtime.engine, "信息科-01", ["it"], datetime.now(UTC))
    with serving(build_app(settings, runtime)) as base:
        yield base, {"Authorization": f"Bearer {token}"}, runtime


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` followed (a nullable object: its non-null alternative)."""
    for alternative in node.get("anyOf", ()):
        if alternative.get("type") != "null":
            node = alternative
    if "items" in node:
        node = node["items"]
    ref = node.get("$ref")
    if ref is None:
        return node
    found: dict[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_the_openapi_document_names_every_field_of_its_answers(
    live: tuple[str, dict[str, str], Runtime],
) -> None:
    base, _, _ = live
    schema = httpx.get(f"{base}/openapi.json").json()
    unnamed = []
    for (method, path), fields in ANSWERS.items():
        answer = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        body = _resolve(schema, answer["schema"])
        properties = body.get("properties", {})
        if set(properties) != set(fields):
            unnamed.append(f"{method} {path}: {sorted(properties)}")
            continue
        for name, inner in fields.items():
            held = _resolve(schema, properties[name])
            if inner is not None and set(held.get("properties", {})) != inner:
                unnamed.append(f"{method} {path} {name}: {sorted(held.get('properties', {}))}")
            if name in TIMES:
                assert held.get("format") == "date-time", (path, name, held)
    assert not unnamed, "\n".join(unnamed)


def test_the_typed_lists_keep_personal_data_masked(
    live: tuple[str, dict[str, str], Runtime],
) -> None:
    base, it, runtime = live
    msgid = runtime.msgids.next()
    person = {"certno": CITIZEN_ID, "psn_name": NAME, "tel": PHONE}
    with UnitOfWork(runtime.engine) as uow:
        runtime.outbox.enqueue(
            uow.session,
            kind="WI2401",
            payload={"msgid": msgid, "input": {"mdtrt_id": "E1", "psn_no": "P001", **person},
                     "insuplc_admdvs": "310100", "context": "E1"},
            idempotency_key=msgid,
            ordering_key="E1",
            deadline=datetime.now(UTC) + timedelta(hours=1),
        )  # fmt: skip
        uow.commit()  # no begntime: upstream refuses it, the job goes dead
    assert runtime.hl7 is not None
    admit = m.message(
        m.msh("A01", "MSK-1"), "EVN|A01|20260301080000", m.pid(NAME, CITIZEN_ID), m.pv1("VM1")
    )
    runtime.hl7.inbound.handle(admit.encode(), "10.0.0.5")

    def dead() -> list[dict[str, Any]]:
        reply = httpx.get(f"{base}/api/v1/queue/jobs", params={"status": "dead"}, headers=it)
        return list(reply.json()["jobs"])

    (job,) = eventually(dead)
    retried = httpx.post(
        f"{base}/api/v1/queue/jobs/{job['id']}/retry",
        json={"note": f"家属电话{PHONE}，身份证{CITIZEN_ID}"},
        headers=it,
    )
    assert retried.status_code == 200, retried.text
    messages = httpx.get(f"{base}/api/v1/hl7/messages", params={"control_id": "MSK-1"}, headers=it)
    (message,) = messages.json()["messages"]
    reprocessed = httpx.post(f"{base}/api/v1/hl7/messages/{message['id']}/reprocess", headers=it)
    answers = {
        "jobs": httpx.get(f"{base}/api/v1/queue/jobs", headers=it),
        "summary": httpx.get(f"{base}/api/v1/queue/summary", headers=it),
        "retried": retried,
        "calls": httpx.get(f"{base}/api/v1/upstream/calls", params={"msgid": msgid}, headers=it),
        "messages": messages,
        "reprocessed": reprocessed,
        "audit": httpx.get(f"{base}/api/v1/audit", params={"action": "queue.retry"}, headers=it),
    }
    for what, answer in answers.items():
        assert answer.status_code == 200, (what, answer.text)
        for secret in (CITIZEN_ID, NAME, PHONE):
            assert secret not in answer.text, (what, secret, answer.text)
    (shown,) = answers["jobs"].json()["jobs"]
    assert shown["payload"]["input"]["certno"] == "110101********8515"
    assert shown["payload"]["input"]["psn_name"] == "王**"
    assert [c["request_body"]["input"]["certno"] for c in answers["calls"].json()["calls"]] == [
        "110101********8515"
    ]
    assert "PID|" in message["raw"] and "王**" in message["raw"]
    assert message["received_at"].endswith("+08:00")
    (entry,) = answers["audit"].json()["entries"]
    assert "1101" in str(entry["details"]) and entry["at"].endswith("+08:00")


@pytest.mark.parametrize("label", ["GBK", "GB2312", "GB 18030-2000"])
def test_a_message_sent_in_gbk_reads_in_chinese_in_the_it_log(
    live: tuple[str, dict[str, str], Runtime], label: str
) -> None:
    """IT reads a stored message in the charset it came in, however its MSH-18 spells the
    GB family: a GBK message was shown as UTF-8, its department and sender as \ufffd."""
    base, it, runtime = live
    assert runtime.hl7 is not None
    admit = m.message(
        m.msh("A01", "GBK-1", charset=label, sender="東軟HIS"),
        "EVN|A01|20260301080000",
        m.pid(NAME, CITIZEN_ID),
        m.pv1("VG1", department="康复医学科"),
    )
    runtime.hl7.inbound.handle(admit.encode("gb18030"), "10.0.0.5")
    reply = httpx.get(f"{base}/api/v1/hl7/messages", params={"control_id": "GBK-1"}, headers=it)
    (message,) = reply.json()["messages"]
    assert "康复医学科" in message["raw"] and "東軟HIS" in message["raw"]
    assert "\ufffd" not in message["raw"] and NAME not in message["raw"]
    assert "東軟HIS" in message["ack"]
