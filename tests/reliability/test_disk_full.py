"""The database's disk full (issue 9): a clear refusal, nothing half-written, and the same
request works once IT has freed space — over REST, over HL7/MLLP and in the upload queue.

The full disk is a real one on SQLite: ``PRAGMA max_page_count`` caps the file at its current
size and SQLite itself refuses to grow it (SQLITE_FULL, "database or disk is full"). As on a
real full disk, a write that fits in pages the file already has still succeeds; one that needs
a new page is refused. So each case sends writes until the disk refuses one (a bounded number),
checks the refusal, then frees the space and sends that same write again. On PostgreSQL a full
disk cannot be produced on demand without a filesystem of its own to fill, so there the
server's own error for it (SQLSTATE 53100, ``psycopg.errors.DiskFull``) is raised for every
INSERT and UPDATE — see :class:`Disk`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, event, func, inspect, select, table

from adapter.bootstrap import build_app
from adapter.settings import Settings
from adapter.store.audit import verify
from adapter.store.db import make_engine
from adapter.store.tables.encounters import EncounterRow
from adapter.wiring.runtime import Runtime, build_runtime
from connectors.hl7.message_tables import hl7_message
from connectors.upstream.simulator import SimulatorServer, start_simulator
from tests.reliability.support import SHANGHAI, Desk, free_port, prepare
from tests.support.database_faults import assert_refused
from tests.support.live import serving, simulated_settings
from tests.support.mllp import exchange
from tests.support.polling import eventually
from tests.support.workers import seeded_worker
from upload_queue.admin import list_jobs

SQLITE_NO_LIMIT = 1_073_741_823  # well above any test database; "disk freed"
# Tables a refused request may still change: the upstream call log records the reads the
# request made (in its own transaction, and it skips a row the disk refuses), and the hl7
# tables are checked message by message.
NOT_PART_OF_THE_REQUEST = {"upstream_call", "hl7_message", "hl7_message_attempt"}


class Disk:
    """The disk under one engine's database: :meth:`fill` it, :meth:`free` it."""

    def __init__(self, engine: Engine) -> None:
        self.full = False
        if engine.dialect.name == "sqlite":
            event.listen(engine, "before_cursor_execute", self._sqlite_limit)
        else:
            event.listen(engine, "before_cursor_execute", self._postgresql_refusal)

    def fill(self) -> None:
        self.full = True

    def free(self) -> None:
        self.full = False

    def _sqlite_limit(self, conn: Any, cursor: Any, *_: Any) -> None:
        # SQLite itself refuses to grow the file past max_page_count (SQLITE_FULL). Asking for
        # 1 page caps it at its current size. The limit belongs to a connection, and pooled
        # connections outlive a fill or a free, so each connection takes the current limit
        # before its next statement.
        limit = 1 if self.full else SQLITE_NO_LIMIT
        if conn.info.get("max_page_count") != limit:
            cursor.connection.execute(f"PRAGMA max_page_count={limit}")
            conn.info["max_page_count"] = limit

    def _postgresql_refusal(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # A mock, for an edge a real part cannot produce on demand: filling a PostgreSQL
        # server's disk takes a filesystem of its own. What the server answers then is
        # SQLSTATE 53100, which psycopg raises as DiskFull; raised before the statement runs,
        # it takes the same path (the transaction rolls back, SQLAlchemy wraps it).
        if self.full and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE"):
            raise psycopg.errors.DiskFull(
                'could not extend file "base/16384/16397": No space left on device'
            )


@dataclass
class Adapter:
    desk: Desk
    disk: Disk
    engine: Engine  # the test's own view of the database (never full)
    settings: Settings
    simulator: SimulatorServer
    runtime: Runtime
    db_url: str

    @property
    def hl7_port(self) -> int:
        assert self.runtime.hl7 is not None
        return self.runtime.hl7.port


@pytest.fixture
def adapter(db_url: str, engine: Engine) -> Iterator[Adapter]:
    with start_simulator() as simulator:
        token = prepare(db_url, simulator.url)
        settings = simulated_settings(
            db_url,
            simulator.url,
            schedule={"enabled": False},
            hl7={"enabled": True, "port": free_port()},
            queue={"workers": 0, "poll_seconds": 0.2},
        )
        db = make_engine(db_url)
        disk = Disk(db)
        runtime = build_runtime(settings, engine=db, workers=0)
        with serving(build_app(settings, runtime)) as base:
            yield Adapter(
                Desk(base, token, sim_url=simulator.url),
                disk,
                engine,
                settings,
                simulator,
                runtime,
                db_url,
            )


# --- what a user would notice -------------------------------------------------------------


def row_counts(engine: Engine) -> Counter[str]:
    names = [n for n in inspect(engine).get_table_names() if n not in NOT_PART_OF_THE_REQUEST]
    with engine.connect() as connection:
        return Counter(
            {n: connection.execute(select(func.count()).select_from(table(n))).scalar_one()
             for n in names}
        )  # fmt: skip


def refused_on_full_disk(
    adapter: Adapter, send: Callable[[int], httpx.Response], tries: int = 30
) -> int:
    """Send writes ``send(0)``, ``send(1)``, … on the full disk until one is refused; return
    its number. Each one accepted was saved whole; the refused one changed nothing."""
    for n in range(tries):
        before = row_counts(adapter.engine)
        reply = send(n)
        if reply.status_code < 300:  # it fitted in pages the file already had
            continue
        assert_refused(reply, "DATABASE_FULL", "磁盘已满", "未保存", "信息科")
        assert row_counts(adapter.engine) == before  # nothing half-written
        return n
    raise AssertionError(f"the full disk refused none of {tries} writes")


def encounter_status(engine: Engine, visit: str) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(EncounterRow.status).where(EncounterRow.his_visit_id == visit)  # type: ignore[arg-type]
        )
        return [row[0] for row in rows]


