"""A slip printed again shows the settlement as it was settled (N§34, B§35, N附件10): what
changed upstream since — a filing's device limit — does not change what the slip says the
fund paid against."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.devices import DeviceItem
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.services.identity import cache
from adapter.web.slip import build_slip
from connectors.upstream.simulator import SimulatorServer
from connectors.upstream.simulator.demo_seed import demo_seed
from tests.integration.services.device_world import (
    ARM,
    NAMES,
    NOTICE,
    ORTHOSIS,
    device_worker,
    filed_item,
    seed,
)
from tests.integration.services.helpers import TODAY, card, local

D = Decimal


def _change_limits(sim_url: str, arm: str, orthosis: str) -> None:
    """The insured place changes F011's limits (the same filing, re-read by the next check)."""
    filing = dict(next(f for f in demo_seed(TODAY)["filings"] if f["filing_no"] == "F011"))
    limits = {ARM: arm, ORTHOSIS: orthosis}
    filing["devices"] = [dict(d, limit=limits[d["device_code"]]) for d in filing["devices"]]
    seed(sim_url, filings=[filing])


def test_n34_b35_a_reprinted_slip_shows_the_limit_the_fund_paid_against(
    services: Services, sim: SimulatorServer
) -> None:
    items = (
        DeviceItem(ARM, NAMES[ARM], D("30000.00")),  # over the 28,000 limit
        DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500.00")),  # within the 1,800 limit
    )
    fitted = services.devices.fit(FitDevices(card("P011"), NOTICE, items, local(0, 9)), actor="d")
    paid = {p.line.item_code: (p.fund_pay, p.personal_pay) for p in fitted.settlement.bill.lines}
    assert paid == {ARM: (D("28000.00"), D("2000.00")), ORTHOSIS: (D("1500.00"), D("0.00"))}
    before = {
        d.device_code: (d.limit, d.reason)
        for d in build_slip(services, fitted.settlement.id).devices
    }

    _change_limits(sim.url, arm="25000.00", orthosis="1200.00")
    # the next check of the worker reads the changed filing and keeps it as last seen
    facts = services.identity.facts(card("P011"))
    with services.context.uow() as uow:
        cache(uow, facts)
        uow.commit()
    with services.context.uow() as uow:
        filing = uow.filings.get("F011")
    assert filing is not None and filing.device(ARM).limit == D("25000.00")  # type: ignore[union-attr]  # ARM is filed

    slip = build_slip(services, fitted.settlement.id)
    shown = {d.device_code: (d.limit, d.reason) for d in slip.devices}
    assert shown == before
    arm = next(d for d in slip.devices if d.device_code == ARM)
    # the worker paid what exceeds 28,000: the slip says so, not 25,000
    assert (arm.limit, arm.fund_pay, arm.personal_pay) == (
        D("28000.00"),
        D("28000.00"),
        D("2000.00"),
    )
    assert "28000.00" in arm.reason and "25000.00" not in arm.reason
    assert next(d for d in slip.devices if d.device_code == ORTHOSIS).limit == D("1800.00")


def test_n34_b35_the_slip_keeps_the_limit_priced_against_when_the_catalogue_changes(
    services: Services, sim: SimulatorServer
) -> None:
    """The filing's limit (1500, sent without decimals) is below the catalogue's 1,800.00:
    the 1,400.00 orthosis is priced within 1,500.00. The catalogue then lowers the item to
    1,000.00: the slip, first and reprinted, says 1,500.00 — the limit it was priced
    against, neither the catalogue's then nor now."""
    card_no = device_worker(
        sim.url,
        "P081",
        devices=[filed_item(ORTHOSIS, "1500")],
    )
    items = (DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1400.00")),)
    fitted = services.devices.fit(FitDevices(card("P081"), NOTICE, items, local(0, 9)), actor="d")
    assert card_no and fitted.settlement.bill.breakdown.fund_pay == D("1400.00")
    [first] = build_slip(services, fitted.settlement.id).devices
    assert first.limit == D("1500.00")

    with services.context.uow() as uow:
        item = uow.catalogue.device_catalogue("310100").lookup(
            CatalogueKind.DEVICE, "310100", ORTHOSIS, TODAY
        )
        assert item is not None and item.limit == D("1800.00")
        uow.catalogue.load([replace(item, limit=D("1000.00"))])
        uow.commit()

    [again] = build_slip(services, fitted.settlement.id).devices
    assert (again.limit, again.fund_pay, again.personal_pay) == (
        D("1500.00"),
        D("1400.00"),
        D("0.00"),
    )
