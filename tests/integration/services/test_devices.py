"""Device fitting (N§34, B§34, B§35): the notice, the insured place's limits, WI2701."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.devices import DeviceItem
from adapter.domain.errors import EligibilityRefused
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import card, local
from tests.integration.services.support import jobs
from upload_queue import UploadQueue

D = Decimal
NOTICE = "沪工伤辅核〔2026〕第0421号"
ARM, ORTHOSIS = "SH-FZ-0101", "SH-FZ-0305"


def _fit(notice: str = NOTICE, **costs: str) -> FitDevices:
    names = {ARM: "前臂假肢（肌电控制）", ORTHOSIS: "腕手矫形器", "SH-FZ-0501": "普通轮椅"}
    items = tuple(DeviceItem(code, names[code], D(cost)) for code, cost in costs.items())
    return FitDevices(card("P011"), notice, items, local(0, 9))


def test_over_the_limit_the_fund_pays_the_limit_and_the_upload_is_due_in_30_minutes(
    services: Services, db: Engine, queue: UploadQueue, sim: SimulatorServer
) -> None:
    fitted = services.devices.fit(_fit(**{ARM: "30000.00", ORTHOSIS: "1800.00"}), actor="dev01")
    settlement = fitted.settlement
    lines = {p.line.item_code: (p.fund_pay, p.personal_pay) for p in settlement.bill.lines}
    assert lines[ARM] == (D("28000.00"), D("2000.00"))  # above the 28,000 limit
    assert lines[ORTHOSIS] == (D("1800.00"), D("0.00"))  # exactly at the limit
    b = settlement.breakdown
    assert (b.total, b.fund_pay, b.personal_pay, b.over_limit) == (
        D("31800.00"),
        D("29800.00"),
        D("2000.00"),
        D("2000.00"),
    )
    [job] = jobs(db)
    assert job["kind"] == "WI2701"
    assert job["deadline"] == settlement.settled_at + timedelta(minutes=30)
    assert job["payload"]["input"]["approval_notice_no"] == NOTICE
    assert queue.worker().drain() == 1
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2701"}).json()["writes"]
    assert write["reply"]["infcode"] == 0 and write["input"]["psn_pay"] == "2000.00"


def test_a_fen_over_the_limit_is_the_workers(services: Services) -> None:
    fitted = services.devices.fit(_fit(**{ORTHOSIS: "1800.01"}), actor="dev01")
    assert fitted.settlement.breakdown.fund_pay == D("1800.00")
    assert fitted.settlement.breakdown.personal_pay == D("0.01")


def test_the_same_fitting_twice_is_settled_once(services: Services, db: Engine) -> None:
    first = services.devices.fit(_fit(**{ORTHOSIS: "1500.00"}), actor="dev01")
    again = services.devices.fit(_fit(**{ORTHOSIS: "1500.00"}), actor="dev01")
    assert again.replayed and again.settlement.id == first.settlement.id
    assert len(jobs(db)) == 1


def test_a_wrong_notice_or_an_item_not_on_it_is_refused(services: Services, db: Engine) -> None:
    with pytest.raises(EligibilityRefused) as wrong:
        services.devices.fit(_fit("沪工伤辅核〔2026〕第9999号", **{ARM: "100.00"}), actor="d")
    assert [r.code for r in wrong.value.reasons] == ["EL_APPROVAL_NOTICE"]
    with pytest.raises(EligibilityRefused) as unfiled:
        services.devices.fit(_fit(**{"SH-FZ-0501": "900.00"}), actor="d")
    assert [(r.code, r.field) for r in unfiled.value.reasons] == [("EL_DEVICES_ON_NOTICE", "items")]
    assert jobs(db) == []


def test_a_medical_filing_is_no_device_filing(services: Services) -> None:
    request = _fit(**{ARM: "100.00"})
    with pytest.raises(EligibilityRefused) as refused:
        services.devices.fit(replace(request, card=card("P001")), actor="d")
    assert "EL_FILING_CATEGORY" in {r.code for r in refused.value.reasons}


def test_a_device_replaced_before_its_minimum_years_is_the_workers(services: Services) -> None:
    first = services.devices.fit(_fit(**{ORTHOSIS: "1500.00"}), actor="dev01")
    assert first.settlement.breakdown.fund_pay == D("1500.00")
    again = replace(_fit(**{ORTHOSIS: "1600.00"}), fitted_at=local(0, 15))
    second = services.devices.fit(again, actor="dev01")
    [line] = second.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("0.00"), D("1600.00"))
    assert line.rule.code == "PR_DEVICE_MIN_YEARS" and "2年" in line.message
