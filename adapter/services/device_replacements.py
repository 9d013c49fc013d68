"""A worker's earlier device fittings and the replacements inside the minimum years they make
(附表2).

The minimum years protect the fund, so only a fitting the fund paid for starts an item's
clock. Fitting (:mod:`.devices`) prices against these; the counter is shown them, with each
filed item's limit, before it fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from adapter.domain.devices import (
    DeviceLimit,
    EarlierFitting,
    Replacement,
    filed_limits,
    replacement,
)
from adapter.domain.encounters import EncounterKind
from adapter.domain.filings import Filing
from adapter.services.context import ServiceContext
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class CounterView:
    """The filed items as the counter sees them before fitting: limits and replacements."""

    limits: dict[str, DeviceLimit | None]
    replacements: dict[str, Replacement]
    catalogue_region: str


def earlier_fittings(
    ctx: ServiceContext, uow: UnitOfWork, psn_no: str
) -> dict[str, EarlierFitting]:
    """Each device item's latest settled fitting for the worker that the fund paid for (the
    minimum years protect the fund; a fitting the worker paid alone starts no clock), with
    the notice it was settled under and the item's minimum years on that filing (附表2)."""
    latest: dict[str, EarlierFitting] = {}
    for record in uow.encounters.list_for_person(psn_no):
        encounter = record.encounter
        if encounter.kind is not EncounterKind.DEVICE:
            continue
        settlement = uow.settlements.find_active(encounter.id)
        if settlement is None:
            continue
        filing = uow.filings.get(encounter.filing_no)
        where = where_fitted(ctx, uow, encounter.institution_code)
        day = settlement.bill.discharged_on  # the fitting date (附表2 counts from it)
        for line in settlement.bill.lines:
            code = line.line.item_code
            if line.fund_pay <= 0 or (code in latest and latest[code].fitted_on >= day):
                continue
            filed = filing.device(code) if filing is not None else None
            latest[code] = EarlierFitting(
                device_code=code,
                device_name=line.line.item_name or code,
                fitted_on=day,
                where=where,
                notice_no=filing.approval_notice_no if filing is not None else "",
                min_years=filed.min_years if filed is not None else 0,
                slip_no=settlement.slip_no,
            )
    return latest


def where_fitted(ctx: ServiceContext, uow: UnitOfWork, code: str) -> str:
    """The institution a fitting was settled at, as the counter reads it: name (code)."""
    if code == ctx.institution.code:
        return f"{ctx.institution.name}（{code}）"
    known = uow.institutions.get(code)
    return f"{known.name}（{code}）" if known is not None and known.name else code


def counter_view(
    ctx: ServiceContext, uow: UnitOfWork, filing: Filing, region: str, psn_no: str, on: date
) -> CounterView:
    """Each filed item's limit in ``region``'s catalogue on ``on``, and any replacement inside
    the minimum years (with the earlier fitting)."""
    limits = filed_limits(filing, uow.catalogue.device_catalogue(region), region, on)
    earlier = earlier_fittings(ctx, uow, psn_no)
    again = {
        d.device_code: r
        for d in filing.devices
        if (r := replacement(d.device_code, filing, earlier, on)) is not None
    }
    return CounterView(limits, again, region)
