"""An encounter's fees priced now: what fees, presettle, settle and manual claims share.

Lines are priced at read time against the treatment place's catalogue version in force on
each fee's date (N§32, B§30), never frozen at entry: a catalogue loaded later, or a line the
billing clerk mapped, prices the next read. A line the clerk mapped to a catalogue code is
priced as that code; one confirmed as out of catalogue (mapped to nothing) keeps its own
code and so prices as 目录外. Unmapped lines are priced (as out of catalogue) but reported,
and a settlement refuses them until the clerk has looked at each one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from adapter.domain.catalogue import Catalogue
from adapter.domain.errors import DomainError
from adapter.domain.fees import FeeLine
from adapter.domain.pricing import PricedBill, price_lines
from adapter.services.context import ServiceContext
from adapter.store.repositories import MappingStatus, StoredFeeLine
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class PricedFees:
    stored: tuple[StoredFeeLine, ...]
    bill: PricedBill

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


def price_stored(
    ctx: ServiceContext,
    stored: Sequence[StoredFeeLine],
    catalogue: Catalogue,
) -> PricedFees:
    lines = [effective_line(s) for s in stored]
    return PricedFees(tuple(stored), price_lines(lines, catalogue, ctx.institution.admdvs))


def price_encounter(ctx: ServiceContext, uow: UnitOfWork, encounter_id: str) -> PricedFees:
    stored = uow.fee_lines.list_stored(encounter_id)
    codes = {effective_line(s).item_code for s in stored}
    return price_stored(ctx, stored, treatment_catalogue(ctx, uow, codes))


def refuse_unmapped(fees: PricedFees) -> None:
    """Settlement needs every line looked at: map it, or confirm it as out of catalogue."""
    if fees.unmapped:
        ids = "、".join(s.line.line_id for s in fees.unmapped)
        raise DomainError(
            f"费用明细{ids}的项目未与就医地工伤保险目录对照，请结算员先完成目录对照"
            "或确认为目录外项目后再结算（N§32）",
            code="FEES_UNMAPPED",
            article="N§32",
        )
