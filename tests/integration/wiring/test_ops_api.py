"""IT's REST surface on the real runtime: dead letters re-sent with a corrected payload,
the call log searched, the audit chain verified — over HTTP, against the simulator."""

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


@pytest.fixture
def ops(
    simulated: tuple[Settings, SimulatorServer],
) -> Iterator[tuple[str, dict[str, str], Runtime, Any]]:
    settings, simulator = simulated
    runtime = build_runtime(settings)
    now = datetime.now(UTC)
    it = create_token(runtime.engine, "信息科-01", ["it"], now)
    clerk = create_token(runtime.engine, "住院处-01", ["admission"], now)
    with serving(build_app(settings, runtime)) as base:
        yield base, {"it": it, "admission": clerk}, runtime, simulator


def _enqueue_admission(
    runtime: Runtime, input: dict[str, Any], due_in: timedelta = timedelta(hours=1)
) -> str:
    msgid = runtime.msgids.next()
    with UnitOfWork(runtime.engine) as uow:
        runtime.outbox.enqueue(
            uow.session,
            kind="WI2401",
            payload={"msgid": msgid, "input": input, "insuplc_admdvs": "310100", "context": "E1"},
            idempotency_key=msgid,
            ordering_key="E1",
            deadline=datetime.now(UTC) + due_in,
        )
        uow.commit()
    return msgid


def test_a_dead_upload_is_resent_with_a_corrected_payload(
    ops: tuple[str, dict[str, str], Runtime, Any],
) -> None:
    base, tokens, runtime, simulator = ops
    it = {"Authorization": f"Bearer {tokens['it']}"}
    msgid = _enqueue_admission(runtime, {"mdtrt_id": "E1", "psn_no": "P001"})  # begntime missing

    def dead() -> list[dict[str, Any]]:
        reply = httpx.get(f"{base}/api/v1/queue/jobs", params={"status": "dead"}, headers=it)
        return list(reply.json()["jobs"])

    (job,) = eventually(dead)
    assert job["idempotency_key"] == msgid and job["kind"] == "WI2401"
    assert "begntime" in job["last_error"]  # upstream's own message, for IT to act on

    corrected = dict(job["payload"])
    corrected["input"] = {**corrected["input"], "begntime": "2026-11-24 09:00:00"}
    reply = httpx.post(
        f"{base}/api/v1/queue/jobs/{job['id']}/retry",
        json={"payload": corrected, "note": "补入院时间"},
        headers=it,
    )
    assert reply.status_code == 200, reply.text

    def delivered() -> bool:
        reply = httpx.get(f"{base}/api/v1/queue/jobs", params={"status": "delivered"}, headers=it)
        return any(j["id"] == job["id"] for j in reply.json()["jobs"])

    eventually(delivered)
    # upstream answers a repeated msgid with its first reply, so the re-send needs a new one
    (resent,) = httpx.get(
        f"{base}/api/v1/queue/jobs", params={"status": "delivered"}, headers=it
    ).json()["jobs"]
    new_msgid = resent["payload"]["msgid"]
    assert new_msgid != msgid and resent["payload"]["refused_msgids"] == [msgid]
    received = httpx.get(f"{simulator.url}/_sim/received", params={"msgid": new_msgid}).json()
    (write,) = received["writes"]
    assert write["took_effect"] and write["times_received"] == 1
    assert write["input"]["begntime"] == "2026-11-24 09:00:00"

    summary = httpx.get(f"{base}/api/v1/queue/summary", headers=it).json()
    assert summary["by_status"]["delivered"] == 1 and summary["by_status"]["dead"] == 0

    refused = httpx.get(f"{base}/api/v1/upstream/calls", params={"msgid": msgid}, headers=it)
    accepted = httpx.get(f"{base}/api/v1/upstream/calls", params={"msgid": new_msgid}, headers=it)
    assert [c["infcode"] for c in refused.json()["calls"]] == [-1]
    assert [c["infcode"] for c in accepted.json()["calls"]] == [0]

    entries = httpx.get(f"{base}/api/v1/audit", params={"action": "queue.retry"}, headers=it)
    (entry,) = entries.json()["entries"]
    assert entry["actor"] == "信息科-01" and entry["details"]["payload_corrected"] is True
    assert httpx.get(f"{base}/api/v1/audit/verify", headers=it).json()["ok"] is True


