"""A reconciliation run's lines are rows of ``reconciliation_line`` (migration 0013): a run of
many lines, copied from the month's settlements by the database and streamed back in
several chunks, reads back exactly — each settlement's local day (across local midnight),
amounts to the fen, revoked or not, its latest upload and whether it was delivered — in
settlement-time order, with the run's differences listed; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from adapter.domain.encounters import EncounterStatus
from adapter.domain.reconciliation import Difference, DifferenceKind, Totals
from adapter.domain.reconciliation_lines import Amounts, Lines, LocalSettlement
from adapter.domain.reconciliation_sieve import Sieve, reconcile
from adapter.domain.upstream import Infno, ReconciledSettlement, ReconciliationFigures
from adapter.store.repositories import ReconciliationRepository, UploadRecord
from adapter.store.repositories import reconciliation_lines as repository  # its _STREAM
from adapter.store.sql import table
from adapter.store.tables import SettlementRow
from adapter.store.uow import UnitOfWork
from tests.integration.store import factories as f
from tests.integration.store.conftest import FakeClock

COUNT = 150  # three chunks of the stream below
MONTH = "2026-01"


def _settled_at(n: int) -> datetime:
    """Spread over January, local time; some a second either side of local midnight."""
    day = date(2026, 1, 1 + n % 31)
    if n % 10 == 0:
        return datetime.combine(day, time(0, 0), tzinfo=f.SHANGHAI)
    if n % 10 == 1:
        return datetime.combine(day, time(23, 59, 59), tzinfo=f.SHANGHAI)
    return datetime.combine(day, time(8 + n % 12, n % 60), tzinfo=f.SHANGHAI)


def _seed(store: Engine, clock: FakeClock) -> None:
    """COUNT settlements in January; every 7th revoked; every 5th never uploaded, the
    others uploaded once (every 3rd twice: the latest counts)."""
    with UnitOfWork(store, clock=clock) as uow:
        job = 0
        for n in range(COUNT):
            eid, sid = f"E{n:04d}", f"S{n:04d}"
            uow.encounters.add(f.encounter(eid))
            uow.encounters.update(
                f.encounter(eid, status=EncounterStatus.SETTLED), expected_version=1
            )
            settlement = f.settlement(
                sid,
                enc=f.encounter(eid, status=EncounterStatus.SETTLED),
                slip_no=f"H1101000000120260100{n:04d}",
                settled_at=_settled_at(n),
            )
            uow.settlements.add(settlement, zone=f.SHANGHAI)
            if n % 7 == 0:
                uow.settlements.revoke(sid, at=_settled_at(n), reason="重新结算")
            for msgid in (
                [] if n % 5 == 0 else [f"M{n:04d}a", f"M{n:04d}b"][: 2 if n % 3 == 0 else 1]
            ):
                job += 1
                uow.uploads.add(
                    UploadRecord(
                        encounter_id=eid,
                        settlement_id=sid,
                        infno=Infno.DISCHARGE.value,
                        msgid=msgid,
                        job_id=job,
                        deadline=clock.now() + timedelta(days=1),
                        created_at=clock.now(),
                    )
                )
        # one settlement of December's last second and one of February's first: not January's
        for eid, when in (("EDEC", datetime(2025, 12, 31, 23, 59, 59, tzinfo=f.SHANGHAI)),
                          ("EFEB", datetime(2026, 2, 1, tzinfo=f.SHANGHAI))):  # fmt: skip
            uow.encounters.add(f.encounter(eid))
            uow.encounters.update(
                f.encounter(eid, status=EncounterStatus.SETTLED), expected_version=1
            )
            uow.settlements.add(
                f.settlement(
                    f"S-{eid}",
                    enc=f.encounter(eid, status=EncounterStatus.SETTLED),
                    slip_no=f"H11010000001{eid}",
                    settled_at=when,
                ),
                zone=f.SHANGHAI,
            )
        uow.commit()


def _expected(store: Engine) -> list[LocalSettlement]:
    """What the lines must say, from the settlements as the store reads them (typed)."""
    settlement = table(SettlementRow)
    with UnitOfWork(store) as uow:
        stored = {
            row.id: row
            for row in uow.session.execute(
                select(
                    settlement.c.id,
                    settlement.c.total,
                    settlement.c.fund_pay,
                    settlement.c.personal_pay,
                    settlement.c.crosses_year,
                )
            )
        }
    found = []
    for n in sorted(range(COUNT), key=lambda n: (_settled_at(n), n)):
        row = stored[f"S{n:04d}"]
        msgid = "" if n % 5 == 0 else (f"M{n:04d}b" if n % 3 == 0 else f"M{n:04d}a")
        found.append(
            LocalSettlement(
                setl_id=f"S{n:04d}",
                psn_no="P001",
                kind="medical",
                settles_on=_settled_at(n).date(),
                amounts=Amounts(row.total, row.fund_pay, row.personal_pay),
                revoked=n % 7 == 0,
                slip_no=f"H1101000000120260100{n:04d}",
                crosses_year=bool(row.crosses_year),
                upload_msgid=msgid,
                upload_delivered=None if not msgid else msgid not in UNDELIVERED,
            )
        )
    return found


UNDELIVERED = {"M0002a", "M0003b", "M0003a", "M-elsewhere"}  # M0003a: superseded by M0003b


def _bounds() -> tuple[list[datetime], list[date]]:
    days = [date(2026, 1, n) for n in range(1, 32)]
    bounds = [datetime.combine(day, time.min, tzinfo=f.SHANGHAI) for day in days]
    return [*bounds, datetime(2026, 2, 1, tzinfo=f.SHANGHAI)], days


def _copied(
    runs: ReconciliationRepository, clock: FakeClock, bounds: list[datetime], days: list[date]
) -> int:
    """A run started for the month, with the month's settlements copied as its lines."""
    run_id = runs.add(
        month=MONTH,
        started_at=clock.now(),
        finished_at=clock.now(),
        actor="clerk01",
        outcome="running",
        message="",
    )
    runs.copy_lines(run_id, bounds, days, f.INSTITUTION, UNDELIVERED)
    return run_id


