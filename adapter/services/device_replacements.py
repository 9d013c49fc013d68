"""A worker's earlier device fittings and the replacements inside the minimum years they make
(附表2).

The minimum years protect the fund, so only a fitting the fund paid for starts an item's
clock — settled here directly, or recorded here as a manual-claim case whose fee list the
insured place reimburses from the fund (N§38; :mod:`adapter.domain.device_cases`). Fitting
(:mod:`.devices`) prices against these, and a case recorded while upstream is down is
checked against them (:mod:`.device_claims`); the counter is shown them, with each filed
item's limit, before it fits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from adapter.domain.device_cases import case_items, latest, min_years_of
from adapter.domain.devices import (
    DeviceLimit,
    EarlierFitting,
    Replacement,
    filed_limits,
    replacement,
)
from adapter.domain.encounters import EncounterKind
from adapter.domain.filings import Filing, same_notice
from adapter.services.context import ServiceContext
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class CounterView:
    """The filed items as the counter sees them before fitting: limits and replacements."""

    limits: dict[str, DeviceLimit | None]
    replacements: dict[str, Replacement]
    catalogue_region: str


def earlier_fittings(ctx: ServiceContext, uow: UnitOfWork, psn_no: str) -> list[EarlierFitting]:
    """The worker's settled fittings that the fund paid for, one per item per fitting (the
    minimum years protect the fund; a fitting the worker paid alone starts no clock), with
    the notice each was settled under and the item's minimum years on that filing (附表2).
    All of them, not only each item's latest: a notice that paid an older one approves no
    new one (:func:`adapter.domain.device_cases.latest`)."""
    found: list[EarlierFitting] = []
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
        paid: set[str] = set()
        for line in settlement.bill.lines:
            code = line.line.item_code
            if line.fund_pay <= 0 or code in paid:
                continue
            paid.add(code)
            filed = filing.device(code) if filing is not None else None
            found.append(
                EarlierFitting(
                    device_code=code,
                    device_name=line.line.item_name or code,
                    fitted_on=day,
                    where=where,
                    notice_no=filing.approval_notice_no if filing is not None else "",
                    min_years=filed.min_years if filed is not None else 0,
                    slip_no=settlement.slip_no,
                )
            )
    return found


def case_fittings(
    ctx: ServiceContext,
    uow: UnitOfWork,
    psn_nos: Collection[str],
    notice: str,
    *,
    filings: Iterable[Filing] = (),
    skip: str = "",
) -> list[EarlierFitting]:
    """The worker's fittings recorded here as manual-claim cases, open or handed over (the
    insured place reimburses their lists: N§38), as earlier fittings of their claimed items.
    ``psn_nos``: the worker's number and the card stand-ins a case may be kept under; a case
    under another stand-in (a card the store never saw) is the worker's when its notice is
    ``notice`` (the insured place issues a notice on one filing, N§34, B§34). ``filings``:
    the worker's, for each item's minimum years; ``skip``: the encounter of the case being
    settled itself."""
    institution = ctx.institution.code
    filings = tuple(filings)
    where = where_fitted(ctx, uow, institution)
    found: list[EarlierFitting] = []
    for claim in uow.manual_claims.device_cases(institution, psn_nos, stand_ins=True):
        fitting = claim.fee_list.get("fitting")
        if claim.encounter_id == skip or not isinstance(fitting, dict):
            continue
        case_notice = str(fitting.get("approval_notice_no", ""))
        if claim.psn_no not in psn_nos and not same_notice(case_notice, notice):
            continue
        fitted_on = ctx.local_date(datetime.fromisoformat(str(fitting["fitted_at"])))
        for item in case_items(fitting):
            if item.worker_pays:  # a confirmed repeat: claimed from nobody, no clock
                continue
            found.append(
                EarlierFitting(
                    device_code=item.device_code,
                    device_name=item.device_name,
                    fitted_on=fitted_on,
                    where=f"{where}，按手工报销登记，手工报销记录{claim.id}",
                    notice_no=case_notice,
                    min_years=min_years_of(filings, case_notice, item.device_code),
                )
            )
    return found


def earlier_with_cases(
    ctx: ServiceContext,
    uow: UnitOfWork,
    psn_no: str,
    psn_nos: Collection[str],
    notice: str,
    *,
    filings: Iterable[Filing] = (),
    skip: str = "",
) -> dict[str, EarlierFitting]:
    """Each item's latest earlier fitting: settled (:func:`earlier_fittings`, for ``psn_no``
    when known) or a manual-claim case (:func:`case_fittings`), with the latest one
    ``notice`` paid when another paid the item since."""
    settled = earlier_fittings(ctx, uow, psn_no) if psn_no else ()
    cases = case_fittings(ctx, uow, psn_nos, notice, filings=filings, skip=skip)
    return latest(settled, cases, notice=notice)


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
    earlier = earlier_with_cases(
        ctx, uow, psn_no, (psn_no,), filing.approval_notice_no, filings=(filing,)
    )
    again = {
        d.device_code: r
        for d in filing.devices
        if (r := replacement(d.device_code, filing, earlier, on)) is not None
    }
    return CounterView(limits, again, region)