def fee_lines(prefix: str, count: int = 20) -> dict[str, Any]:
    when = (datetime.now(SHANGHAI) - timedelta(days=2)).replace(microsecond=0).isoformat()
    line = {
        "item_code": "XN02BEB001",
        "item_name": "布洛芬缓释胶囊",
        "category": "drug",
        "quantity": "1",
        "unit_price": "18.50",
        "amount": "18.50",
        "occurred_at": when,
    }
    return {"lines": [{**line, "his_line_id": f"{prefix}-{k}"} for k in range(count)]}


def admitted(desk: Desk, visit: str) -> str:
    reply = desk.admit(visit)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


# --- REST ---------------------------------------------------------------------------------


def test_a_clerk_s_writes_on_a_full_disk_are_refused_clearly_and_work_once_space_is_freed(
    adapter: Adapter,
) -> None:
    desk, disk = adapter.desk, adapter.disk
    stays = [admitted(desk, f"DF-S{n}") for n in range(6)]
    for encounter_id in stays:
        assert desk.fees(encounter_id).status_code in (200, 201)

    disk.fill()
    visit = refused_on_full_disk(adapter, lambda n: desk.admit(f"DF-A{n}"))
    assert encounter_status(adapter.engine, f"DF-A{visit}") == []  # the clerk must admit again
    lines = refused_on_full_disk(
        adapter,
        lambda n: desk.call("POST", f"/api/v1/encounters/{stays[0]}/fees", json=fee_lines(f"F{n}")),
    )
    settle = refused_on_full_disk(adapter, lambda n: desk.settle(stays[n]), tries=len(stays))
    assert encounter_status(adapter.engine, f"DF-S{settle}") == ["admitted"]
    assert verify(adapter.engine).ok

    disk.free()  # IT frees space; the clerk sends the same requests again
    assert desk.admit(f"DF-A{visit}").status_code == 201
    assert encounter_status(adapter.engine, f"DF-A{visit}") == ["admitted"]
    reply = desk.call("POST", f"/api/v1/encounters/{stays[0]}/fees", json=fee_lines(f"F{lines}"))
    assert reply.status_code in (200, 201), reply.text
    reply = desk.settle(stays[settle])
    assert reply.status_code == 201, reply.text
    assert encounter_status(adapter.engine, f"DF-S{settle}") == ["settled"]
    assert verify(adapter.engine).ok


# --- HL7 over MLLP ------------------------------------------------------------------------


def a01(control_id: str, visit: str, worker: tuple[str, str, str]) -> bytes:
    """A01 for ``worker`` (card, citizen ID, name): each visit its own seeded worker, since a
    worker has one open stay per kind (B§28)."""
    card_no, citizen_id, name = worker
    now = datetime.now(SHANGHAI)
    admitted_at = (now - timedelta(days=1)).strftime("%Y%m%d%H%M%S") + "+0800"
    segments = [
        f"MSH|^~\\&|HIS|H1|WIADAPTER|H11010000001|{now.strftime('%Y%m%d%H%M%S')}+0800||"
        f"ADT^A01^ADT_A01|{control_id}|P|2.5|||AL|NE||UNICODE UTF-8",
        f"PID|1||{citizen_id}^^^^NI~HISP001^^^^PI||{name}||19780314|M",
        "|".join(["PV1", "1", "I", "骨科病区", *[""] * 15, visit, *[""] * 24, admitted_at]),
        "DG1|1||S62.301^左手第三掌骨骨折^I10",
        f"ZWI|P|{card_no}||左手|medical",
    ]
    return "\r".join(segments).encode("utf-8")


def segment(ack: str, name: str) -> list[str]:
    return next(line for line in ack.split("\r") if line.startswith(f"{name}|")).split("|")


def accepted_messages(engine: Engine, control_id: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(hl7_message)
                .where(hl7_message.c.control_id == control_id, hl7_message.c.outcome == "accepted")
            ).scalar_one()
        )


