"""Reconciliation against upstream lines that name our settlements wrongly (N§35, B§33): real
stays settled through the services, upstream's month seeded in the simulator, the month
reconciled — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.world import DRUG, Desk, SetClock, at, fee, seed, upstream_settlement
from tests.integration.services.helpers import INSTITUTION

JAN, FEB = "2026-01", "2026-02"


def d(day: int, month: int = 1) -> date:
    return date(2026, month, day)


def figures(month: str, *settlements: dict[str, object]) -> list[dict[str, object]]:
    return [
        {
            "fixmedins_code": INSTITUTION,
            "month": month,
            "total": "0.00",
            "fund_pay": "0.00",
            "psn_pay": "0.00",
            "settlements": list(settlements),
        }
    ]


def test_upstream_filing_our_settlement_under_another_worker_is_a_difference(
    services: Services, monthly: MonthlyServices, clock: SetClock, sim: SimulatorServer
) -> None:
    """Upstream lists our settlement, amounts to the fen, under another worker: the fund's
    payment would be charged to that worker (and to their insured place in clearing, N§40).
    The month does not balance, and the difference names both workers."""
    desk = Desk(services, clock)
    ours = desk.stay("P001", "V-P", d(3), d(5), [fee("P1", DRUG, "36.50", d(4))])
    # upstream took the upload (its reply was lost: the job is still queued here) under P002
    seed(sim.url, figures=figures(JAN, upstream_settlement(ours.id, d(5), "36.50", "36.50",
                                                           psn_no="P002")))  # fmt: skip
    clock.set(at(d(3, 2), 6))
    report = monthly.reconciliation.run(JAN, actor="system")
    assert report.result is not None
    assert report.result.totals_match  # the money agrees: only the worker differs
    [difference] = report.result.differences
    assert (difference.setl_id, difference.kind.value) == (ours.id, "person_differs")
    assert "P001" in difference.message and "P002" in difference.message
    assert not report.result.balanced and report.run.outcome == "differences"


def test_upstream_listing_our_revoked_settlement_in_another_month_says_it_is_ours_and_revoked(
    services: Services, monthly: MonthlyServices, clock: SetClock, sim: SimulatorServer
) -> None:
    """A January settlement, revoked here, that upstream lists in February, in effect: the
    fund would pay a revoked bill. February must not say "本地无此结算" (the clerk would tell
    the agency it is not ours): it says it is ours, of January, revoked here."""
    desk = Desk(services, clock)
    ours = desk.stay("P001", "V-R", d(20), d(22), [fee("R1", DRUG, "54.75", d(21), quantity="3")])
    desk.revoke(ours, d(23))
    seed(sim.url, figures=figures(FEB, upstream_settlement(ours.id, d(1, 2), "54.75", "54.75")))
    clock.set(at(d(3, 3), 6))
    report = monthly.reconciliation.run(FEB, actor="system")
    assert report.result is not None
    [difference] = report.result.differences
    assert difference.setl_id == ours.id
    assert difference.kind.value == "other_month_here"
    assert "本地没有" not in difference.message
    assert JAN in difference.message and "已撤销" in difference.message
    assert "WI2305" in difference.action  # the revocation upstream must have
    assert difference.local is not None and difference.local.total == ours.breakdown.total


def test_upstream_listing_our_settlement_in_another_month_names_our_month(
    services: Services, monthly: MonthlyServices, clock: SetClock, sim: SimulatorServer
) -> None:
    """A January settlement in effect that upstream lists in February: ours, of January by its
    settlement time (N§35) — the agency is asked to file it there, not told it is not ours."""
    desk = Desk(services, clock)
    ours = desk.stay("P001", "V-S", d(27), d(31), [fee("S1", DRUG, "18.25", d(28))])
    seed(sim.url, figures=figures(FEB, upstream_settlement(ours.id, d(1, 2), "18.25", "18.25")))
    clock.set(at(d(3, 3), 6))
    report = monthly.reconciliation.run(FEB, actor="system")
    assert report.result is not None
    [difference] = report.result.differences
    assert (difference.setl_id, difference.kind.value) == (ours.id, "other_month_here")
    assert "本地没有" not in difference.message
    assert "2026-01-31" in difference.message and "已撤销" not in difference.message
    assert "N§35" in difference.article


def test_upstream_listing_our_settlement_twice_with_other_amounts_names_each_and_which_to_keep(
    services: Services, monthly: MonthlyServices, clock: SetClock, sim: SimulatorServer
) -> None:
    """Upstream lists our settlement twice: once as our slip has it, once with the fund
    paying 8.25 less (the worker 8.25 more), once more under another worker. Told only "recorded
    three times, delete the duplicates", the agency may keep a wrong one: the difference names
    each line upstream holds and which one to keep (N§35, B§33)."""
    desk = Desk(services, clock)
    ours = desk.stay("P002", "V-DUP", d(3), d(6), [fee("D1", DRUG, "18.25", d(4))])
    seed(sim.url, figures=figures(JAN,
        upstream_settlement(ours.id, d(6), "18.25", "18.25", psn_no="P002"),
        upstream_settlement(ours.id, d(6), "18.25", "10.00", psn_no="P002"),
        upstream_settlement(ours.id, d(6), "18.25", "18.25", psn_no="P009"),
    ))  # fmt: skip
    clock.set(at(d(3, 2), 6))
    report = monthly.reconciliation.run(JAN, actor="system")
    assert report.result is not None
    [difference] = report.result.differences
    assert (difference.setl_id, difference.kind.value) == (ours.id, "duplicate_upstream")
    assert "记录了3次" in difference.message
    second, third = difference.message.split("第2条")[1].split("第3条")
    assert "人员P002，总费用18.25元、基金支付10.00元、个人支付8.25元" in second
    assert "人员P009" in third
    assert "保留与本地结算单一致的第1条" in difference.action
