"""IT withdraws a refused settlement upload whose settlement was revoked — one the adapter did
not withdraw by itself (the revocation was queued before the feature) — from each of its
three faces on the real runtime against the simulator: ``wi-adapter queue withdraw``, ``POST
/api/v1/queue/jobs/{id}/withdraw`` and the IT page's button. Each frees the stay: its next
upload is sent (N§33, B§32). Each refuses one whose settlement stands, with why, changing
nothing."""

from __future__ import annotations

import re
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapter.cli import main
from adapter.domain.upstream import Infno
from adapter.services.uploads import queue_upload
from adapter.store.tokens import create_token
from adapter.web.users import create_user
from adapter.wiring.runtime import Runtime
from tests.integration.web.test_form_edges import PASSWORD, _signed_in
from tests.integration.wiring.test_withdrawn_uploads import site as site  # the served runtime
from upload_queue import admin

Jobs = tuple[int, int, int]


def _queue(
    runtime: Runtime, stay: str, infno: Infno, input: dict[str, Any], revokes: str = ""
) -> tuple[int, str]:
    """One write of ``stay`` queued as a use case queues it (job and upload record)."""
    ctx = runtime.services.context
    with ctx.uow() as uow:
        queued = queue_upload(
            ctx, uow, infno=infno, input=input, encounter_id=stay, settlement_id=f"S-{stay}",
            insuplc_admdvs="310100", deadline=datetime.now(UTC) + timedelta(minutes=30),
            revokes=revokes,
        )  # fmt: skip
        uow.commit()
    return queued.job_id, queued.msgid


def _refused(runtime: Runtime, stay: str, *, revoked: bool = True) -> Jobs:
    """Stay ``stay``'s discharge record, refused by upstream (no such stay there); then its
    settlement revoked — the revocation queued as before the withdrawal existed — and the
    stay's next upload queued behind both. Nothing of the stay goes."""
    upload, msgid = _queue(runtime, stay, Infno.DISCHARGE, {"mdtrt_id": "NO-SUCH-STAY"})
    runtime.queue.worker().drain()
    revocation = 0
    if revoked:
        revoke = {"mdtrt_id": "NO-SUCH-STAY", "omsgid": msgid}
        revocation, _ = _queue(runtime, stay, Infno.SETTLEMENT_REVOKE, revoke, revokes=msgid)
    admission = {"mdtrt_id": stay, "psn_no": "P001", "begntime": "2026-11-24 09:00:00"}
    later, _ = _queue(runtime, stay, Infno.ADMISSION, admission)
    runtime.queue.worker().drain()
    assert _statuses(runtime, upload, revocation, later) == ("dead", "pending", "pending")
    return upload, revocation, later


def _statuses(runtime: Runtime, *ids: int) -> tuple[str, ...]:
    return tuple(admin.get_job(runtime.engine, i).status if i else "pending" for i in ids)


def _goes_on(runtime: Runtime, jobs: Jobs) -> None:
    runtime.queue.worker().drain()
    assert _statuses(runtime, *jobs) == ("withdrawn", "withdrawn", "delivered")


def test_wi_adapter_queue_withdraw_frees_the_stay_and_refuses_a_standing_settlement(
    site: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]
) -> None:
    _, runtime = site
    jobs = _refused(runtime, "E-CLI")
    assert main(["queue", "withdraw", str(jobs[0])]) == 0
    assert f"job {jobs[0]} and its revocation, job {jobs[1]} withdrawn" in capsys.readouterr().out
    _goes_on(runtime, jobs)
    assert main(["queue", "withdraw", str(jobs[0])]) == 0
    assert "withdrawn already, nothing changed" in capsys.readouterr().out

    standing = _refused(runtime, "E-CLI2", revoked=False)
    assert main(["queue", "withdraw", str(standing[0])]) == 1
    assert "结算没有撤销" in capsys.readouterr().err
    assert _statuses(runtime, standing[0], standing[2]) == ("dead", "pending")


def test_the_withdraw_route_frees_the_stay_for_it_only_and_refuses_a_standing_settlement(
    site: tuple[str, Runtime],
) -> None:
    base, runtime = site
    jobs = _refused(runtime, "E-API")
    now = datetime.now(UTC)
    clerk = create_token(runtime.engine, "住院处-01", ["admission"], now)
    it = {"Authorization": f"Bearer {create_token(runtime.engine, '信息科-01', ['it'], now)}"}
    url = f"{base}/api/v1/queue/jobs/{jobs[0]}/withdraw"
    denied = httpx.post(url, headers={"Authorization": f"Bearer {clerk}"})
    assert denied.status_code == 403 and _statuses(runtime, jobs[0]) == ("dead",)

    reply = httpx.post(url, headers=it)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["already"], body["job"]["status"], body["revocation"]["id"]) == (
        False, "withdrawn", jobs[1],
    )  # fmt: skip
    assert body["revocation"]["status"] == "withdrawn" and "无需上传" in body["job"]["last_error"]
    _goes_on(runtime, jobs)
    assert httpx.post(url, headers=it).json()["already"] is True

    standing = _refused(runtime, "E-API2", revoked=False)
    refused = httpx.post(f"{base}/api/v1/queue/jobs/{standing[0]}/withdraw", headers=it)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    (error,) = refused.json()["errors"]
    assert error["code"] == "JOB_NOT_REVOKED" and "更正后重发" in error["message"]
    assert _statuses(runtime, standing[0], standing[2]) == ("dead", "pending")


def test_the_it_pages_withdraw_button_frees_the_stay_and_says_why_it_refuses(
    site: tuple[str, Runtime],
) -> None:
    base, runtime = site
    jobs = _refused(runtime, "E-WEB")
    standing = _refused(runtime, "E-WEB2", revoked=False)
    create_user(runtime.engine, "信息科-01", ["it"], PASSWORD)
    client, csrf = _signed_in(base, "信息科-01")
    with closing(client):
        page = client.get("/web/monitor").text
        dead = page.split('data-testid="dead"', 1)[1].split("</section>", 1)[0]
        button = f'action="/web/monitor/jobs/{jobs[0]}/withdraw"'
        assert button in dead and "撤回（无需上传）" in dead

        refused = client.post(
            f"/web/monitor/jobs/{standing[0]}/withdraw", data={"csrf_token": csrf}
        )
        assert refused.status_code == 422
        error = re.search(r'data-testid="error">([^<]+)<', refused.text)
        assert error and "结算没有撤销" in error[1], refused.text[:500]
        assert _statuses(runtime, standing[0], standing[2]) == ("dead", "pending")

        done = client.post(f"/web/monitor/jobs/{jobs[0]}/withdraw", data={"csrf_token": csrf})
        assert done.status_code == 303
        shown = client.get(done.headers["location"]).text
    assert f"任务 {jobs[0]} 及其撤销结算已撤回" in shown
    withdrawn = shown.split('data-testid="withdrawn"', 1)[1].split("</section>", 1)[0]
    assert f'data-job="{jobs[0]}"' in withdrawn and f'data-job="{jobs[1]}"' in withdrawn
    _goes_on(runtime, jobs)
