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
