"""kill -9 of ``wi-adapter serve`` while a desk waits on upstream's answer, then the desk retries.

Admission (N§33, B§28) and discharge settlement (N§33, B§30) read the worker's filings upstream
(``WI1201``) before they commit anything. A test proxy holds upstream's answer back, the adapter
is killed while the desk's request waits on it, and after the restart the desk sends the same
request again. The stay is admitted once (one encounter for the HIS visit, one admission
registration ``WI2401`` upstream), settled once (one settlement, one discharge record
``WI2301``), every upload is delivered, and the audit chain verifies.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.reliability.holding_proxy import HoldingProxy
from tests.reliability.support import (
    SHANGHAI,
    AdapterProcess,
    Desk,
    audit_verify,
    prepare,
    simulator_process,
)
from tests.support.polling import eventually

VISIT = "HV-READ-1"


def _killed_while_waiting(
    adapter: AdapterProcess, proxy: HoldingProxy, request: Any
) -> list[object]:
    """Send ``request`` (a desk call) and kill the adapter while upstream's answer is held."""
    answers: list[object] = []

    def call() -> None:
        try:
            answers.append(request())
        except httpx.TransportError as exc:
            answers.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        eventually(lambda: proxy.held, 30, "upstream's filings held back")
    finally:
        adapter.kill9()
    caller.join(timeout=60)
    proxy.release()
    return answers


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), {"v": VISIT}).scalar_one())


@pytest.mark.slow
def test_kill_9_while_admission_and_discharge_wait_on_upstream_then_the_desk_retries(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with simulator_process(tmp_path) as simulator:
        token = prepare(db_url, simulator.url)
        proxy = HoldingProxy(simulator.url, hold={"WI1201"})
        adapter = AdapterProcess(db_url, proxy.url, tmp_path)
        with proxy.running():
            try:
                adapter.start()
                desk = Desk(adapter.base, token, sim_url=simulator.url)
                answers = _killed_while_waiting(adapter, proxy, lambda: desk.admit(VISIT))
                assert [type(a) for a in answers] != [httpx.Response], answers  # no answer

                adapter.start()
                desk = Desk(adapter.base, token, sim_url=simulator.url)
                admitted = desk.admit(VISIT)
                assert admitted.status_code == 201, admitted.text
                encounter_id = admitted.json()["id"]
                assert desk.fees(encounter_id).status_code in (200, 201)
                proxy.arm({"WI1201"})
                answers = _killed_while_waiting(adapter, proxy, lambda: desk.settle(encounter_id))
                assert [type(a) for a in answers] != [httpx.Response], answers

                adapter.start()
                desk = Desk(adapter.base, token, sim_url=simulator.url)
                path = f"/api/v1/encounters/{encounter_id}/settle"
                discharged = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
                body = {"discharged_at": discharged.isoformat(), "discharge_diagnoses": []}
                settled = desk.call("POST", path, json=body)
                assert settled.status_code == 201, settled.text
                again = desk.call("POST", path, json=body)  # the same request again: replayed
                assert again.status_code in (200, 201), again.text
                assert again.json()["id"] == settled.json()["id"]
                eventually(desk.drained, 30, "every upload delivered")
            finally:
                adapter.stop()
        writes = simulator.writes()

    assert _count(engine, "SELECT count(*) FROM encounter WHERE his_visit_id = :v") == 1
    assert (
        _count(
            engine,
            "SELECT count(*) FROM settlement s JOIN encounter e ON e.id = s.encounter_id "
            "WHERE e.his_visit_id = :v",
        )
        == 1
    )
    kinds = Counter(w["infno"] for w in writes if w["took_effect"])
    assert kinds == Counter({"WI2401": 1, "WI2301": 1}), kinds
    verified = audit_verify(db_url, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
