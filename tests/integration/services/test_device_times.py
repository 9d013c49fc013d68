"""How far back a device fitting's time may lie (N§16, N§34, B§26, B§34, B§35), over the use
cases with the simulator over real HTTP: not before the device filing carrying the notice took
effect, not older than ``[devices]`` ``max_fitting_age_days`` — at a direct fitting, its
preview, and a fitting recorded as a manual-claim case while upstream is down (one check,
:func:`adapter.services.device_times.check_fitted_at`)."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from adapter.domain.device_times import FittingBeforeFiling, FittingTooOld
from adapter.domain.devices import DeviceItem
from adapter.services.configured import workflow_policy
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.services.manual_claim_records import ManualClaim
from adapter.settings_sections import DevicesSettings, PolicySettings
from adapter.store.tables.workflow import manual_claim
from connectors.upstream.client import ReferenceClient
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.device_world import (
    NAMES,
    NOTICE,
    ORTHOSIS,
    device_worker,
    renew_notice,
)
from tests.integration.services.fixtures import make_services
from tests.integration.services.helpers import ZONE, card, local
from tests.integration.services.support import MovableClock, jobs

D = Decimal


def _fit(at: datetime, psn_no: str = "P011", notice: str = NOTICE) -> FitDevices:
    items = (DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500.00")),)
    return FitDevices(card(psn_no), notice, items, at)


def _days_ago(days: int) -> datetime:
    """``days`` local days before the adapter's today (the real clock), at 08:00."""
    day = datetime.now(ZONE).date() - timedelta(days=days)
    return datetime.combine(day, datetime.min.time().replace(hour=8), tzinfo=ZONE)


def _no_case(db: Engine) -> bool:
    with db.connect() as connection:
        return connection.execute(select(manual_claim.c.id)).first() is None


def test_FITTING_TOO_OLD_n34_b35_a_fitting_dated_past_the_window_is_refused_naming_fitted_at(
    services: Services, db: Engine
) -> None:
    """A fitting dated 31 days back would settle today at that day's catalogue and start the
    orthosis's 2 minimum years back then (the window, 30 days as shipped, is checked before
    the worker's filing, which is 16 days old)."""
    for attempt in (services.devices.presettle, services.devices.fit):
        with pytest.raises(FittingTooOld) as old:
            attempt(_fit(_days_ago(31)), actor="dev01")
        assert (old.value.code, old.value.field, old.value.article) == (
            "FITTING_TOO_OLD",
            "fitted_at",
            "N§34, B§35",
        )
        assert "配置时间" in old.value.message and "30天前" in old.value.message
    assert jobs(db) == []
    # Seven local days back is inside: settled, the fund paying the orthosis to the fen.
    fitted = services.devices.fit(_fit(_days_ago(7)), actor="dev01").settlement.breakdown
    assert (fitted.fund_pay, fitted.personal_pay, fitted.total) == (
        D("1500.00"),
        D("0.00"),
        D("1500.00"),
    )


def test_FITTING_TOO_OLD_the_window_is_the_sites_setting(
    db: Engine, client: ReferenceClient, clock: MovableClock, msgids: MsgidSequence
) -> None:
    """``[devices]`` ``max_fitting_age_days`` as shipped, and a site's own."""
    shipped = tomllib.loads(Path("config/adapter.toml").read_text(encoding="utf-8"))
    packaged = tomllib.loads(Path("adapter/defaults/adapter.toml").read_text(encoding="utf-8"))
    assert shipped["devices"]["max_fitting_age_days"] == 30
    assert packaged["devices"]["max_fitting_age_days"] == 30
    site = workflow_policy(PolicySettings(), DevicesSettings(max_fitting_age_days=10))
    services = make_services(db, client, clock, msgids, policy=site)
    fitted = services.devices.fit(_fit(_days_ago(9)), actor="dev01").settlement.breakdown
    assert (fitted.fund_pay, fitted.personal_pay) == (D("1500.00"), D("0.00"))
    with pytest.raises(FittingTooOld) as old:
        services.devices.fit(_fit(_days_ago(11)), actor="dev01")
    assert "10天前" in old.value.message


def test_FITTING_BEFORE_FILING_n16_n34_a_fitting_before_its_notice_was_issued_is_refused(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """The insured place changed the worker's filing yesterday, issuing a new notice: a
    fitting under it dated three days back predates the notice (the counter fits once it
    checked the notice, N§34, B§34)."""
    device_worker(sim.url, "P071", filing_no="F071A")
    new_notice = "沪工伤辅核〔2026〕第0777号"
    renew_notice(sim.url, "P071", "F071A", "F071B", new_notice)
    with pytest.raises(FittingBeforeFiling) as early:
        services.devices.fit(_fit(local(-3), "P071", new_notice), actor="dev01")
    assert (early.value.code, early.value.field) == ("FITTING_BEFORE_FILING", "fitted_at")
    assert early.value.article == "N§16, N§34, B§26, B§34"
    assert "F071B" in early.value.message and new_notice in early.value.message
    assert "配置时间" in early.value.message
    assert jobs(db) == []
    fitted = services.devices.fit(_fit(local(0), "P071", new_notice), actor="dev01")
    assert fitted.settlement.breakdown.fund_pay == D("1500.00")


@pytest.mark.upstream_outage
def test_FITTING_TOO_OLD_n38_b27_a_case_is_held_to_the_same_window_counted_from_its_recording(
    services: Services, sim: SimulatorServer, db: Engine, clock: MovableClock
) -> None:
    assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": True}).status_code == 200
    with pytest.raises(FittingTooOld) as old:
        services.device_claims.fit_or_claim(_fit(_days_ago(31)), actor="dev01")
    assert old.value.field == "fitted_at"
    assert _no_case(db)  # no fee list for the insured place
    case = services.device_claims.fit_or_claim(_fit(local(0, 9)), actor="dev01")
    assert isinstance(case, ManualClaim)
    # Upstream answers again 35 days later, past the window: the case was recorded in time
    # (its fitting's day is counted from its recording), so it switches.
    clock.advance(timedelta(days=35))
    assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": False}).status_code == 200
    fitted = services.device_claims.switch_to_direct(case.id, card("P011"), actor="dev01")
    breakdown = fitted.settlement.breakdown
    assert (breakdown.fund_pay, breakdown.personal_pay, breakdown.total) == (
        D("1500.00"),
        D("0.00"),
        D("1500.00"),
    )
    # The same fitting sent again is its settlement, whatever its age now.
    again = services.devices.fit(_fit(local(0, 9)), actor="dev01")
    assert again.replayed and again.settlement.id == fitted.settlement.id
