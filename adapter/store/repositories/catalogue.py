"""Catalogue items: bulk loading, and building the domain's in-memory index for a region.

A hospital's catalogue holds tens of thousands of items, but a batch of fees or a stay names
a few dozen of them, and building the full index costs most of a second. So
:meth:`CatalogueRepository.treatment_items`, what pricing uses, reads from the database only
the items asked for, in the unit of work's transaction: the codes given up front in one
query, any other item on its first lookup. Lookups answer exactly as the full index would.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import date
from itertools import islice
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from adapter.domain.catalogue import Catalogue, CatalogueItem, CatalogueKind
from adapter.store.mapping import catalogue_row
from adapter.store.sql import table, upsert
from adapter.store.tables import CatalogueItemRow

_item = table(CatalogueItemRow)

# Medical and rehab stays are priced against the treatment place's catalogues (N§32, B§30).
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
        return Catalogue(_items(self._session.execute(_query(region, kinds))))

    def treatment_catalogue(self, treatment_region: str) -> Catalogue:
        """Drugs, treatment items, service standards and rehab items of the treatment place."""
        return self.catalogue(treatment_region, TREATMENT_KINDS)

    def treatment_items(
        self, treatment_region: str, codes: Iterable[str] | None = None
    ) -> StoredCatalogue:
        """The treatment catalogue read as pricing asks (see the module's docstring):
        ``codes``, if given, in one query now; any other item on its first lookup. It
        answers every lookup as :meth:`treatment_catalogue` would; use it inside the unit
        of work only."""
        catalogue = StoredCatalogue(self._session, treatment_region, TREATMENT_KINDS)
        if codes is not None:
            catalogue.prefetch(codes)
        return catalogue

    def device_catalogue(self, insured_region: str) -> Catalogue:
        """The insured place's device catalogue (devices follow the insured place, N§32)."""
        return self.catalogue(insured_region, {CatalogueKind.DEVICE})


_COLUMNS = (
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
)
_KIND_OF = {k.value: k for k in CatalogueKind}
_PREFETCH_CHUNK = 500  # codes per IN list: well inside every driver's parameter limit
# Built once: a lookup that misses costs one indexed query, without rebuilding the statement.
_BY_CODE = select(*_COLUMNS).where(
    _item.c.region == bindparam("region"),
    _item.c.kind.in_(bindparam("kinds", expanding=True)),
    _item.c.code == bindparam("code"),
)
_BY_CODES = select(*_COLUMNS).where(
    _item.c.region == bindparam("region"),
    _item.c.kind.in_(bindparam("kinds", expanding=True)),
    _item.c.code.in_(bindparam("codes", expanding=True)),
)


def _query(region: str, kinds: Collection[CatalogueKind]) -> Select[Any]:
    return select(*_COLUMNS).where(
        _item.c.region == region, _item.c.kind.in_([k.value for k in kinds])
    )


def _items(rows: Iterable[tuple[Any, ...]]) -> Iterator[CatalogueItem]:
    for kind, code, name, reg, unit, cap, limit, ver, start, end in rows:
        yield CatalogueItem(_KIND_OF[kind], code, name, reg, unit, cap, limit, ver, start, end)


class StoredCatalogue(Catalogue):
    """A region's catalogue read from the database item by item, as lookups ask for them.

    Each (kind, code) is read once, all its versions together, so :meth:`lookup` answers as
    the full index would. Bound to the unit of work's session: use it inside that block.
    """

    def __init__(self, session: Session, region: str, kinds: Collection[CatalogueKind]) -> None:
        super().__init__()
        self._session = session
        self._region = region
        self._kinds = frozenset(kinds)
        self._params = {"region": region, "kinds": sorted(k.value for k in kinds)}
        self._read: set[str] = set()  # codes whose items (of every kind) are in the index

    def prefetch(self, codes: Iterable[str]) -> None:
        """Read the items of ``codes`` (every kind) in as few queries as possible."""
        wanted = sorted({code for code in codes if code not in self._read})
        connection = self._session.connection()
        for start in range(0, len(wanted), _PREFETCH_CHUNK):
            chunk = wanted[start : start + _PREFETCH_CHUNK]
            for item in _items(connection.execute(_BY_CODES, {**self._params, "codes": chunk})):
                self.add(item)
            self._read.update(chunk)

    def lookup(self, kind: CatalogueKind, region: str, code: str, on: date) -> CatalogueItem | None:
        if code not in self._read and region == self._region and kind in self._kinds:
            rows = self._session.connection().execute(_BY_CODE, {**self._params, "code": code})
            for item in _items(rows):
                self.add(item)
            self._read.add(code)
        return super().lookup(kind, region, code, on)
