"""Reconciliation end to end (N§35, B§33): real stays settled through the services, uploads
delivered (or not) through the real queue to the simulator, upstream differences seeded,
and the month reconciled over REST — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.commands import Admit, Diagnosis
from adapter.domain.devices import DeviceItem
from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import UpstreamUnavailable
from adapter.domain.settlement import Settlement
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.services.monthly import MonthlyServices
from adapter.services.settlement import SettleRequest
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import desk_pages, monthly_api
from tests.integration.monthly.world import (
    BED,
    DRUG,
    ZONE,
    Desk,
    SetClock,
    at,
    fee,
    seed,
    upstream_settlement,
)
from tests.integration.services.helpers import INSTITUTION, card
from tests.integration.services.support import jobs
from upload_queue import UploadQueue

# Upstream goes down here: each refused read waits out the client's short budget.
pytestmark = pytest.mark.upstream_outage

D = Decimal
JAN = "2026-01"


def d(day: int, month: int = 1, year: int = 2026) -> date:
    return date(year, month, day)


def test_a_month_reconciles_to_exactly_the_expected_differences(
    services: Services,
    clock: SetClock,
    queue: UploadQueue,
    sim: SimulatorServer,
    db: Engine,
    db_url: str,
) -> None:
    desk = Desk(services, clock)
    dec = d(15, 12, 2025)
    # December: discharged 2025-12-20, belongs to December only.
    desk.stay("P001", "V-G", dec, d(20, 12, 2025), [fee("G1", DRUG, "36.50", dec)])
    # Cross-year stay: admitted 2025-12-28, discharged 2026-01-05 → one bill, in January.
    a = desk.stay(
        "P001",
        "V-A",
        d(28, 12, 2025),
        d(5),
        [
            fee("A1", DRUG, "36.50", d(29, 12, 2025)),
            fee("A2", BED, "180.00", d(2), quantity="3"),  # 150.00 fund, 30.00 over standard
        ],
    )
    # Settled, revoked and settled again: only the second counts, on both sides.
    b = desk.stay("P002", "V-B", d(3), d(6), [fee("B1", DRUG, "73.00", d(4), quantity="2")])
    desk.revoke(b, d(6))
    b2 = desk.settle(b.encounter.id, d(6))
    c = desk.stay("P007", "V-C", d(4), d(7), [fee("C1", DRUG, "18.25", d(5))])
    assert queue.worker().drain() > 0  # everything so far reaches upstream
    # From here on nothing is delivered:
    desk.revoke(c, d(8))  # revoked here; the WI2305 stays in the queue
    dd = desk.stay("P001", "V-D", d(6), d(8), [fee("D1", DRUG, "54.75", d(7), quantity="3")])
    e = desk.stay("P002", "V-E", d(7), d(9), [fee("E1", DRUG, "18.25", d(8))])
    # (not P007: its stay C, revoked, is still open — one open stay per worker, B§28)
    # (admitted once D is discharged: one stay of a worker at a time, N§33, N§38)
    f = desk.stay("P001", "V-F", d(9), d(10), [fee("F1", DRUG, "36.50", d(9), quantity="2")])
    seed(
        sim.url,
        figures=[
            {
                "fixmedins_code": INSTITUTION,
                "month": JAN,
                "total": "0.00",
                "fund_pay": "0.00",
                "psn_pay": "0.00",
                "settlements": [
                    upstream_settlement(dd.id, d(8), "54.70", "54.70"),  # 5 fen short
                    upstream_settlement("SX-UPSTREAM-ONLY", d(15), "99.00", "99.00"),
                    upstream_settlement(f.id, d(10), "36.50", "36.50", psn_no="P001", revoked=True),
                ],
            }
        ],
    )
    clock.set(at(d(3, 2), 6))
    with monthly_api(db, db_url, services) as api:
        assert api.get(f"/api/v1/reconciliation/{JAN}").status_code == 404  # not yet run
        reply = api.post(f"/api/v1/reconciliation/{JAN}/run")
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert api.get(f"/api/v1/reconciliation/{JAN}", role="it").json() == body
        assert api.post(f"/api/v1/reconciliation/{JAN}/run", role="admission").status_code == 403

    expected = sorted(
        [
            (d(7), c.id, "revoked_here_only"),
            (d(8), dd.id, "amount_differs"),
            (d(9), e.id, "missing_upstream"),
            (d(10), f.id, "revoked_upstream_only"),
            (d(15), "SX-UPSTREAM-ONLY", "missing_here"),
        ]
    )
    got = [
        (date.fromisoformat(x["settles_on"]), x["setl_id"], x["kind"]) for x in body["differences"]
    ]
    assert got == expected
    by_kind = {x["kind"]: x for x in body["differences"]}
    amount = by_kind["amount_differs"]
    assert (amount["local"]["total"], amount["upstream"]["total"], amount["delta"]["total"]) == (
        "54.75",
        "54.70",
        "-0.05",
    )
    assert "上传队列" in by_kind["missing_upstream"]["action"]
    assert by_kind["revoked_here_only"]["kind_label"] == "仅本地已撤销"

    # Totals first, net of revocations: A + B2 + D + E + F here; A + B2 + C + D' + SX upstream.
    a_total = a.breakdown.total
    assert a_total == D("216.50") and a.bill.crosses_year
    local_total = a_total + D("73.00") + D("54.75") + D("18.25") + D("36.50")
    assert body["local"] == {
        "count": 5,
        "total": str(local_total),
        "fund_pay": str(a.breakdown.fund_pay + D("73.00") + D("54.75") + D("18.25") + D("36.50")),
        "personal_pay": str(a.breakdown.personal_pay),
    }
    upstream_total = a_total + D("73.00") + D("18.25") + D("54.70") + D("99.00")
    assert body["upstream"]["count"] == 5 and body["upstream"]["total"] == str(upstream_total)
    assert not body["totals_match"] and not body["balanced"]
    assert body["run"]["outcome"] == "differences" and body["run"]["actor"] == "billing-01"

    listed = {s["setl_id"]: s for s in body["settlements"]}
    assert set(listed) == {a.id, b.id, b2.id, c.id, dd.id, e.id, f.id}  # not December's g
    assert listed[a.id]["crosses_year"] is True and listed[b.id]["status"] == "revoked"
    assert listed[e.id]["upload_delivered"] is False and listed[a.id]["upload_delivered"] is True


def test_december_holds_only_what_was_settled_in_december(
    services: Services, monthly: MonthlyServices, clock: SetClock, queue: UploadQueue
) -> None:
    desk = Desk(services, clock)
    g = desk.stay(
        "P001", "V-G", d(15, 12, 2025), d(20, 12, 2025), [fee("G1", DRUG, "36.50", d(15, 12, 2025))]
    )
    desk.stay("P001", "V-A", d(28, 12, 2025), d(5), [fee("A1", DRUG, "36.50", d(29, 12, 2025))])
    queue.worker().drain()
    clock.set(at(d(3, 2), 6))
    report = monthly.reconciliation.run("2025-12", actor="system")
    assert [line["setl_id"] for line in report.lines] == [g.id]
    assert report.result is not None
    # the simulator's demo figures for December are three settlements made elsewhere
    assert {x.kind.value for x in report.result.differences} == {"missing_here"}
    assert g.id not in {x.setl_id for x in report.result.differences}


def test_a_balanced_month_and_an_unreachable_upstream_are_both_kept(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    queue: UploadQueue,
    sim: SimulatorServer,
) -> None:
    desk = Desk(services, clock)
    desk.stay("P001", "V-1", d(3), d(5), [fee("L1", DRUG, "36.50", d(4))])
    queue.worker().drain()
    clock.set(at(d(3, 2), 6))
    report = monthly.reconciliation.run(JAN, actor="system")
    assert report.run.outcome == "balanced" and report.result and report.result.balanced
    assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": True}).status_code == 200
    try:
        try:
            monthly.reconciliation.run(JAN, actor="system")
        except UpstreamUnavailable:
            pass
        else:
            raise AssertionError("an unreachable upstream must fail the run")
    finally:
        httpx.post(f"{sim.url}/_sim/faults", json={})
    [failed, balanced] = monthly.reconciliation.history(JAN)
    assert failed.outcome == "failed" and balanced.outcome == "balanced"
    assert monthly.reconciliation.latest(JAN).result is None


def settle_across_midnight(services: Services, clock: SetClock, visit_id: str) -> Settlement:
    """A stay discharged at 23:00 on 31 January and settled 20 minutes past midnight on
    1 February (Beijing time; still 31 January in UTC): the settlement time decides the month."""
    clock.set(at(d(28), 8))
    admitted = services.admissions.admit(
        Admit(
            card=card("P001"),
            his_visit_id=visit_id,
            kind=EncounterKind.MEDICAL,
            admitted_at=at(d(28), 8),
            diagnoses=(Diagnosis("S62.301", "左手第三掌骨骨折"),),
            injury_parts=("左手",),
            department="骨科",
        ),
        actor="住院处-01",
    ).encounter
    clock.set(at(d(29), 12))  # fees are sent as the days pass
    services.fees.record(admitted.id, [fee("M1", DRUG, "36.50", d(29))], actor="his")
    clock.set(at(d(1, 2), 0, 20))
    return services.settlements.settle(
        SettleRequest(admitted.id, at(d(31), 23)), actor="结算处-01"
    ).settlement


def test_a_stay_discharged_on_the_31st_and_settled_on_the_1st_is_the_next_months(
    services: Services, monthly: MonthlyServices, clock: SetClock, queue: UploadQueue
) -> None:
    settled = settle_across_midnight(services, clock, "V-EDGE")
    assert settled.bill.discharged_on == d(31)
    assert queue.worker().drain() > 0
    clock.set(at(d(3, 3), 6))

    february = monthly.reconciliation.run("2026-02", actor="system")
    assert [line["setl_id"] for line in february.lines] == [settled.id]
    assert february.lines[0]["settles_on"] == "2026-02-01"
    assert february.result is not None and february.result.balanced
    assert (
        february.result.local.amounts.total == D("36.50") == february.result.upstream.amounts.total
    )

    january = monthly.reconciliation.run(JAN, actor="system")
    assert settled.id not in [line["setl_id"] for line in january.lines]
    assert january.result is not None
    assert settled.id not in {x.setl_id for x in january.result.differences}
    assert january.result.balanced and january.result.local.count == 0


def test_the_settlement_time_dates_a_settlement_the_same_everywhere(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    queue: UploadQueue,
    db: Engine,
) -> None:
    """One rule (N§35): discharged or fitted at 23:00 on 31 January, settled after midnight
    on 1 February (Beijing; still January in UTC). The upload's setl_date, the stored month,
    the monthly list, the device-fund month and reconciliation all say February."""
    stay = settle_across_midnight(services, clock, "V-ONE-RULE")
    clock.set(at(d(1, 2), 0, 25))
    device = services.devices.fit(
        FitDevices(
            card("P011"),
            "沪工伤辅核〔2026〕第0421号",
            (DeviceItem("SH-FZ-0305", "腕手矫形器", D("1800.00")),),
            at(d(31), 23),
        ),
        actor="器具-01",
    ).settlement
    assert stay.bill.discharged_on == device.bill.discharged_on == d(31)  # the stay's date

    # The uploads: setl_date is the day of setl_time.
    for infno, settlement in (("WI2301", stay), ("WI2701", device)):
        [job] = jobs(db, kind=infno)
        body = job["payload"]["input"]
        assert body["setl_id"] == settlement.id
        assert body["setl_date"] == "2026-02-01" == body["setl_time"][:10]
        assert settlement.settled_on(ZONE) == d(1, 2) and settlement.month_in(ZONE) == "2026-02"
        assert settlement.slip_no[len(INSTITUTION) :].startswith("20260201")
    assert queue.worker().drain() > 0
    clock.set(at(d(3, 3), 6))

    # The stored month and the monthly lists.
    with services.context.uow() as uow:
        assert {s.id for s in uow.settlements.list_by_month("2026-02")} == {stay.id, device.id}
        assert uow.settlements.list_by_month(JAN) == []
        summaries = uow.settlements.summaries_by_month("2026-02")
    assert {s.month for s in summaries} == {"2026-02"}

    # Device funds: February's.
    months = {m.month: m for m in monthly.device_funds.months()}
    assert JAN not in months
    assert (months["2026-02"].settlements, months["2026-02"].fund_pay) == (
        1,
        device.breakdown.fund_pay,
    )

    # Reconciliation: February's, balanced against upstream's WI3201; January has neither.
    february = monthly.reconciliation.run("2026-02", actor="system")
    assert {line["setl_id"]: line["settles_on"] for line in february.lines} == {
        stay.id: "2026-02-01",
        device.id: "2026-02-01",
    }
    assert february.result is not None and february.result.balanced
    january = monthly.reconciliation.run(JAN, actor="system")
    assert january.result is not None and january.result.local.count == 0


def test_a_settlement_the_fund_pays_more_of_upstream_at_the_same_total_is_shown_by_how_much(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    sim: SimulatorServer,
    db: Engine,
    db_url: str,
) -> None:
    """Three bed days at 60.00 (standard 50.00): the fund pays 150.00, the worker 30.00 over
    the standard. Upstream lists the same 180.00 all paid by the fund. The billing clerk's page
    names the settlement and its slip, and that the fund would pay 30.00 more — not a
    difference of 0.00 (N§35, B§33)."""
    stay = Desk(services, clock).stay(
        "P001", "V-FUND-DIFF", d(3), d(5), [fee("B1", BED, "180.00", d(4), quantity="3")]
    )
    assert (stay.breakdown.fund_pay, stay.breakdown.personal_pay) == (D("150.00"), D("30.00"))
    seed(
        sim.url,
        figures=[
            {
                "fixmedins_code": INSTITUTION,
                "month": JAN,
                "total": "0.00",
                "fund_pay": "0.00",
                "psn_pay": "0.00",
                "settlements": [upstream_settlement(stay.id, d(5), "180.00", "180.00")],
            }
        ],
    )
    clock.set(at(d(3, 2), 6))
    report = monthly.reconciliation.run(JAN, actor="结算处-01")
    assert report.result is not None
    [difference] = report.result.differences
    assert difference.kind.value == "amount_differs" and difference.setl_id == stay.id

    with desk_pages(db, db_url, services, monthly, role="billing") as desk:
        page = desk.get("/web/reconciliation", params={"month": JAN}).text
    row = re.search(rf'<tr class="differs" data-setl="{stay.id}"[^>]*>(.*?)</tr>', page, re.S)
    assert row, page
    cells = row[1]
    assert f"结算单 {stay.slip_no}" in cells
    assert re.search(r'data-testid="delta-fund">基金 30\.00<', cells), cells
    assert "基金支付差额30.00元" in cells and "个人支付差额-30.00元" in cells
    assert "差额0.00元" not in cells


@pytest.mark.parametrize(
    ("settled_at", "month", "other"),
    [
        (datetime(2026, 1, 31, 23, 59, 59, tzinfo=ZONE), JAN, "2026-02"),
        (datetime(2026, 2, 1, 0, 0, 0, tzinfo=ZONE), "2026-02", JAN),
    ],
)
def test_n35_a_settlement_at_the_last_second_of_a_month_or_at_midnight_is_in_its_local_month(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    queue: UploadQueue,
    settled_at: datetime,
    month: str,
    other: str,
) -> None:
    """Settled at 23:59:59 on 31 January Beijing time (15:59:59 UTC) it is January's; at
    00:00:00 on 1 February (16:00 on 31 January UTC) February's: its slip number's date,
    its upload's setl_date, the month's list and reconciliation all say so (N§35)."""
    clock.set(at(d(28), 8))
    admitted = services.admissions.admit(
        Admit(
            card=card("P001"),
            his_visit_id="V-LAST-SECOND",
            kind=EncounterKind.MEDICAL,
            admitted_at=at(d(28), 8),
            diagnoses=(Diagnosis("S62.301", "左手第三掌骨骨折"),),
            injury_parts=("左手",),
            department="骨科",
        ),
        actor="住院处-01",
    ).encounter
    clock.set(at(d(29), 12))
    services.fees.record(admitted.id, [fee("M1", DRUG, "36.50", d(29))], actor="his")
    clock.set(settled_at)
    settled = services.settlements.settle(
        SettleRequest(admitted.id, at(d(31), 23)), actor="结算处-01"
    ).settlement
    day = settled_at.date()
    assert settled.month_in(ZONE) == month
    assert settled.slip_no[len(INSTITUTION) :].startswith(f"{day:%Y%m%d}")
    assert queue.worker().drain() > 0
    clock.set(at(d(3, 3), 6))
    reconciled = monthly.reconciliation.run(month, actor="system")
    assert [(x["setl_id"], x["settles_on"]) for x in reconciled.lines] == [
        (settled.id, day.isoformat())
    ]
    assert reconciled.result is not None and reconciled.result.balanced
    assert reconciled.result.local.amounts.total == D("36.50")
    beside = monthly.reconciliation.run(other, actor="system")
    assert beside.result is not None and beside.result.local.count == 0
