"""Device fund receipts (B§40): a month with device settlements is overdue for confirmation
after the reminder day (log event, /healthz probe, API); recording receipt queues WI3301,
which reaches the simulator through the real upload queue, once."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.devices import DeviceItem
from adapter.domain.errors import DomainError
from adapter.services.container import Services
from adapter.services.context import InstitutionProfile
from adapter.services.devices import FitDevices
from adapter.services.monthly import MonthlyServices
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import monthly_api
from tests.integration.monthly.world import SetClock, at
from tests.integration.services.helpers import card
from upload_queue import UploadQueue

NOTICE = "沪工伤辅核〔2026〕第0421号"


def _fit(services: Services, clock: SetClock, day: date) -> Decimal:
    clock.set(at(day, 10))
    request = FitDevices(
        card("P011"),
        NOTICE,
        (DeviceItem("SH-FZ-0305", "腕手矫形器", Decimal("1800.00")),),
        at(day, 9),
    )
    return services.devices.fit(request, actor="器具-01").settlement.breakdown.fund_pay


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
    fund = _fit(services, clock, date(2026, 1, 5))
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
    clock.set(at(date(2026, 1, 5), 10))
    request = FitDevices(
        card("P011"),
        NOTICE,
        (DeviceItem("SH-FZ-0501", "普通轮椅", Decimal("900.00")),),
        at(date(2026, 1, 5), 9),
    )
    fitted = services.devices.fit(request, actor="器具-01").settlement
    assert fitted.breakdown.fund_pay == Decimal("0.00")
    clock.set(at(date(2026, 2, 25)))
    # No funds will arrive, and a receipt of 0.00 cannot be confirmed: no reminder either.
    assert monthly.device_funds.remind() == []
    assert monthly.device_funds.health()["unconfirmed_months"] == []