def test_a_deadline_missed_today_stays_in_the_summary_after_a_late_delivery(
    ops: tuple[str, dict[str, str], Runtime, Any],
) -> None:
    """interfaces.md: the summary shows the deadline misses of today; ``missed`` is what is
    overdue now and drops to 0 once the late job is delivered, ``missed_today`` stays."""
    base, tokens, runtime, _ = ops
    it = {"Authorization": f"Bearer {tokens['it']}"}
    fresh = httpx.get(f"{base}/api/v1/queue/summary", headers=it).json()
    assert fresh["missed_today"] == 0
    # already due when queued (a deadline taken milliseconds ago, so it is today's)
    msgid = _enqueue_admission(
        runtime,
        {"mdtrt_id": "E1", "psn_no": "P001", "begntime": "2026-11-24 09:00:00"},
        due_in=timedelta(0),
    )

    def delivered() -> dict[str, Any] | None:
        reply = httpx.get(f"{base}/api/v1/queue/summary", headers=it).json()
        return reply if reply["by_status"]["delivered"] == 1 else None

    summary = eventually(delivered)
    assert summary["missed"] == 0 and summary["missed_today"] == 1
    (job,) = httpx.get(
        f"{base}/api/v1/queue/jobs", params={"status": "delivered"}, headers=it
    ).json()["jobs"]
    assert job["idempotency_key"] == msgid


def test_a_correction_under_a_msgid_upstream_may_hold_is_refused_naming_the_field(
    ops: tuple[str, dict[str, str], Runtime, Any],
) -> None:
    """Upstream committed the write but its reply was lost: the job keeps its msgid, and a
    corrected payload under it would be recorded as delivered while upstream keeps the first
    content. REST answers 409 naming ``payload``; the job is unchanged and goes as it was."""
    base, tokens, runtime, simulator = ops
    it = {"Authorization": f"Bearer {tokens['it']}"}
    httpx.post(f"{simulator.url}/_sim/faults", json={"drop_reply_after_commit_rate": 1.0})
    msgid = _enqueue_admission(
        runtime, {"mdtrt_id": "E1", "psn_no": "P001", "begntime": "2026-11-24 09:00:00"}
    )

    def tried() -> dict[str, Any] | None:
        reply = httpx.get(f"{base}/api/v1/queue/jobs", params={"status": "pending"}, headers=it)
        return next((j for j in reply.json()["jobs"] if j["attempts"] >= 1), None)

    job = eventually(tried)
    httpx.post(f"{simulator.url}/_sim/faults", json={})
    corrected = dict(job["payload"])
    corrected["input"] = {**corrected["input"], "begntime": "2026-11-24 10:00:00"}
    reply = httpx.post(
        f"{base}/api/v1/queue/jobs/{job['id']}/retry",
        json={"payload": corrected, "note": "改入院时间"},
        headers=it,
    )
    assert reply.status_code == 409, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    (error,) = reply.json()["errors"]
    assert error["code"] == "JOB_MAY_HAVE_TAKEN_EFFECT" and error["field"] == "payload"
    assert msgid in error["message"] and "WI2601" in error["message"]

    def delivered() -> dict[str, Any] | None:
        reply = httpx.get(f"{base}/api/v1/queue/jobs", params={"status": "delivered"}, headers=it)
        return next(iter(reply.json()["jobs"]), None)

    sent = eventually(delivered)  # re-sent unchanged by the worker's own back-off
    assert sent["payload"]["msgid"] == msgid
    (write,) = httpx.get(f"{simulator.url}/_sim/received", params={"msgid": msgid}).json()["writes"]
    assert write["input"]["begntime"] == "2026-11-24 09:00:00"


