"""The insured place's device catalogue of the fitting's day (N§32, N§34, B§35), over the
simulator on real HTTP: a catalogue loaded only in versions that start after the fitting's day
is a catalogue not loaded for that day, never "not in the catalogue" at the worker's cost."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine

from adapter.domain.devices import DeviceItem
from adapter.domain.errors import EligibilityRefused
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.device_world import ARM, NAMES, NOTICE, device_worker, seed
from tests.integration.services.helpers import TODAY, card, local
from tests.integration.services.support import jobs

D = Decimal


def _catalogue_from_today(sim_url: str, region: str) -> None:
    """``region``'s device catalogue, one version in force from today only (a new year's
    catalogue whose predecessor was never published here)."""
    row = {"kind": "device", "code": ARM, "name": NAMES[ARM], "region": region, "unit": "具",
           "price_cap": None, "limit": "26000.00", "version": f"{TODAY.year}.12",
           "begndate": TODAY.isoformat()}  # fmt: skip
    seed(sim_url, catalogue=[row])


def test_PR_DEVICE_CATALOGUE_NOT_IN_FORCE_n32_n34_a_fitting_before_the_loaded_version_is_refused(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """Before: the arm fitted three days ago priced as 不在参保地辅助器具配置目录内 — the fund
    paid 0.00 and the worker all, though the catalogue simply had no version for that day."""
    _catalogue_from_today(sim.url, "440105")
    device_worker(sim.url, "P075", insured="440105")
    arm = (DeviceItem(ARM, NAMES[ARM], D("27000.00")),)
    earlier = FitDevices(card("P075"), NOTICE, arm, local(-3, 9))
    for attempt in (services.devices.presettle, services.devices.fit):
        with pytest.raises(EligibilityRefused) as refused:
            attempt(earlier, actor="d")
        [reason] = refused.value.reasons
        assert reason.code == "PR_DEVICE_CATALOGUE_NOT_IN_FORCE"
        assert reason.article == "N§32, N§34"
        assert "440105" in reason.message and local(-3).date().isoformat() in reason.message
    assert jobs(db) == []  # nothing settled at the worker's cost
    # The same arm fitted today is priced against the version in force today.
    today = services.devices.fit(FitDevices(card("P075"), NOTICE, arm, local(0, 9)), actor="d")
    [line] = today.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("26000.00"), D("1000.00"))


def test_PR_DEVICE_CATALOGUE_NOT_IN_FORCE_n32_the_district_is_not_passed_over_for_its_city(
    services: Services, sim: SimulatorServer
) -> None:
    """A district with a catalogue of its own but none for the day is not priced on its
    city's (上海市 publishes one in force that day): the district's applies (N§32)."""
    _catalogue_from_today(sim.url, "310106")
    device_worker(sim.url, "P076", insured="310106")
    arm = (DeviceItem(ARM, NAMES[ARM], D("27000.00")),)
    with pytest.raises(EligibilityRefused) as refused:
        services.devices.presettle(FitDevices(card("P076"), NOTICE, arm, local(-2, 9)), actor="d")
    assert [r.code for r in refused.value.reasons] == ["PR_DEVICE_CATALOGUE_NOT_IN_FORCE"]
