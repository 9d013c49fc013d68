"""``wi-adapter queue``: what IT types, on the database the settings name."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from adapter.cli import main
from adapter.store.db import make_engine
from adapter.store.migrate import upgrade
from adapter.store.uow import UnitOfWork
from upload_queue.admin import get_job, list_jobs, revisions
from upload_queue.enqueue import enqueue
from upload_queue.errors import PermanentDeliveryError, TransientDeliveryError
from upload_queue.handlers import Handlers
from upload_queue.jobs import Delivery, JobSpec
from upload_queue.metrics import QueueMetrics
from upload_queue.retry import RetryPolicy
from upload_queue.worker import Worker

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def seeded(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A dead WI2301 job (id 1) and a pending WI2302 (id 2) of the same encounter."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ADAPTER_CONFIG_FILE", raising=False)
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    engine = make_engine(db_url)
    upgrade(engine)  # the whole schema: a re-send is audited, a refused one gets a new msgid
    metrics = QueueMetrics(CollectorRegistry())
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for kind, key, minutes in (("WI2301", "m1", 5), ("WI2302", "m2", 30)):
            spec = JobSpec(kind, {"msgid": key}, key, now + timedelta(minutes=minutes), "enc-1")
            enqueue(connection, spec, metrics=metrics)

    def reject(delivery: Delivery) -> None:
        raise PermanentDeliveryError("参保人员信息不存在")

    handlers = Handlers()
    handlers.register("WI2301", reject)
    Worker(engine, handlers, metrics=metrics).drain()
    engine.dispose()
    return db_url


def test_list_filters_and_prints_the_upstream_message(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue", "list", "--status", "dead"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "WI2301" in lines[1] and "参保人员信息不存在" in lines[1] and "enc-1" in lines[1]
    assert main(["queue", "list", "--key", "enc-1", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(job["id"], job["status"]) for job in listed] == [(1, "dead"), (2, "pending")]
    assert all(job["deadline"].endswith("+08:00") for job in listed)  # the site's time


def test_a_job_held_back_behind_its_stays_dead_job_says_which(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pending WI2302 has no error and no attempt of its own: it waits behind the stay's
    dead WI2301, and the list gave IT no way to tell that from a job simply not yet tried."""
    assert main(["queue", "list", "--key", "enc-1"]) == 0
    header, dead, pending = capsys.readouterr().out.splitlines()
    assert "behind" in header
    assert dead.split()[0] == "1" and dead.split()[7] == "-"
    assert pending.split()[0] == "2" and pending.split()[7] == "1"
    assert main(["queue", "list", "--key", "enc-1", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [job["waiting_for"] for job in listed] == [None, 1]
    assert main(["queue", "show", "2"]) == 0
    assert "waits behind job 1 of the same stay" in capsys.readouterr().out


def test_summary_shows_counts_and_risk(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "summary", "--json"]) == 0
    current = json.loads(capsys.readouterr().out)
    assert current["by_status"] == {
        "pending": 1,
        "in_flight": 0,
        "delivered": 0,
        "dead": 1,
        "withdrawn": 0,
    }
    assert current["at_risk"] == 1 and current["missed"] == 0
    assert current["missed_since"] == 0  # no deadline of today has passed
    assert current["oldest_pending"]["id"] == 2
    assert main(["queue", "summary"]) == 0
    said = capsys.readouterr().out
    assert "at risk (deadline within 10 min): 1" in said
    assert "deadlines missed today (late deliveries too): 0" in said


def test_retry_with_a_corrected_payload_file_keeps_the_original(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({"msgid": "m1", "input": {"psn_no": "X"}}), encoding="utf-8")
    assert main(["queue", "retry", "1", "--payload", str(fixed), "--note", "更正"]) == 0
    out = capsys.readouterr().out
    assert "re-sent now with the corrected payload" in out and "upstream refused it" in out
    engine = make_engine(seeded)
    try:
        job = get_job(engine, 1)
        assert job.status == "pending" and job.payload["input"] == {"psn_no": "X"}
        assert [r.payload for r in revisions(engine, 1)] == [{"msgid": "m1"}]
    finally:
        engine.dispose()
    assert main(["queue", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "permanent" in shown and "replaced" in shown and "更正" in shown


def test_cli_retry_of_a_refused_job_goes_through_the_same_use_case_as_rest(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Upstream answers a repeated msgid with its first reply, so a job it refused must go
    again under a fresh msgid — as the REST route and the IT page do — and IT's re-send is
    in the audit log."""
    assert main(["queue", "retry", "1"]) == 0
    engine = make_engine(seeded)
    try:
        job = get_job(engine, 1)
        assert job.status == "pending" and job.idempotency_key == "m1"
        assert job.payload["msgid"] != "m1" and job.payload["refused_msgids"] == ["m1"]
        with UnitOfWork(engine) as uow:
            [entry] = uow.audit.query(action="queue.retry")
        assert entry.subject_id == "1" and entry.actor.startswith("cli:")
        assert entry.details["via"] == "cli"
    finally:
        engine.dispose()
    # a job that merely waits out its back-off keeps its msgid (upstream may have it)
    assert main(["queue", "retry", "2"]) == 0
    engine = make_engine(seeded)
    try:
        assert get_job(engine, 2).payload == {"msgid": "m2"}
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["queue", "retry", "99"], "上传任务 99 不存在"),
        (["queue", "retry", "2", "--payload", "/nonexistent.json"], "cannot read"),
        (["queue", "show", "42"], "no upload job 42"),
    ],
)
def test_refusals_are_one_line_and_exit_1(
    seeded: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("wi-adapter: ") and message in err and "\n" not in err


def test_purge_keeps_undelivered_jobs(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "purge", "--older-than-days", "1"]) == 0
    assert "purged 0 delivered job(s)" in capsys.readouterr().out
    engine = make_engine(seeded)
    try:
        assert len(list_jobs(engine)) == 2
    finally:
        engine.dispose()


def test_a_database_without_the_queue_tables_gets_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ADAPTER_CONFIG_FILE", raising=False)
    (tmp_path / "empty.db").touch()  # a database file, but not the adapter's
    monkeypatch.setenv("ADAPTER_DATABASE__URL", f"sqlite:///{tmp_path}/empty.db")
    assert main(["queue", "summary"]) == 1
    said = capsys.readouterr().err
    assert "no upload queue tables; run `wi-adapter migrate` first" in said


def test_reverse_queues_a_wi2601_and_retry_then_sends_under_a_fresh_msgid(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A job dead of time-outs may hold upstream: `queue reverse` queues its reversal (the
    same use case as REST and the IT page, audited); the re-send waits for it to be
    delivered and then goes under a fresh msgid."""
    engine = make_engine(seeded)
    metrics = QueueMetrics(CollectorRegistry())
    now = datetime.now(UTC)
    with engine.begin() as connection:
        spec = JobSpec("WI2301", {"msgid": "m3"}, "m3", now + timedelta(minutes=5), "enc-3")
        enqueue(connection, spec, metrics=metrics)

    def time_out(delivery: Delivery) -> None:
        raise TransientDeliveryError("upstream did not answer in 30 s")

    handlers = Handlers()
    handlers.register("WI2301", time_out)
    Worker(engine, handlers, metrics=metrics, policy=RetryPolicy(max_attempts=1)).drain()
    assert get_job(engine, 3).status == "dead"

    assert main(["queue", "reverse", "3", "--note", "超时，冲正后更正"]) == 0
    out = capsys.readouterr().out
    (reversal,) = list_jobs(engine, kind="WI2601")
    assert f"reversed by job {reversal.id} (WI2601" in out and "queue retry 3" in out
    assert reversal.payload["input"] == {"omsgid": "m3", "oinfno": "WI2301"}
    assert reversal.ordering_key != "enc-3"  # not held back behind the dead job
    with UnitOfWork(engine) as uow:
        [entry] = uow.audit.query(action="queue.reverse")
    assert entry.subject_id == "3" and entry.details["via"] == "cli"

    assert main(["queue", "retry", "3"]) == 1
    assert "正在冲正" in capsys.readouterr().err
    assert main(["queue", "reverse", "1"]) == 1  # refused upstream: nothing took effect
    assert "直接更正后重发" in capsys.readouterr().err

    handlers.register("WI2601", lambda delivery: None)
    Worker(engine, handlers, metrics=metrics).drain()
    assert get_job(engine, reversal.id).status == "delivered"
    assert main(["queue", "retry", "3"]) == 0
    job = get_job(engine, 3)
    assert job.payload["msgid"] != "m3" and job.payload["reversed_msgids"] == ["m3"]
    engine.dispose()


def test_list_and_show_mask_the_workers_personal_data_as_the_rest_list_does(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`queue show` and `queue list --json` printed the payload as stored — the worker's
    citizen ID and name whole — where GET /api/v1/queue/jobs masks them. A corrected payload
    written from the masked one gets the original values back on re-send (restore_masked)."""
    person = {"certno": "310102197803141310", "psn_name": "王建国", "psn_cert_type": "01"}
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({"msgid": "m1", "input": person}), encoding="utf-8")
    assert main(["queue", "retry", "1", "--payload", str(fixed), "--note", "更正"]) == 0
    capsys.readouterr()
    for argv in (["queue", "show", "1"], ["queue", "show", "1", "--json"],
                 ["queue", "list", "--json"]):  # fmt: skip
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "310102197803141310" not in out and "王建国" not in out, argv
        assert "310102********1310" in out, argv
    assert main(["queue", "show", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["job"]["payload"]
    fixed.write_text(json.dumps({**shown, "note": "again"}), encoding="utf-8")
    assert main(["queue", "retry", "1", "--payload", str(fixed)]) == 0
    engine = make_engine(seeded)
    try:
        assert get_job(engine, 1).payload["input"]["certno"] == "310102197803141310"
    finally:
        engine.dispose()