def test_operator_routes_need_the_it_role(ops: tuple[str, dict[str, str], Runtime, Any]) -> None:
    base, tokens, _, _ = ops
    clerk = {"Authorization": f"Bearer {tokens['admission']}"}
    for path in ("/api/v1/queue/jobs", "/api/v1/queue/summary", "/api/v1/audit", "/metrics"):
        assert httpx.get(f"{base}{path}", headers=clerk).status_code == 403, path
        assert httpx.get(f"{base}{path}").status_code == 401, path
    reply = httpx.post(f"{base}/api/v1/queue/jobs/999/retry", headers=clerk)
    assert reply.status_code == 403


def test_retrying_an_unknown_job_is_a_404_problem(
    ops: tuple[str, dict[str, str], Runtime, Any],
) -> None:
    base, tokens, _, _ = ops
    reply = httpx.post(
        f"{base}/api/v1/queue/jobs/999/retry", headers={"Authorization": f"Bearer {tokens['it']}"}
    )
    assert reply.status_code == 404
    assert reply.json()["errors"][0]["code"] == "JOB_NOT_FOUND"


def test_the_job_list_masks_personal_data_and_a_resend_keeps_the_stored_values(
    ops: tuple[str, dict[str, str], Runtime, Any],
) -> None:
    base, tokens, runtime, simulator = ops
    it = {"Authorization": f"Bearer {tokens['it']}"}
    citizen_id, name, phone = "110101199003078515", "王建国", "13812345678"
    person = {"certno": citizen_id, "psn_name": name, "tel": phone}
    _enqueue_admission(runtime, {"mdtrt_id": "E1", "psn_no": "P001", **person})  # no begntime

    def dead() -> list[dict[str, Any]]:
        reply = httpx.get(f"{base}/api/v1/queue/jobs", params={"status": "dead"}, headers=it)
        assert citizen_id not in reply.text and name not in reply.text and phone not in reply.text
        return list(reply.json()["jobs"])

    (job,) = eventually(dead)
    shown = job["payload"]["input"]
    assert shown["certno"] == "110101********8515" and shown["psn_name"] == "王**"
    summary = httpx.get(f"{base}/api/v1/queue/summary", headers=it)
    assert citizen_id not in summary.text and name not in summary.text

    corrected = dict(job["payload"])
    corrected["input"] = {**shown, "begntime": "2026-11-24 09:00:00"}
    reply = httpx.post(
        f"{base}/api/v1/queue/jobs/{job['id']}/retry", json={"payload": corrected}, headers=it
    )
    assert reply.status_code == 200, reply.text
    assert citizen_id not in reply.text

    def delivered() -> list[dict[str, Any]]:
        reply = httpx.get(f"{base}/api/v1/queue/jobs", params={"status": "delivered"}, headers=it)
        return list(reply.json()["jobs"])

    (resent,) = eventually(delivered)
    received = httpx.get(
        f"{simulator.url}/_sim/received", params={"msgid": resent["payload"]["msgid"]}
    ).json()
    (write,) = received["writes"]
    assert write["input"]["certno"] == citizen_id and write["input"]["psn_name"] == name
    assert write["input"]["tel"] == phone and write["input"]["begntime"] == "2026-11-24 09:00:00"


