"""Device fund receipts (B§40): a month with device settlements is overdue for confirmation
after the reminder day (log event, /healthz probe, API); recording receipt queues WI3301,
which reaches the simulator through the real upload queue, once."""

from __future__ import annotations

import logging
import re
from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.errors import DomainError
from adapter.services.container import Services
from adapter.services.context import InstitutionProfile
from adapter.services.monthly import MonthlyServices
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import desk_pages, monthly_api
from tests.integration.monthly.world import ZONE, Desk, SetClock, at
from tests.integration.services.device_world import ARM, ORTHOSIS, WHEELCHAIR
from upload_queue import UploadQueue


def test_an_unconfirmed_month_is_reminded_and_its_confirmation_reaches_upstream_once(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    queue: UploadQueue,
    sim: SimulatorServer,
    db: Engine,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fund = Desk(services, clock).fit(date(2026, 1, 5), ORTHOSIS, "1800.00").breakdown.fund_pay
    assert fund == Decimal("1800.00")
    queue.worker().drain()
    clock.set(at(date(2026, 2, 24)))
    assert monthly.device_funds.remind() == []  # not due before the 25th of the next month
    clock.set(at(date(2026, 2, 25)))
    with caplog.at_level(logging.WARNING, logger="adapter"):
        assert monthly.device_funds.remind() == ["2026-01"]
    [event] = [r for r in caplog.records if getattr(r, "event", "") == "device_funds_unconfirmed"]
    assert event.month == "2026-01"  # type: ignore[attr-defined]
    assert monthly.device_funds.health()["unconfirmed_months"] == ["2026-01"]

    with monthly_api(db, db_url, services, monthly=monthly) as api:
        [listed] = api.get("/api/v1/device-funds", role="device").json()
        assert (listed["status"], listed["overdue"], listed["fund_pay"]) == (
            "unconfirmed",
            True,
            "1800.00",
        )
        body = {"amount": "1800.00", "received_on": "2026-02-24", "note": "工行到账"}
        assert (
            api.post("/api/v1/device-funds/2026-01/confirm", role="billing", json=body).status_code
            == 403
        )
        reply = api.post("/api/v1/device-funds/2026-01/confirm", role="device", json=body)
        assert reply.status_code == 201, reply.text
        receipt = reply.json()
        repeat = api.post("/api/v1/device-funds/2026-01/confirm", role="device", json=body)
        other = api.post(
            "/api/v1/device-funds/2026-01/confirm",
            role="device",
            json={**body, "amount": "1700.00"},
        )
        future = api.post("/api/v1/device-funds/2026-02/confirm", role="device", json=body)
        assert api.get("/api/v1/device-funds", role="it").json()[0]["status"] == "queued"
        assert queue.worker().drain() == 1
        [after] = api.get("/api/v1/device-funds", role="it").json()

    assert repeat.status_code == 201 and repeat.json()["msgid"] == receipt["msgid"]
    assert other.status_code == 409 and other.json()["errors"][0]["article"] == "B§40"
    assert future.status_code == 400 and future.json()["errors"][0]["field"] == "month"
    assert after["status"] == "confirmed" and after["overdue"] is False
    assert after["receipt"]["confirmed_upstream"] is True
    writes = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI3301"}).json()["writes"]
    [write] = writes
    assert write["msgid"] == receipt["msgid"] and write["took_effect"]
    assert write["times_received"] == 1
    assert write["input"]["month"] == "2026-01" and write["input"]["amount"] == "1800.00"
    assert monthly.device_funds.remind() == []
    assert monthly.device_funds.health() == {"ok": True, "unconfirmed_months": []}


def test_only_a_device_institution_confirms_device_funds(
    services: Services, clock: SetClock
) -> None:
    hospital = InstitutionProfile("H11010000001", "示例医院", frozenset({"medical"}), "110100")
    context = services.context
    monthly = MonthlyServices(type(context)(**{**context.__dict__, "institution": hospital}))
    clock.set(at(date(2026, 2, 26)))
    with pytest.raises(DomainError) as refused:
        monthly.device_funds.confirm("2026-01", Decimal("1.00"), actor="x")
    assert refused.value.code == "NOT_DEVICE_INSTITUTION" and refused.value.article == "B§40"
    assert monthly.device_funds.remind() == []


def test_b40_a_month_whose_fittings_the_fund_paid_nothing_awaits_no_funds(
    services: Services, monthly: MonthlyServices, clock: SetClock
) -> None:
    # An item off the notice: the worker pays it all (N§34), the fund owes nothing that month.
    fitted = Desk(services, clock).fit(date(2026, 1, 5), WHEELCHAIR, "900.00")
    assert fitted.breakdown.fund_pay == Decimal("0.00")
    clock.set(at(date(2026, 2, 25)))
    # No funds will arrive, and a receipt of 0.00 cannot be confirmed: no reminder either.
    assert monthly.device_funds.remind() == []
    assert monthly.device_funds.health()["unconfirmed_months"] == []


def test_n37_b40_a_months_funds_due_are_net_of_its_audit_deductions(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    sim: SimulatorServer,
    db: Engine,
    db_url: str,
) -> None:
    """The agency deducts non-compliant device fees before it pays (N§37, B§25, B§36): of
    January's 1800.00 the fund owes 1500.00 once 300.00 is deducted, and that is what the
    counter is told to expect and asked to confirm (B§40); deducted in full, the month awaits
    no funds and is never overdue."""
    desk = Desk(services, clock)
    fund = desk.fit(date(2026, 1, 5), ORTHOSIS, "1800.00").breakdown.fund_pay
    with services.context.uow() as uow:
        [january] = uow.settlements.list_by_month("2026-01")
    fitted_feb = desk.fit(date(2026, 2, 10), ARM, "5000.00")  # within its limit: all the fund's
    assert fitted_feb.breakdown.fund_pay == Decimal("5000.00")
    code = services.context.institution.code

    def deduction(no: str, month: str, setl_id: str, amount: str) -> dict[str, str]:
        return {"deduction_no": no, "fixmedins_code": code, "month": month, "setl_id": setl_id,
                "psn_no": "P011", "item_code": "SH-FZ-0305", "item_name": "腕手矫形器",
                "amount": amount, "reason": "超出配置标准部分不予支付（N§37）"}  # fmt: skip

    httpx.post(f"{sim.url}/_sim/seed", json={"deductions": [
        deduction("KK-D1", "2026-01", january.id, "300.00"),
        deduction("KK-D2", "2026-02", fitted_feb.id, str(fitted_feb.breakdown.fund_pay)),
    ]}).raise_for_status()  # fmt: skip
    clock.set(at(date(2026, 3, 26)))
    monthly.deductions.fetch("2026-01", actor="x")
    monthly.deductions.fetch("2026-02", actor="x")

    months = {m.month: m for m in monthly.device_funds.months()}
    assert (months["2026-01"].fund_pay, months["2026-01"].deducted) == (fund, Decimal("300.00"))
    assert months["2026-01"].due == Decimal("1500.00")
    assert months["2026-02"].due == Decimal("0.00") and not months["2026-02"].awaits_funds
    assert monthly.device_funds.remind() == ["2026-01"]  # February: nothing will arrive
    with monthly_api(db, db_url, services, monthly=monthly) as api:
        listed = {m["month"]: m for m in api.get("/api/v1/device-funds", role="device").json()}
    assert (listed["2026-01"]["deducted"], listed["2026-01"]["due"]) == ("300.00", "1500.00")


def test_b40_the_month_not_yet_over_is_not_due_and_offers_no_confirmation(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    db: Engine,
    db_url: str,
) -> None:
    """A fitting on 10 February: in February the month's funds cannot have arrived (the month
    is cleared after it ends, B§37, and the institution confirms receipt then, B§40). The
    counter sees February as not yet due — 本月未结束，待清算 — not as unconfirmed, and is
    offered no confirmation; on 1 March it is due."""
    Desk(services, clock).fit(date(2026, 2, 10), ORTHOSIS, "1800.00")
    [february] = monthly.device_funds.months()
    assert (february.status, february.overdue, february.due) == ("open", False, Decimal("1800.00"))
    with monthly_api(db, db_url, services, monthly=monthly) as api:
        [listed] = api.get("/api/v1/device-funds", role="device").json()
        refused = api.post(
            "/api/v1/device-funds/2026-02/confirm", role="device", json={"amount": "1800.00"}
        )
    assert (listed["status"], listed["overdue"]) == ("open", False)
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "MONTH_OPEN"

    with desk_pages(db, db_url, services, monthly, role="device") as desk:
        row = _funds_row(desk.get("/web/device").text, "2026-02")
        assert "本月未结束，待清算" in row and "未确认到账" not in row
        page = desk.get("/web/reconciliation", params={"month": "2026-02"}).text
        assert 'data-testid="confirm-funds"' not in page and "本月未结束，待清算" in page
        clock.set(at(date(2026, 3, 1), 9))
        row = _funds_row(desk.get("/web/device").text, "2026-02")
        assert "未确认到账" in row and "本月未结束" not in row
        page = desk.get("/web/reconciliation", params={"month": "2026-02"}).text
        assert 'data-testid="confirm-funds"' in page
    assert monthly.device_funds.months()[0].status == "unconfirmed"


def _funds_row(page: str, month: str) -> str:
    found = re.search(rf'<tr data-month="{month}">(.*?)</tr>', page, re.S)
    assert found, page
    return found[1]


def test_b40_a_month_confirmed_early_in_the_morning_is_refused_again_naming_that_local_day(
    services: Services, monthly: MonthlyServices, clock: SetClock
) -> None:
    """Confirmed at 07:30 on 26 February (Beijing; 23:30 on the 25th in UTC), the month
    confirmed again with another amount is refused naming the day the clerk confirmed it, as
    the reconciliation page shows it — not the UTC date the time is stored with."""
    Desk(services, clock).fit(date(2026, 1, 5), ORTHOSIS, "1800.00")
    clock.set(at(date(2026, 2, 26), 7, 30))
    receipt = monthly.device_funds.confirm("2026-01", Decimal("1800.00"), actor="器具-01")
    assert receipt.recorded_at.astimezone(ZONE).date() == date(2026, 2, 26)
    clock.set(at(date(2026, 2, 26), 9))
    with pytest.raises(DomainError) as refused:
        monthly.device_funds.confirm("2026-01", Decimal("1700.00"), actor="器具-01")
    assert refused.value.code == "DEVICE_FUNDS_ALREADY_CONFIRMED"
    assert "2026-01的月度结算资金已于2026-02-26确认到账（1800.00元）" in refused.value.message
