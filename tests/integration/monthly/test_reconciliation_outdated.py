"""A month whose settlements changed after its latest reconciliation (N§35, B§33): real
stays settled, revoked and settled again through the services, the month reconciled, then
read over REST and on the billing desk's page — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from tests.integration.monthly.api import desk_pages, monthly_api
from tests.integration.monthly.world import DRUG, Desk, SetClock, at, fee
from upload_queue import UploadQueue

JAN = "2026-01"


def d(day: int, month: int = 1) -> date:
    return date(2026, month, day)


def test_a_settlement_revoked_after_its_month_balanced_says_the_result_is_outdated(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    queue: UploadQueue,
    db: Engine,
    db_url: str,
) -> None:
    """January balances on 1 February. On 2 February one of its settlements is revoked (the
    WI2305 still queued: upstream would pay it) and settled again. January's latest run
    still says 一致: the billing clerk must be told it no longer stands for the month, which
    settlement changed, and to reconcile again — or the month is signed off on a stale
    result."""
    desk = Desk(services, clock)
    kept = desk.stay("P002", "V-K", d(3), d(5), [fee("K1", DRUG, "18.25", d(4))])
    changed = desk.stay("P001", "V-C", d(27), d(30), [fee("C1", DRUG, "36.50", d(28))])
    assert queue.worker().drain() > 0
    clock.set(at(d(1, 2), 10))
    assert monthly.reconciliation.run(JAN, actor="结算处-01").run.outcome == "balanced"
    desk.revoke(changed, d(2, 2))
    desk.settle(changed.encounter.id, d(2, 2))  # February's now

    clock.set(at(d(3, 2), 9))
    with monthly_api(db, db_url, services) as api:
        body = api.get(f"/api/v1/reconciliation/{JAN}").json()
    assert body["changed_since_run"] == [changed.id]
    assert kept.id not in body["changed_since_run"]
    with desk_pages(db, db_url, services, monthly, role="billing") as page:
        text = page.get("/web/reconciliation", params={"month": JAN}).text
    assert 'data-testid="outdated"' in text
    assert changed.id in text and "请重新对账" in text

    # at the half-yearly clearing cutoff the month is flagged like one with differences
    cutoff = monthly.reconciliation.calendar.month_cutoffs(JAN)[1].on
    [flagged] = monthly.reconciliation.unresolved_at_clearing(cutoff)
    assert (flagged.month, flagged.outcome) == (JAN, "outdated")
    assert changed.id in flagged.message and "请重新对账" in flagged.message

    # run again: the revocation upstream never got is now a difference of its own
    rerun = monthly.reconciliation.run(JAN, actor="结算处-01").result
    assert rerun is not None
    [again] = rerun.differences
    assert (again.setl_id, again.kind.value) == (changed.id, "revoked_here_only")
    assert queue.worker().drain() > 0  # the WI2305 delivered: the month balances again
    assert monthly.reconciliation.run(JAN, actor="结算处-01").run.outcome == "balanced"
    assert monthly.reconciliation.unresolved_at_clearing(cutoff) == []
    assert monthly.reconciliation.latest(JAN).changed_since_run == ()
    with monthly_api(db, db_url, services) as api:
        assert api.get(f"/api/v1/reconciliation/{JAN}").json()["changed_since_run"] == []