def test_a_logged_read_is_resent_and_audited_a_logged_write_is_refused(
    ops: tuple[str, dict[str, str], Runtime, Any],
) -> None:
    """The call log's re-send goes through the operator use case: a read goes again through
    the live client and IT's action is in the audit log; a write must be re-sent from the
    upload queue instead (its msgid is upstream's idempotency key)."""
    base, tokens, runtime, _ = ops
    it = {"Authorization": f"Bearer {tokens['it']}"}
    code = runtime.settings.institution.code
    runtime.gateway.institution_status(code, context="ops-test")
    calls = httpx.get(f"{base}/api/v1/upstream/calls", params={"infno": "WI1301"}, headers=it)
    (read,) = calls.json()["calls"]
    reply = httpx.post(f"{base}/api/v1/upstream/calls/{read['id']}/resend", headers=it)
    assert reply.status_code == 200, reply.text
    assert reply.json()["output"]  # upstream's answer to the read, again
    again = httpx.get(f"{base}/api/v1/upstream/calls", params={"infno": "WI1301"}, headers=it)
    assert len(again.json()["calls"]) == 2
    audit = httpx.get(f"{base}/api/v1/audit", params={"action": "upstream.resend"}, headers=it)
    [entry] = audit.json()["entries"]
    assert entry["subject_id"] == str(read["id"]) and entry["actor"] == "信息科-01"

    msgid = _enqueue_admission(runtime, {"mdtrt_id": "E1", "psn_no": "P001"})
    writes = eventually(
        lambda: (
            httpx.get(f"{base}/api/v1/upstream/calls", params={"msgid": msgid}, headers=it)
            .json()
            .get("calls")
        )
    )
    refused = httpx.post(f"{base}/api/v1/upstream/calls/{writes[0]['id']}/resend", headers=it)
    assert refused.status_code >= 400 and refused.json()["errors"][0]["code"] == "RESEND_REFUSED"
    audit = httpx.get(f"{base}/api/v1/audit", params={"action": "upstream.resend"}, headers=it)
    assert len(audit.json()["entries"]) == 1  # a refused re-send is not an operator action


def test_reprocessing_an_unknown_hl7_message_is_a_404_and_not_audited(
    ops: tuple[str, dict[str, str], Runtime, Any],
) -> None:
    base, tokens, _, _ = ops
    it = {"Authorization": f"Bearer {tokens['it']}"}
    reply = httpx.post(f"{base}/api/v1/hl7/messages/999/reprocess", headers=it)
    assert reply.status_code == 404
    audit = httpx.get(f"{base}/api/v1/audit", params={"action": "hl7.reprocess"}, headers=it)
    assert audit.json()["entries"] == []


def test_reversing_a_job_over_rest_is_for_it_and_refusals_are_problems(
    ops: tuple[str, dict[str, str], Runtime, Any],
) -> None:
    """``POST /api/v1/queue/jobs/{id}/reverse``: the IT role only; a job upstream refused
    took no effect, so there is nothing to reverse (409 naming the way: correct and re-send);
    an unknown job is a 404; nothing is queued by a refusal."""
    base, tokens, runtime, _simulator = ops
    it = {"Authorization": f"Bearer {tokens['it']}"}
    clerk = {"Authorization": f"Bearer {tokens['admission']}"}
    _enqueue_admission(runtime, {"mdtrt_id": "E1", "psn_no": "P001"})  # no begntime: refused

    def dead() -> list[dict[str, Any]]:
        reply = httpx.get(f"{base}/api/v1/queue/jobs", params={"status": "dead"}, headers=it)
        return list(reply.json()["jobs"])

    (job,) = eventually(dead)
    path = f"{base}/api/v1/queue/jobs/{job['id']}/reverse"
    assert httpx.post(path, headers=clerk).status_code == 403
    assert httpx.post(path).status_code == 401
    reply = httpx.post(path, json={"note": "试试冲正"}, headers=it)
    assert reply.status_code == 409, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    (error,) = reply.json()["errors"]
    assert error["code"] == "JOB_NOTHING_TO_REVERSE" and "重发" in error["message"]
    missing = httpx.post(f"{base}/api/v1/queue/jobs/999/reverse", headers=it)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "JOB_NOT_FOUND"
    queued = httpx.get(f"{base}/api/v1/queue/jobs", params={"kind": "WI2601"}, headers=it)
    assert queued.json()["jobs"] == []
