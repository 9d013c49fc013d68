"""Catalogue items: bulk loading, and building the domain's in-memory index for a region."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from itertools import islice

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapter.domain.catalogue import Catalogue, CatalogueItem, CatalogueKind
from adapter.store.mapping import catalogue_row
from adapter.store.sql import table, upsert
from adapter.store.tables import CatalogueItemRow

_item = table(CatalogueItemRow)

# Medical and rehab stays are priced against the treatment place's catalogues (N§32, B§15).
TREATMENT_KINDS = frozenset(
    {
        CatalogueKind.DRUG,
        CatalogueKind.TREATMENT,
        CatalogueKind.SERVICE_STANDARD,
        CatalogueKind.REHAB,
    }
)
_KEY = ["kind", "region", "code", "version"]
_BATCH = 2000


def _batches(items: Iterable[CatalogueItem], size: int) -> Iterator[list[CatalogueItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class CatalogueRepository:
    def __init__(self, session: Session):
        self._session = session

    def load(self, items: Iterable[CatalogueItem]) -> int:
        """Insert or replace items by (kind, region, code, version); returns how many were
        written. Batched multi-row upserts: 50,000 items take seconds, not minutes."""
        written = 0
        for batch in _batches(items, _BATCH):
            statement = upsert(self._session, _item)
            changes = {
                name: statement.excluded[name]
                for name in ("name", "unit", "price_cap", "limit_amount", "valid_from", "valid_to")
            }
            statement = statement.on_conflict_do_update(index_elements=_KEY, set_=changes)
            # De-duplicate within the batch: PostgreSQL refuses to upsert one row twice.
            unique = {(i.kind, i.region, i.code, i.version): i for i in batch}
            self._session.execute(statement, [catalogue_row(i) for i in unique.values()])
            written += len(unique)
        return written

    def count(self, region: str | None = None) -> int:
        query = select(func.count()).select_from(_item)
        if region is not None:
            query = query.where(_item.c.region == region)
        return int(self._session.execute(query).scalar_one())

    def catalogue(
        self, region: str, kinds: Collection[CatalogueKind] = TREATMENT_KINDS
    ) -> Catalogue:
        """The index pricing looks items up in: ``region``'s items of ``kinds``, all versions."""
        query = select(
            _item.c.kind,
            _item.c.code,
            _item.c.name,
            _item.c.region,
            _item.c.unit,
            _item.c.price_cap,
            _item.c.limit_amount,
            _item.c.version,
            _item.c.valid_from,
            _item.c.valid_to,
        ).where(_item.c.region == region, _item.c.kind.in_([k.value for k in kinds]))
        kind_of = {k.value: k for k in CatalogueKind}
        return Catalogue(
            CatalogueItem(kind_of[kind], code, name, reg, unit, cap, limit, ver, start, end)
            for kind, code, name, reg, unit, cap, limit, ver, start, end in self._session.execute(
                query
            )
        )

    def treatment_catalogue(self, treatment_region: str) -> Catalogue:
        """Drugs, treatment items, service standards and rehab items of the treatment place."""
        return self.catalogue(treatment_region, TREATMENT_KINDS)

    def device_catalogue(self, insured_region: str) -> Catalogue:
        """The insured place's device catalogue (devices follow the insured place, N§32)."""
        return self.catalogue(insured_region, {CatalogueKind.DEVICE})
