"""Upstream's monthly reply (WI3201) checked against what was asked and against itself
(N§35, B§33): a reply for another month or another institution, or whose header totals
disagree with its own rows, is refused with what differs named — never balanced or turned
into differences — and the month keeps a failed run; on SQLite and PostgreSQL, over the
simulator's real HTTP."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from adapter.domain.errors import UpstreamMalformed
from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import monthly_api
from tests.integration.monthly.world import DRUG, Desk, SetClock, at, fee, seed
from tests.integration.services.helpers import INSTITUTION
from upload_queue import UploadQueue

JAN = "2026-01"
CODE = "RECONCILIATION_REPLY_MISMATCH"


def d(day: int, month: int = 1) -> date:
    return date(2026, month, day)


def reply_says(**header: Any) -> list[dict[str, Any]]:
    """January's figures as the simulator has them (its rows are the delivered uploads),
    with the reply's header saying ``header`` instead."""
    return [{"fixmedins_code": INSTITUTION, "month": JAN, "total": "0.00", "fund_pay": "0.00",
             "psn_pay": "0.00", "settlements": [], "reply": header}]  # fmt: skip


@pytest.fixture
def january(services: Services, clock: SetClock, queue: UploadQueue) -> Desk:
    """One January stay (36.50, all the fund's) settled and delivered: upstream's rows
    agree with ours to the fen."""
    desk = Desk(services, clock)
    desk.stay("P001", "V-R1", d(3), d(5), [fee("R1", DRUG, "36.50", d(4))])
    assert queue.worker().drain() > 0
    clock.set(at(d(3, 2), 6))
    return desk


def refused(monthly: MonthlyServices) -> UpstreamMalformed:
    with pytest.raises(UpstreamMalformed) as caught:
        monthly.reconciliation.run(JAN, actor="billing-01")
    error = caught.value
    assert error.code == CODE and "N§35" in error.article
    [run, *_] = monthly.reconciliation.history(JAN)
    assert (run.outcome, run.message) == ("failed", error.message)
    assert monthly.reconciliation.latest(JAN).result is None  # nothing compared, nothing kept
    return error


def test_RECONCILIATION_REPLY_MISMATCH_a_reply_for_another_month_is_refused(
    january: Desk, monthly: MonthlyServices, sim: SimulatorServer
) -> None:
    """Asked for January, upstream answers with December's header over rows that happen to
    agree with January: the month must not balance on another month's figures."""
    seed(sim.url, figures=reply_says(month="2025-12"))
    error = refused(monthly)
    assert "2025-12" in error.message and JAN in error.message and "月份" in error.message


def test_RECONCILIATION_REPLY_MISMATCH_a_reply_for_another_institution_is_refused(
    january: Desk, monthly: MonthlyServices, sim: SimulatorServer
) -> None:
    seed(sim.url, figures=reply_says(fixmedins_code="H11010000999"))
    error = refused(monthly)
    assert "H11010000999" in error.message and INSTITUTION in error.message
    assert "机构" in error.message


def test_a_header_claiming_more_than_its_rows_is_refused_naming_both_sums(
    january: Desk, monthly: MonthlyServices, sim: SimulatorServer
) -> None:
    """Rows: our one settlement, 36.50. Header: two settlements, 73.00 — the agency would
    pay by a total its own list does not support. Refused, naming both, not "0处差异"."""
    seed(sim.url, figures=reply_says(setl_cnt=2, total="73.00", fund_pay="73.00"))
    error = refused(monthly)
    for figure in ("2笔", "73.00", "1笔", "36.50", "总费用", "基金支付"):
        assert figure in error.message, figure
    assert "个人支付" not in error.message  # it agrees: only what differs is named


def test_a_header_agreeing_with_us_over_rows_that_do_not_is_refused(
    services: Services,
    clock: SetClock,
    monthly: MonthlyServices,
    sim: SimulatorServer,
    db: Engine,
    db_url: str,
) -> None:
    """Our settlement never reached upstream (no rows), yet the header claims exactly our
    month: the rows would say "上级系统无此结算" while the totals agree. Refused over REST:
    a problem naming the field that differs; the page's history shows the failed run."""
    desk = Desk(services, clock)
    desk.stay("P001", "V-R2", d(3), d(5), [fee("R2", DRUG, "36.50", d(4))])  # not delivered
    clock.set(at(d(3, 2), 6))
    seed(sim.url, figures=reply_says(setl_cnt=1, total="36.50", fund_pay="36.50"))
    with monthly_api(db, db_url, services) as api:
        reply = api.post(f"/api/v1/reconciliation/{JAN}/run")
        assert reply.status_code == 502, reply.text
        [item] = reply.json()["errors"]
        assert item["code"] == CODE and "36.50" in item["message"] and "0笔" in item["message"]
        [run] = api.get(f"/api/v1/reconciliation/{JAN}/runs").json()
        assert run["outcome"] == "failed" and run["message"] == item["message"]


def test_a_reply_whose_header_agrees_with_its_rows_still_reconciles(
    january: Desk, monthly: MonthlyServices, sim: SimulatorServer
) -> None:
    """The header as upstream would send it, stated explicitly (revoked rows not counted)."""
    seed(sim.url, figures=reply_says(month=JAN, setl_cnt=1, total="36.50", fund_pay="36.50"))
    report = monthly.reconciliation.run(JAN, actor="billing-01")
    assert report.run.outcome == "balanced"
