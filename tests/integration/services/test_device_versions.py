"""Which filing, which limit and which earlier fitting a device fitting is priced against
(N§13, N§15, N§34, B§34, B§35, 附表2), over the simulator on real HTTP: a filing changed
between two fittings, two device filings side by side, a fitting revoked and fitted anew."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from adapter.domain.devices import DeviceItem
from adapter.domain.errors import ConfirmationRequired
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from connectors.upstream.simulator import SimulatorServer
from connectors.upstream.simulator.demo_seed import demo_seed
from tests.integration.services.device_world import (
    ARM,
    NAMES,
    NOTICE,
    ORTHOSIS,
    WHEELCHAIR,
    device_worker,
    filed_item,
    seed,
)
from tests.integration.services.helpers import TODAY, card, local
from tests.integration.services.support import jobs

D = Decimal
OTHER_NOTICE = "沪工伤辅核〔2026〕第0555号"


def _day(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def _template() -> dict[str, object]:
    return dict(next(f for f in demo_seed(TODAY)["filings"] if f["psn_no"] == "P011"))


def _arm(day: int, cost: str, psn_no: str, notice: str = NOTICE) -> FitDevices:
    return FitDevices(card(psn_no), notice, (DeviceItem(ARM, NAMES[ARM], D(cost)),), local(day, 9))


def test_n15_n13_b35_the_limit_is_the_filing_in_force_on_the_fitting_day(
    services: Services, sim: SimulatorServer
) -> None:
    """The insured place changes the filing yesterday (N§15), lowering the arm's limit from
    28,000 to 25,000 under the same notice: a fitting today is priced on the successor, one
    three days ago — entered today — on the filing in force that day."""
    device_worker(sim.url, "P081", filing_no="F081A")
    old = dict(_template(), filing_no="F081A", psn_no="P081", status="changed",
               successor_no="F081B", terminated_on=_day(-1))  # fmt: skip
    lowered = [filed_item(ARM, "25000.00", 4), filed_item(ORTHOSIS, "1800.00")]
    new = dict(_template(), filing_no="F081B", psn_no="P081", filing_type="change",
               filed_on=_day(-1), begndate=_day(-1), devices=lowered)  # fmt: skip
    seed(sim.url, filings=[old, new])
    today = services.devices.presettle(_arm(0, "30000.00", "P081"), actor="d")
    assert today.filing.filing_no == "F081B"
    [line] = today.bill.lines
    assert (line.fund_pay, line.personal_pay, line.limit) == (
        D("25000.00"),
        D("5000.00"),
        D("25000.00"),
    )
    before = services.devices.fit(_arm(-3, "30000.00", "P081"), actor="d")
    assert before.filing is not None and before.filing.filing_no == "F081A"
    [line] = before.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("28000.00"), D("2000.00"))


def test_n34_b34_two_device_filings_each_notice_prices_its_own_items(
    services: Services, sim: SimulatorServer
) -> None:
    """A worker with two device filings in force, each with its own notice: each fitting is
    checked and priced on the filing carrying the notice shown, and neither is the other's
    replacement."""
    device_worker(sim.url, "P082", filing_no="F082A")
    second = dict(_template(), filing_no="F082B", psn_no="P082", approval_notice_no=OTHER_NOTICE,
                  devices=[filed_item(WHEELCHAIR, "1200.00", 5)], filed_on=_day(-5),
                  begndate=_day(-5))  # fmt: skip
    seed(sim.url, filings=[second])
    arm = services.devices.fit(_arm(0, "1000.00", "P082"), actor="d")
    chair = FitDevices(
        card("P082"),
        OTHER_NOTICE,
        (DeviceItem(WHEELCHAIR, NAMES[WHEELCHAIR], D("1500.00")),),
        local(0, 10),
    )
    wheelchair = services.devices.fit(chair, actor="d")
    assert arm.filing is not None and arm.filing.filing_no == "F082A"
    assert wheelchair.filing is not None and wheelchair.filing.filing_no == "F082B"
    assert arm.settlement.breakdown.fund_pay == D("1000.00")
    [line] = wheelchair.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("1200.00"), D("300.00"))
    assert (arm.warnings, wheelchair.warnings) == ((), ())


def test_n34_fujian2_a_revoked_fitting_starts_no_minimum_years_clock(
    services: Services, sim: SimulatorServer
) -> None:
    """A fitting settled and revoked (撤销结算) was not paid by the fund: a new fitting of the
    item under the same notice is priced, neither 最低使用年限内更换 nor 同一核付通知单再次配置."""
    no_years = [{"device_code": WHEELCHAIR, "device_name": NAMES[WHEELCHAIR], "limit": "2500.00"}]
    device_worker(sim.url, "P083", devices=no_years)
    for psn_no, code, cost in (("P011", ORTHOSIS, "1500.00"), ("P083", WHEELCHAIR, "1000.00")):
        first = FitDevices(card(psn_no), NOTICE, (DeviceItem(code, NAMES[code], D(cost)),),
                           local(-2, 9))  # fmt: skip
        settled = services.devices.fit(first, actor="d").settlement
        services.revocations.revoke(settled.id, reason="录入有误，撤销结算", actor="d")
        anew = replace(first, items=(DeviceItem(code, NAMES[code], D("1100.00")),),
                       fitted_at=local(0, 9))  # fmt: skip
        preview = services.devices.presettle(anew, actor="d")
        assert (preview.warnings, preview.needs_confirmation) == ((), ())
        fitted = services.devices.fit(anew, actor="d")
        [line] = fitted.settlement.bill.lines
        assert (line.fund_pay, line.personal_pay) == (D("1100.00"), D("0.00"))


def test_n34_n38_fujian2_a_notice_that_paid_the_arm_pays_it_once_after_another_notice_did(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """Two device filings in force both list the arm. Notice A pays it; notice B, a new
    approval, pays a replacement; notice A shown again approves nothing new. Before, only the
    latest fitting (B's) was compared with the notice shown: A read as a new approval and the
    fund paid the arm a second time on notice A (N§34 核对核付通知单, N§38 杜绝重复报销)."""
    device_worker(sim.url, "P084", filing_no="F084A")
    second = dict(_template(), filing_no="F084B", psn_no="P084", approval_notice_no=OTHER_NOTICE,
                  filed_on=_day(-5), begndate=_day(-5))  # fmt: skip
    seed(sim.url, filings=[second])
    first = services.devices.fit(_arm(-2, "20000.00", "P084"), actor="d")
    assert first.settlement.breakdown.fund_pay == D("20000.00")
    approved = services.devices.fit(_arm(-1, "21000.00", "P084", OTHER_NOTICE), actor="d")
    assert approved.settlement.breakdown.fund_pay == D("21000.00")
    assert [w.code for w in approved.warnings] == ["PR_DEVICE_REPLACEMENT_APPROVED"]

    again = _arm(0, "22000.00", "P084")
    with pytest.raises(ConfirmationRequired) as unconfirmed:
        services.devices.fit(again, actor="d")
    [reason] = unconfirmed.value.reasons
    assert (reason.code, reason.field) == ("PR_DEVICE_MIN_YEARS", ARM)
    assert local(-2).date().isoformat() in reason.message  # the fitting notice A paid
    assert len(jobs(db, kind="WI2701")) == 2  # nothing settled without the counter's word
    fitted = services.devices.fit(replace(again, replacement_confirmed=True), actor="d")
    [line] = fitted.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("0.00"), D("22000.00"))
