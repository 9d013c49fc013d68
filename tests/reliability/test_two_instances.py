"""Two ``wi-adapter serve`` instances on one PostgreSQL database and one simulator, each with
its own host name (as two containers or hosts would have), both settling stays: every
settlement from either is there, and every upload reached upstream exactly once — also when
both are configured with one ``[queue] instance_id`` (their leases are held per process)."""

from __future__ import annotations

import threading
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import create_pg_database, drop_pg_database
from tests.reliability.support import AdapterProcess, Desk, prepare, simulator_process
from tests.support.polling import eventually
from upload_queue.admin import attempts, list_jobs

STAYS = 6


@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.parametrize("instance_id", ["", "wi-shared"], ids=["own-ids", "one-shared-id"])
def test_two_instances_on_one_postgresql_deliver_each_upload_once(
    tmp_path: Path, instance_id: str
) -> None:
    from adapter.store.db import make_engine

    db_url = create_pg_database()
    engine = make_engine(db_url)
    try:
        with simulator_process(tmp_path) as simulator:
            token = prepare(db_url, simulator.url)
            simulator.faults(drop_reply_after_commit_rate=0.2, latency_ms=5)
            instances = [
                AdapterProcess(
                    db_url,
                    simulator.url,
                    tmp_path,
                    name=n,
                    hostname=f"wi-{n}",
                    env={"ADAPTER_QUEUE__INSTANCE_ID": instance_id} if instance_id else {},
                )
                for n in ("a", "b")
            ]
            settled: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
            try:
                for instance in instances:
                    instance.start()

                def burst(instance: AdapterProcess) -> None:
                    desk = Desk(instance.base, token, sim_url=simulator.url)
                    for n in range(STAYS):
                        settled[instance.name].append(desk.stay(f"{instance.name}-{n}"))

                threads = [threading.Thread(target=burst, args=(i,)) for i in instances]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=120)
                assert [len(settled["a"]), len(settled["b"])] == [STAYS, STAYS]
                simulator.faults()
                desk = Desk(instances[0].base, token, sim_url=simulator.url)
                eventually(desk.drained, 90, "every upload delivered")
                for settlement in settled["a"] + settled["b"]:
                    reply = Desk(instances[1].base, token).call(
                        "GET", f"/api/v1/settlements/{settlement['id']}"
                    )
                    assert reply.status_code == 200 and reply.json()["status"] == "settled"
            finally:
                for instance in instances:
                    instance.stop()
            jobs = list_jobs(engine, limit=10_000)
            assert len(jobs) == 4 * STAYS and {j.status for j in jobs} == {"delivered"}
            writes = simulator.writes()
            by_msgid = Counter(w["msgid"] for w in writes)
            assert set(by_msgid) == {j.idempotency_key for j in jobs}
            assert all(w["took_effect"] for w in writes)
            assert {j.leased_by for j in jobs} == {None}
            for job in jobs:  # never two deliveries of one job at once
                tries = sorted(attempts(engine, job.id), key=lambda a: a.started_at)
                for earlier, later in pairwise(tries):
                    assert earlier.finished_at <= later.started_at, (job.id, earlier, later)
    finally:
        engine.dispose()
        drop_pg_database(db_url)