def _difference(setl_id: str, kind: DifferenceKind, local: Amounts | None) -> Difference:
    return Difference(kind, setl_id, "P001", date(2026, 1, 4), local, None, "差异", "处理")


def test_a_run_of_many_lines_is_kept_as_rows_and_read_back_exactly(
    store: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "_STREAM", 64)  # the stream comes back in chunks
    _seed(store, clock)
    expected = _expected(store)
    assert len({s.settles_on for s in expected}) == 31
    bounds, days = _bounds()
    a = expected[3].amounts
    differences = (
        _difference(expected[3].setl_id, DifferenceKind.MISSING_UPSTREAM, a),
        _difference("SX-UPSTREAM-ONLY", DifferenceKind.MISSING_HERE, None),
    )
    local = Totals(COUNT, Amounts(Decimal("1.00"), Decimal("0.70"), Decimal("0.30")))
    with UnitOfWork(store, clock=clock) as uow:
        runs = uow.reconciliations
        run_id = _copied(runs, clock, bounds, days)
        # upstream lists nothing: the run's pass makes every line a settlement, as read back
        zero = Decimal("0.00")
        nothing = ReconciliationFigures(f.INSTITUTION, MONTH, 0, zero, zero, zero, ())
        sifted = runs.sift(run_id, Sieve(nothing))
        assert sifted.others == expected and not sifted.matched
        assert sifted.lines == Lines(expected)
        runs.finish(
            run_id,
            finished_at=clock.now(),
            outcome="differences",
            message="发现2处差异",
            totals_match=False,
            local=local,
            upstream=Totals(0, Amounts(Decimal(0), Decimal(0), Decimal(0))),
            differences=differences,
        )
        uow.commit()

    with UnitOfWork(store) as uow:
        report = uow.reconciliations.latest(MONTH)
    assert report is not None and report.result is not None
    assert report.run.id == run_id and report.run.outcome == "differences"
    assert report.lines == Lines(expected)
    assert list(report.lines) == list(Lines(expected))  # the lines as the REST answer lists them
    by_id = {line["setl_id"]: line for line in report.lines}
    assert by_id["S0003"]["upload_delivered"] is False  # M0003b, the latest: not delivered
    assert by_id["S0006"]["upload_msgid"] == "M0006b" and by_id["S0006"]["upload_delivered"]
    assert by_id["S0005"]["upload_msgid"] == "" and by_id["S0005"]["upload_delivered"] is None
    assert by_id["S0007"]["status"] == "revoked" and by_id["S0008"]["status"] == "settled"
    assert by_id["S0001"]["settles_on"] == "2026-01-02"  # 23:59:59 local, 15:59:59 UTC
    assert report.lines[0]["settles_on"] == "2026-01-01"
    assert "S-EDEC" not in by_id and "S-EFEB" not in by_id
    assert report.result.local == local
    assert report.result.differences == differences


