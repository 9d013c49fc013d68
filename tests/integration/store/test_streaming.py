"""The month-end scans stream: a reconciliation run's lines (a month's settlements, copied
by the database) are read by the run's one pass (``sift``) in chunks from a server-side
cursor on PostgreSQL, open while the pass compares and closed after it, in settlement order;
months of settlement uploads (clearing) come out of their repository one by one while the
unit of work is open, in order, from such a cursor — never a list of 50,000."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import EncounterStatus
from adapter.domain.reconciliation_lines import Lines
from adapter.domain.reconciliation_sieve import Sieve
from adapter.domain.upstream import Infno, ReconciliationFigures
from adapter.store.db import is_sqlite
from adapter.store.repositories import ReconciliationRepository, UploadRecord
from adapter.store.repositories import reconciliation_lines as repository  # its _STREAM
from adapter.store.uow import UnitOfWork
from tests.integration.store import factories as f
from tests.integration.store.conftest import FakeClock

KINDS = (Infno.DISCHARGE.value, Infno.DEVICE_SETTLEMENT.value)


def _seed(store: Engine, clock: FakeClock) -> None:
    """Three settlements on 3 January, settled in reverse id order; S2 uploaded twice (its
    discharge record re-sent), S3 never."""
    with UnitOfWork(store, clock=clock) as uow:
        for n, minute in ((1, 50), (2, 40), (3, 30)):
            eid = f"E{n}"
            uow.encounters.add(f.encounter(eid))
            uow.encounters.update(
                f.encounter(eid, status=EncounterStatus.SETTLED), expected_version=1
            )
            settlement = f.settlement(
                f"S{n}",
                enc=f.encounter(eid, status=EncounterStatus.SETTLED),
                slip_no=f"H11010000001202601030000{n}",
                settled_at=f.at("2026-01-03", 10, minute),
            )
            uow.settlements.add(settlement, zone=f.SHANGHAI)
        for job, (sid, msgid) in enumerate((("S1", "M1"), ("S2", "M2a"), ("S2", "M2b")), 1):
            uow.uploads.add(
                UploadRecord(
                    encounter_id=f"E{sid[1]}",
                    settlement_id=sid,
                    infno=Infno.DISCHARGE.value,
                    msgid=msgid,
                    job_id=job,
                    deadline=clock.now() + timedelta(days=1),
                    created_at=clock.now(),
                )
            )
        uow.commit()


def _open_server_cursors(uow: UnitOfWork) -> int:
    return int(
        uow.session.connection().exec_driver_sql("SELECT count(*) FROM pg_cursors").scalar_one()
    )


def _first_then_rest(rows: Iterator[Any], uow: UnitOfWork, store: Engine) -> list[Any]:
    """Take one row, check a cursor is still open for the rest (PostgreSQL), take the rest."""
    assert not isinstance(rows, list | tuple)
    first = next(rows)
    if not is_sqlite(store):
        assert _open_server_cursors(uow) == 1
    rest = list(rows)
    if not is_sqlite(store):
        assert _open_server_cursors(uow) == 0
    return [first, *rest]


class _Watched(dict[str, Any]):
    """Upstream's plain figures, noting at each look-up (one per line, during the pass) how
    many server-side cursors the unit of work has open."""

    def __init__(self, plain: dict[str, Any], uow: UnitOfWork, store: Engine) -> None:
        super().__init__(plain)
        self._uow, self._store = uow, store
        self.open_cursors: list[int] = []

    def pop(self, key: str, default: Any = None) -> Any:
        if not is_sqlite(self._store):
            self.open_cursors.append(_open_server_cursors(self._uow))
        return super().pop(key, default)


def _nothing_upstream() -> Sieve:
    """Upstream lists nothing for January: the pass judges every line."""
    zero = Decimal("0.00")
    return Sieve(ReconciliationFigures(f.INSTITUTION, "2026-01", 0, zero, zero, zero, ()))


def _january() -> tuple[list[datetime], list[date]]:
    """January 2026's local days in Shanghai and the instants they begin (then February's)."""
    days = [date(2026, 1, n) for n in range(1, 32)]
    bounds = [datetime.combine(day, time.min, tzinfo=f.SHANGHAI) for day in days]
    return [*bounds, datetime(2026, 2, 1, tzinfo=f.SHANGHAI)], days


def _running(runs: ReconciliationRepository, clock: FakeClock) -> int:
    """A January run just started (its lines are copied next)."""
    return runs.add(
        month="2026-01",
        started_at=clock.now(),
        finished_at=clock.now(),
        actor="t",
        outcome="running",
        message="",
    )


def test_a_months_settlements_become_a_runs_lines_read_in_chunks_in_settlement_order(
    store: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "_STREAM", 2)  # three lines: two chunks
    _seed(store, clock)
    bounds, days = _january()
    with UnitOfWork(store) as uow:
        runs = uow.reconciliations
        run_id = _running(runs, clock)
        runs.copy_lines(run_id, bounds, days, f.INSTITUTION, undelivered={"M1", "M-other"})
        sieve = _nothing_upstream()
        watched = sieve.plain = _Watched(sieve.plain, uow, store)
        sifted = runs.sift(run_id, sieve)
        if not is_sqlite(store):
            # every line compared while the cursor holding the rest was open; closed after
            assert watched.open_cursors == [1, 1, 1]
            assert _open_server_cursors(uow) == 0
        lines = sifted.others
        assert [(s.setl_id, s.upload_msgid, s.upload_delivered) for s in lines] == [
            ("S3", "", None),
            ("S2", "M2b", True),
            ("S1", "M1", False),
        ]
        assert sifted.lines == Lines(lines)  # kept, in that order
        assert all(s.psn_no == "P001" and not s.revoked for s in lines)
        assert {s.settles_on for s in lines} == {date(2026, 1, 3)}
        assert sifted.local.count == 3 and not sifted.matched
        other = _running(runs, clock)
        runs.copy_lines(other, bounds, days, "H99999999999", undelivered=())
        empty = runs.sift(other, _nothing_upstream())
        assert empty.others == [] and list(empty.lines) == [] and empty.local.count == 0


def test_recent_settlement_uploads_stream_with_their_settlement(
    store: Engine, clock: FakeClock
) -> None:
    _seed(store, clock)
    with UnitOfWork(store) as uow:
        since = f.at("2026-01-03", 10, 35)  # S3 settled before: its (no) uploads are left out
        rows = _first_then_rest(uow.uploads.of_settlements_since(KINDS, since), uow, store)
        assert sorted((r.msgid, r.settlement_id, r.slip_no) for r in rows) == [
            ("M1", "S1", "H110100000012026010300001"),
            ("M2a", "S2", "H110100000012026010300002"),
            ("M2b", "S2", "H110100000012026010300002"),
        ]
        named = uow.uploads.of_settlements(KINDS, ["M2b", "M9"])
        assert [(r.msgid, r.psn_no) for r in named] == [("M2b", "P001")]