def test_an_hl7_message_on_a_full_disk_gets_ae_and_is_accepted_once_when_resent(
    adapter: Adapter,
) -> None:
    port = adapter.hl7_port

    def a01_for(control_id: str, visit: str) -> bytes:
        return a01(control_id, visit, seeded_worker(adapter.simulator.url, visit))

    first_ack = exchange(port, a01_for("DF-C0", "DF-HV0"))
    assert segment(first_ack, "MSA")[1] == "AA", first_ack

    adapter.disk.fill()
    refused = None
    for n in range(1, 31):
        ack = exchange(port, a01_for(f"DF-C{n}", f"DF-HV{n}"))
        if segment(ack, "MSA")[1] != "AA":
            refused = n
            break
    assert refused is not None, "the full disk refused none of 30 messages"
    msh, msa, err = segment(ack, "MSH"), segment(ack, "MSA"), segment(ack, "ERR")
    assert msa[1:3] == ["AE", f"DF-C{refused}"], ack  # an application error, not AA, not AR
    assert msh[11] == "2.5" and msh[17] == "UNICODE UTF-8", ack  # the message's own
    assert "DATABASE_FULL" in err[3] and "磁盘已满" in err[8] and "重发" in err[8], ack
    assert encounter_status(adapter.engine, f"DF-HV{refused}") == []
    assert accepted_messages(adapter.engine, f"DF-C{refused}") == 0

    adapter.disk.free()  # the HIS resends the same message
    message = a01_for(f"DF-C{refused}", f"DF-HV{refused}")
    first = exchange(port, message)
    assert segment(first, "MSA")[1:3] == ["AA", f"DF-C{refused}"], first
    assert exchange(port, message) == first  # a second resend is answered from the log
    assert encounter_status(adapter.engine, f"DF-HV{refused}") == ["admitted"]
    assert accepted_messages(adapter.engine, f"DF-C{refused}") == 1
    assert verify(adapter.engine).ok


# --- the upload queue ---------------------------------------------------------------------


def writes(simulator: SimulatorServer) -> list[dict[str, Any]]:
    return list(httpx.get(f"{simulator.url}/_sim/received", timeout=30).json()["writes"])


# PostgreSQL only: the queue's own writes (a lease, an outcome, a 100-byte attempt row) fit in
# pages a SQLite file already has, so a capped file refuses them only by chance; the runner's
# handling does not depend on the backend (any SQLAlchemyError).
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_uploads_interrupted_by_a_full_disk_are_delivered_once_after_it(
    adapter: Adapter, caplog: pytest.LogCaptureFixture
) -> None:
    desk = adapter.desk
    for n in range(3):
        desk.stay(f"DF-Q{n}")
    jobs = list_jobs(adapter.engine, limit=1000)
    assert len(jobs) == 6 and {job.status for job in jobs} == {"pending"}
    # Each delivery takes a moment, so the disk can fill while upstream has the job and
    # before the worker writes that it was delivered.
    simulator_faults(adapter.simulator, latency_ms=400)

    # The instance that delivers, on its own engine (its own view of the same full disk).
    db = make_engine(adapter.db_url)
    disk = Disk(db)
    settings = adapter.settings.model_copy(
        update={"queue": adapter.settings.queue.model_copy(update={"workers": 1})}
    )
    delivering = build_runtime(settings, engine=db, hl7=False, scheduled=False)
    assert delivering.runner is not None
    caplog.set_level(logging.ERROR, logger="upload_queue")
    delivering.start()
    try:
        eventually(lambda: in_flight(adapter.engine), 20, "a job with upstream")
        disk.fill()

        def refused() -> bool:
            return any("drain_failed" in r.getMessage() for r in caplog.records)

        eventually(refused, 20, "the worker's write refused by the full disk")
        assert delivering.runner.running  # the runner keeps going; the next tick tries again
        assert "dead" not in {job.status for job in list_jobs(adapter.engine)}

        disk.free()
        # Well inside the lease (120 s): the worker takes back what it held when its write
        # was refused, rather than leaving those jobs until their leases expire.
        eventually(desk.drained, 20, "every upload delivered once the disk has space")
    finally:
        delivering.stop()

    jobs = list_jobs(adapter.engine, limit=1000)
    assert {job.status for job in jobs} == {"delivered"}
    received = writes(adapter.simulator)
    by_msgid = Counter(w["msgid"] for w in received)
    assert set(by_msgid) == {job.idempotency_key for job in jobs}
    assert max(by_msgid.values()) == 1 and all(w["took_effect"] for w in received)
    assert any(w["times_received"] > 1 for w in received), "no delivery went unrecorded"
    assert verify(adapter.engine).ok


def in_flight(engine: Engine) -> bool:
    return any(job.status == "in_flight" for job in list_jobs(engine))


def simulator_faults(simulator: SimulatorServer, **faults: Any) -> None:
    reply = httpx.post(f"{simulator.url}/_sim/faults", json=faults, timeout=10)
    assert reply.status_code == 200, reply.text
