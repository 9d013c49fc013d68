"""An encounter's fees priced: what fees, presettle, settle and manual claims share.

Each line is priced when it is recorded, against the treatment place's catalogue version in
force on the fee's date (N§32, B§30), and keeps that price; it is priced again only when it
could have changed — the billing clerk mapped it (its reversals follow), or a catalogue item
of the code that priced it was loaded after it was priced (a version for that day arriving
later). Reading a stay's bill is then reading its stored prices plus re-pricing the few lines
that changed: the result is, to the fen, what pricing every line afresh would give.

A line the clerk mapped to a catalogue code is priced as that code; one confirmed as out of
catalogue (mapped to nothing) keeps its own code and so prices as 目录外. Unmapped lines are
priced (as out of catalogue) but reported, and a settlement refuses them until the clerk has
looked at each one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from adapter.domain.catalogue import Catalogue
from adapter.domain.errors import DomainError
from adapter.domain.fees import FeeLine
from adapter.domain.pricing import NOTHING_TAKEN, PricedBill, PricedLine, Taken, price_line
from adapter.services.context import ServiceContext
from adapter.store.repositories import TREATMENT_KINDS, LinePrice, MappingStatus, StoredFeeLine
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class PricedFees:
    stored: tuple[StoredFeeLine, ...]
    bill: PricedBill
    # Lines whose stored price was missing or out of date, priced now (line id → price).
    repriced: dict[str, LinePrice] = dataclasses.field(default_factory=dict)

    @property
    def unmapped(self) -> tuple[StoredFeeLine, ...]:
        return tuple(s for s in self.stored if s.mapping_status is MappingStatus.UNMAPPED)


def effective_line(stored: StoredFeeLine) -> FeeLine:
    """The line as pricing sees it: the HIS item replaced by the catalogue code it maps to."""
    line = stored.line
    if (
        stored.mapping_status is MappingStatus.MAPPED
        and stored.catalogue_code
        and stored.catalogue_code != line.item_code
    ):
        return dataclasses.replace(line, item_code=stored.catalogue_code)
    return line


def treatment_catalogue(ctx: ServiceContext, uow: UnitOfWork, codes: Iterable[str]) -> Catalogue:
    """The treatment place's items for ``codes`` (every version), read in one query, so the
    domain prices from memory. Name every code pricing will look up: one not named prices
    as out of catalogue."""
    return uow.catalogue.treatment_items(ctx.institution.admdvs, codes)


def line_price(
    ctx: ServiceContext,
    line: FeeLine,
    basis: FeeLine | None,
    catalogue: Catalogue,
    taken: Taken = NOTHING_TAKEN,
) -> LinePrice:
    """The price to store with ``line`` (effective, as is ``basis``, the original a reversal
    undoes, whose earlier reversals took back ``taken``); raises :class:`PricingError` as
    :func:`price_line` does."""
    source = basis or line
    if source.category.excluded:
        return LinePrice(None, "")
    priced = price_line(
        line,
        catalogue,
        ctx.institution.admdvs,
        basis=basis,
        taken=taken,
        zone=ctx.zone,  # the fee's local day: a stored time reads back in UTC (N§32, B§30)
    )
    return LinePrice(priced, source.item_code)


def _reprice(
    ctx: ServiceContext, uow: UnitOfWork, stored: list[StoredFeeLine], stale: set[str]
) -> dict[str, LinePrice]:
    effective = {s.line.line_id: effective_line(s) for s in stored}
    work: list[tuple[str, FeeLine, FeeLine | None, Taken]] = []
    # In arrival order, as when they were recorded: what each charge's reversals took back
    # before each one, which the next one leaves priced as what is left.
    taken: dict[str, Taken] = {}
    for s in stored:
        line_id = s.line.line_id
        before = NOTHING_TAKEN
        if s.line.is_reversal:
            before = taken.get(s.line.reverses, NOTHING_TAKEN)
            taken[s.line.reverses] = before.plus(s.line)
        if line_id in stale:
            basis = effective.get(s.line.reverses) if s.line.is_reversal else None
            work.append((line_id, effective[line_id], basis, before))
    codes = {(basis or line).item_code for _, line, basis, _ in work}
    catalogue = treatment_catalogue(ctx, uow, codes)
    return {
        line_id: line_price(ctx, line, basis, catalogue, before)
        for line_id, line, basis, before in work
    }


def stale_lines(ctx: ServiceContext, uow: UnitOfWork, encounter_id: str) -> set[str]:
    """The stay's lines whose stored price is missing or out of date (usually none)."""
    return uow.fee_lines.stale(
        encounter_id, ctx.institution.admdvs, [k.value for k in TREATMENT_KINDS]
    )


def price_encounter(
    ctx: ServiceContext, uow: UnitOfWork, encounter_id: str, stale: set[str] | None = None
) -> PricedFees:
    """The stay's bill from its stored prices; a line whose price is missing or out of date
    (``stale``, asked here when not given) is priced now (returned in ``repriced``;
    :func:`store_repriced` keeps them)."""
    stored = uow.fee_lines.list_priced(encounter_id)
    if stale is None:
        stale = stale_lines(ctx, uow, encounter_id)
    repriced = _reprice(ctx, uow, stored, stale) if stale else {}
    return priced_fees(stored, repriced)


def priced_fees(
    stored: Sequence[StoredFeeLine], repriced: dict[str, LinePrice] | None = None
) -> PricedFees:
    """``stored`` lines as priced: by their stored price, or ``repriced`` when given."""
    repriced = repriced or {}
    lines: list[PricedLine] = []
    excluded: list[FeeLine] = []
    for s in stored:
        price = repriced.get(s.line.line_id) or s.price
        assert price is not None  # every unpriced line is stale
        line = effective_line(s)
        if price.priced is None:
            excluded.append(line)
        elif price.priced.line is line:
            lines.append(price.priced)
        else:
            lines.append(dataclasses.replace(price.priced, line=line))
    return PricedFees(tuple(stored), PricedBill(tuple(lines), tuple(excluded)), repriced)


def store_repriced(uow: UnitOfWork, encounter_id: str, fees: PricedFees) -> None:
    """Keep the prices computed while reading, so the next read does not compute them."""
    uow.fee_lines.set_prices(encounter_id, fees.repriced)


def store_stale_prices(ctx: ServiceContext, uow: UnitOfWork, encounter_id: str) -> None:
    """Price and store every line of the stay whose price is missing or out of date, so its
    stored prices are its bill (what a settlement sums). Nothing stale, nothing read: the
    lines are read only after a mapping or a catalogue load since they were priced."""
    stale = stale_lines(ctx, uow, encounter_id)
    if stale:
        store_repriced(uow, encounter_id, price_encounter(ctx, uow, encounter_id, stale))


def refuse_unmapped(unmapped: Sequence[StoredFeeLine]) -> None:
    """Settlement needs every line looked at: map it, or confirm it as out of catalogue."""
    if unmapped:
        ids = "、".join(s.line.line_id for s in unmapped)
        raise DomainError(
            f"费用明细{ids}的项目未与就医地工伤保险目录对照，请结算员先完成目录对照"
            "或确认为目录外项目后再结算（N§32）",
            code="FEES_UNMAPPED",
            article="N§32",
        )
