"""What IT sees of a withdrawn upload — a settlement upload upstream refused every time, and
the revocation that then had nothing to revoke — on the real runtime against the simulator:
the queue API, ``wi-adapter queue list|show`` and the IT page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapter.bootstrap import build_app
from adapter.cli import main
from adapter.settings import Settings
from adapter.store.tokens import create_token
from adapter.store.uow import UnitOfWork
from adapter.web.users import create_user, set_hash_cost
from adapter.wiring.runtime import Runtime, build_runtime
from connectors.upstream.simulator import SimulatorServer
from tests.support.live import serving

ROOT = Path(__file__).resolve().parents[3]
REASON = "每次发送均被上级系统拒绝，无需上传"


@pytest.fixture
def site(
    simulated: tuple[Settings, SimulatorServer], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Runtime]]:
    settings, _ = simulated
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ADAPTER_CONFIG_FILE", raising=False)
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    runtime = build_runtime(settings, workers=0, hl7=False, scheduled=False)
    set_hash_cost(2**12)
    try:
        with serving(build_app(settings, runtime)) as base:
            yield base, runtime
    finally:
        set_hash_cost(2**17)


def _enqueue(runtime: Runtime, kind: str, input: dict[str, Any]) -> str:
    msgid = runtime.msgids.next()
    with UnitOfWork(runtime.engine) as uow:
        runtime.outbox.enqueue(
            uow.session,
            kind=kind,
            payload={"msgid": msgid, "input": input, "insuplc_admdvs": "310100", "context": "E1"},
            idempotency_key=msgid,
            ordering_key="E1",
            deadline=datetime.now(UTC) + timedelta(minutes=30),
        )
        uow.commit()
    return msgid


def _withdrawn(runtime: Runtime) -> tuple[int, int]:
    """A WI2301 upstream refuses (no such stay), withdrawn with the WI2305 queued behind it."""
    settlement = _enqueue(runtime, "WI2301", {"mdtrt_id": "NO-SUCH-STAY", "psn_no": "P001"})
    revocation = _enqueue(runtime, "WI2305", {"mdtrt_id": "NO-SUCH-STAY", "omsgid": settlement})
    runtime.queue.worker().drain()
    with UnitOfWork(runtime.engine) as uow:
        found = runtime.outbox.withdraw_refused(
            uow.session, settlement, [revocation], reason=REASON
        )
        uow.commit()
    assert found.certainty == "refused" and found.withdrawn == (settlement, revocation)
    ids = {job.idempotency_key: job.id for job in runtime.queue.list_jobs(status="withdrawn")}
    return ids[settlement], ids[revocation]


def test_it_sees_withdrawn_uploads_and_why_on_the_api_the_cli_and_the_page(
    site: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]
) -> None:
    base, runtime = site
    settlement, revocation = _withdrawn(runtime)

    token = create_token(runtime.engine, "信息科-01", ["it"], datetime.now(UTC))
    reply = httpx.get(
        f"{base}/api/v1/queue/jobs",
        params={"status": "withdrawn"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 200, reply.text
    listed = reply.json()["jobs"]
    assert [(j["id"], j["status"], j["last_error"]) for j in listed] == [
        (settlement, "withdrawn", REASON),
        (revocation, "withdrawn", REASON),
    ]
    assert all(j["withdrawn_at"] for j in listed)

    assert main(["queue", "list", "--status", "withdrawn"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split()[:2] for line in lines] == [
        [str(settlement), "withdrawn"],
        [str(revocation), "withdrawn"],
    ]
    assert main(["queue", "show", str(settlement)]) == 0
    shown = capsys.readouterr().out
    assert f"never to be sent: {REASON}" in shown
    assert re.search(r"#1 .* refused ", shown), shown  # upstream's own refusal
    assert main(["queue", "summary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["by_status"]["withdrawn"] == 2

    create_user(runtime.engine, "信息科-02", ["it"], "it-password-12")
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        form = client.get("/web/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf, form.text
        signed = client.post(
            "/web/login",
            data={"name": "信息科-02", "password": "it-password-12", "csrf_token": csrf[1],
                  "next": "/web/monitor"},
        )  # fmt: skip
        assert signed.status_code == 303, signed.text
        page = client.get("/web/monitor")
    assert page.status_code == 200
    section = page.text.split('data-testid="withdrawn"', 1)[1].split("</section>", 1)[0]
    assert f'data-job="{settlement}"' in section and f'data-job="{revocation}"' in section
    assert REASON in section
