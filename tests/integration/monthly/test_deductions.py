"""Audit deductions (N§37, B§25): fetched from upstream (WI3202), kept, shown against the
settlements they deduct from with upstream's reasons, totalled per month."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from adapter.services.container import Services
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import monthly_api
from tests.integration.monthly.world import DRUG, Desk, SetClock, at, fee, seed
from tests.integration.services.helpers import INSTITUTION

JAN = "2026-01"


def _deduction(no: str, setl_id: str, amount: str, reason: str) -> dict[str, str]:
    return {
        "deduction_no": no,
        "fixmedins_code": INSTITUTION,
        "month": JAN,
        "setl_id": setl_id,
        "psn_no": "P001",
        "item_code": DRUG,
        "item_name": "布洛芬缓释胶囊",
        "amount": amount,
        "reason": reason,
    }


def test_deductions_appear_against_their_settlements_with_reasons_and_totals(
    services: Services, clock: SetClock, sim: SimulatorServer, db: Engine, db_url: str
) -> None:
    desk = Desk(services, clock)
    day = date(2026, 1, 3)
    first = desk.stay(
        "P001", "V-1", day, date(2026, 1, 5), [fee("L1", DRUG, "73.00", day, quantity="2")]
    )
    second = desk.stay(
        "P001",
        "V-2",
        date(2026, 1, 6),
        date(2026, 1, 8),
        [fee("L1", DRUG, "36.50", date(2026, 1, 7))],
    )
    seed(
        sim.url,
        deductions=[
            _deduction("KK-1", first.id, "36.50", "超药品说明书适应症用药，不予支付（N§37）"),
            _deduction("KK-2", first.id, "0.01", "计价差错"),
            _deduction("KK-3", second.id, "18.25", "与诊断不符"),
            _deduction("KK-4", "S-NOT-OURS", "9.99", "其他机构"),
        ],
    )
    clock.set(at(date(2026, 2, 10)))
    with monthly_api(db, db_url, services) as api:
        assert api.get(f"/api/v1/deductions/{JAN}").json()["count"] == 0  # nothing fetched yet
        reply = api.post(f"/api/v1/deductions/{JAN}/fetch", role="it")
        assert reply.status_code == 200, reply.text
        body = api.get(f"/api/v1/deductions/{JAN}").json()
        assert body == reply.json()
        only = api.get(f"/api/v1/deductions/{JAN}", params={"settlement": second.id}).json()
        assert api.get(f"/api/v1/deductions/{JAN}", role="device").status_code == 403
        seed(sim.url, deductions=[_deduction("KK-2", first.id, "0.02", "计价差错（更正）")])
        again = api.post(f"/api/v1/deductions/{JAN}/fetch").json()

    assert body["count"] == 4 and body["total"] == "64.75"
    by_id = {s["setl_id"]: s for s in body["settlements"]}
    mine = by_id[first.id]
    assert mine["slip_no"] == first.slip_no and mine["known_here"] is True
    assert mine["settles_on"] == "2026-01-05" and mine["total"] == "36.51"
    assert [(d["deduction_no"], d["amount"], d["reason"]) for d in mine["deductions"]] == [
        ("KK-1", "36.50", "超药品说明书适应症用药，不予支付（N§37）"),
        ("KK-2", "0.01", "计价差错"),
    ]
    assert by_id["S-NOT-OURS"]["known_here"] is False and by_id["S-NOT-OURS"]["slip_no"] == ""
    assert [s["setl_id"] for s in only["settlements"]] == [second.id] and only["total"] == "18.25"
    # a later fetch takes upstream's corrected words and amount
    corrected = {d["deduction_no"]: d for s in again["settlements"] for d in s["deductions"]}
    assert corrected["KK-2"]["amount"] == "0.02" and again["total"] == "64.76"


def test_n37_deductions_beyond_what_the_fund_paid_or_on_a_revoked_settlement_are_flagged(
    services: Services, clock: SetClock, sim: SimulatorServer, db: Engine, db_url: str
) -> None:
    """The agency deducts from what the fund pays (N§37, B§25): the same 36.50 deducted from
    a settlement the fund paid 36.50 for, in January and again in February, is 73.00 — more
    than the fund paid — and a deduction from a revoked settlement deducts from nothing. Both
    months say so against the settlement; a deduction within the fund's part says nothing."""
    desk = Desk(services, clock)
    day = date(2026, 1, 3)
    twice = desk.stay("P001", "V-1", day, date(2026, 1, 5), [fee("L1", DRUG, "36.50", day)])
    revoked = desk.stay(
        "P002", "V-2", day, date(2026, 1, 6), [fee("L1", DRUG, "73.00", day, quantity="2")]
    )
    desk.revoke(revoked, date(2026, 1, 7))
    fine = desk.stay(
        "P007", "V-3", day, date(2026, 1, 8), [fee("L1", DRUG, "73.00", day, quantity="2")]
    )
    reason = "超药品说明书适应症用药，不予支付（N§37）"
    seed(
        sim.url,
        deductions=[
            _deduction("KK-1", twice.id, "36.50", reason),
            dict(_deduction("KK-9", twice.id, "36.50", reason), month="2026-02"),
            _deduction("KK-2", revoked.id, "36.50", reason),
            _deduction("KK-3", fine.id, "36.50", reason),
        ],
    )
    clock.set(at(date(2026, 3, 10)))
    with monthly_api(db, db_url, services) as api:
        assert api.post(f"/api/v1/deductions/{JAN}/fetch").status_code == 200
        february = api.post("/api/v1/deductions/2026-02/fetch").json()
        january = api.get(f"/api/v1/deductions/{JAN}").json()

    by_id = {s["setl_id"]: s for s in january["settlements"]}
    assert by_id[fine.id]["warning"] == ""
    for flagged in (by_id[twice.id], february["settlements"][0]):
        assert flagged["setl_id"] == twice.id
        assert "73.00" in flagged["warning"] and "36.50" in flagged["warning"]
        assert "N§37" in flagged["warning"]
    assert "已撤销" in by_id[revoked.id]["warning"]
    assert january["total"] == "109.50" and february["total"] == "36.50"  # upstream's, as listed