def _upstream(expected: list[LocalSettlement]) -> ReconciliationFigures:
    """Upstream's figures for the lines, with every kind of case planted: amounts a fen
    off or a tenth of a fen off, missing, listed twice, revoked there only, the same
    amounts written with four places, under another worker, of another kind, and one
    settlement unknown here."""
    items: list[ReconciledSettlement] = []
    for i, s in enumerate(expected):
        a = s.amounts
        total, fund, personal, revoked = a.total, a.fund_pay, a.personal_pay, s.revoked
        psn_no, kind = s.psn_no, s.kind
        if i % 13 == 2:
            continue  # missing upstream
        if i % 11 == 1:
            total, fund = total + Decimal("0.01"), fund + Decimal("0.01")
        elif i % 29 == 6:
            total = total + Decimal("0.001")
        elif i % 19 == 4:
            revoked = True
        elif i % 23 == 5:
            total, fund = total.quantize(Decimal("0.0001")), fund.quantize(Decimal("0.0001"))
        elif i % 31 == 7:
            psn_no = "P-OTHER"
        elif i % 37 == 8:
            kind = "medical" if kind == "rehab" else "rehab"
        entry = ReconciledSettlement(
            s.setl_id, s.upload_msgid, psn_no, kind, s.settles_on, total, fund,
            personal, revoked=revoked,
        )  # fmt: skip
        items += [entry, entry] if i % 17 == 3 else [entry]
    unknown = ReconciledSettlement(
        "SX-UPSTREAM-ONLY", "MX", "P009", "medical", date(2026, 1, 9),
        Decimal("10.00"), Decimal("7.00"), Decimal("3.00"),
    )  # fmt: skip
    items.append(unknown)
    return ReconciliationFigures(
        f.INSTITUTION, MONTH, len(items), Decimal("1.00"), Decimal("0.70"),
        Decimal("0.30"), tuple(items),
    )  # fmt: skip


K = DifferenceKind


def test_lines_read_against_upstream_are_judged_as_reconcile_judges_them(
    store: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run reads its lines once, setting aside those matching upstream's plain figures
    by comparing integers of fen: the result (totals, every difference, in order) is what
    the domain's one-settlement-at-a-time comparison gives, and the lines are all kept."""
    monkeypatch.setattr(repository, "_STREAM", 64)
    monkeypatch.setattr(repository, "_INLINE", 2)  # two undelivered in the copy, two after
    _seed(store, clock)
    expected = _expected(store)
    figures = _upstream(expected)
    bounds, days = _bounds()
    sieve = Sieve(figures)
    with UnitOfWork(store, clock=clock) as uow:
        runs = uow.reconciliations
        run_id = _copied(runs, clock, bounds, days)
        sifted = runs.sift(run_id, sieve)
    result = sieve.judge(MONTH, sifted.local, sifted.others, sifted.matched)
    assert result == reconcile(MONTH, expected, figures)
    kinds = {d.kind for d in result.differences}
    # (another month's settlement of ours is placed by the run, after judging: placed())
    assert kinds == set(DifferenceKind) - {K.REVOKED_HERE_ONLY, K.OTHER_MONTH_HERE}, kinds
    assert sifted.lines == Lines(expected) and list(sifted.lines) == list(Lines(expected))
    assert len(sifted.matched) > COUNT // 2  # most set aside without being judged
