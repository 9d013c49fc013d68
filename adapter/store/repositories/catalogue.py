"""Catalogue items: bulk loading, and building the domain's in-memory index for a region.

A hospital's catalogue holds tens of thousands of items, but a batch of fees or a stay names
a few dozen of them, and building the full index costs most of a second. So
:meth:`CatalogueRepository.treatment_items`, what pricing uses, reads only the items of the
codes the service names, every version of each, in one query; the domain then prices from
that plain in-memory :class:`~adapter.domain.catalogue.Catalogue` and never reaches back
into the store. For the codes named, lookups answer exactly as the full index would.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from adapter.domain.catalogue import Catalogue, CatalogueItem, CatalogueKind
from adapter.domain.ports import Clock
from adapter.store.mapping import catalogue_row
from adapter.store.sql import SystemClock, in_keys, in_params, in_size, table, upsert
from adapter.store.tables import CatalogueItemRow
from adapter.store.tables.monthly import catalogue_update

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
    def __init__(self, session: Session, clock: Clock | None = None):
        self._session = session
        self._clock: Clock = clock or SystemClock()

    def load(self, items: Iterable[CatalogueItem]) -> int:
        """Insert or replace items by (kind, region, code, version); returns how many were
        written. Batched multi-row upserts: 50,000 items take seconds, not minutes."""
        written = 0
        for batch in _batches(items, _BATCH):
            statement = upsert(self._session, _item)
            fields = ("name", "unit", "price_cap", "limit_amount", "valid_from", "valid_to")
            changes = {name: statement.excluded[name] for name in (*fields, "loaded_at")}
            # A row loaded again unchanged is left alone: its loaded_at would re-price every
            # fee line priced by it, for nothing.
            changed = or_(
                *(_item.c[name].is_distinct_from(statement.excluded[name]) for name in fields)
            )
            statement = statement.on_conflict_do_update(
                index_elements=_KEY, set_=changes, where=changed
            )
            # De-duplicate within the batch: PostgreSQL refuses to upsert one row twice.
            unique = {(i.kind, i.region, i.code, i.version): i for i in batch}
            # loaded_at re-prices the fee lines priced by these codes before now (the store's
            # fee-line module says how).
            now = self._clock.now()
            rows = [{**catalogue_row(i), "loaded_at": now} for i in unique.values()]
            self._session.execute(statement, rows)
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

    def treatment_items(self, treatment_region: str, codes: Iterable[str]) -> Catalogue:
        """The treatment catalogue's items for ``codes`` (every kind and version), read now;
        for those codes it answers as :meth:`treatment_catalogue` would."""
        wanted = sorted(set(codes))
        catalogue = Catalogue()
        for start in range(0, len(wanted), _PREFETCH_CHUNK):
            chunk = wanted[start : start + _PREFETCH_CHUNK]
            size = in_size(len(chunk))
            params = {"region": treatment_region, **in_params("c", chunk, size)}
            for item in _items(self._session.execute(_by_codes(size), params)):
                catalogue.add(item)
        return catalogue

    def device_catalogue(self, insured_region: str) -> Catalogue:
        """The insured place's device catalogue (devices follow the insured place, N§32)."""
        return self.catalogue(insured_region, {CatalogueKind.DEVICE})

    def regions(self, kind: CatalogueKind) -> set[str]:
        """The regions with items of ``kind`` loaded."""
        query = select(_item.c.region).where(_item.c.kind == kind.value).distinct()
        return set(self._session.execute(query).scalars())

    def has(self, kind: CatalogueKind, region: str, on: date | None = None) -> bool:
        """Whether any item of ``kind`` is loaded for ``region`` — with ``on``, one in force
        on that day by its own dates."""
        where = [_item.c.kind == kind.value, _item.c.region == region]
        if on is not None:
            where += [
                _item.c.valid_from <= on,
                or_(_item.c.valid_to.is_(None), _item.c.valid_to >= on),
            ]
        return bool(self._session.execute(select(exists().where(*where))).scalar())

    def latest_versions(
        self, region: str, codes: Sequence[str]
    ) -> dict[tuple[str, str], tuple[str, date | None]]:
        """(kind, code) → (version, valid_to) of each code's latest version in ``region``
        (the one in force last)."""
        latest: dict[tuple[str, str], tuple[str, date | None]] = {}
        for start in range(0, len(codes), _PREFETCH_CHUNK):
            rows = self._session.execute(
                select(_item.c.kind, _item.c.code, _item.c.version, _item.c.valid_to)
                .where(
                    _item.c.region == region,
                    _item.c.code.in_(codes[start : start + _PREFETCH_CHUNK]),
                )
                .order_by(_item.c.valid_from, *_LOAD_ORDER)
            )
            for row in rows:
                latest[(row.kind, row.code)] = (row.version, row.valid_to)
        return latest


@dataclass(frozen=True)
class CatalogueUpdate:
    """One catalogue download (``WI1401``) or CSV import, as noted in ``catalogue_update``."""

    kind: str
    region: str
    version: str
    source: str  # download | import
    items: int
    actor: str
    at: datetime
    since_version: str = ""


class CatalogueUpdateRepository:
    """The notes of catalogue downloads and imports: the next download's ``since_version``,
    and the history IT reads."""

    def __init__(self, session: Session):
        self._session = session

    def add(self, update: CatalogueUpdate) -> None:
        self._session.execute(
            catalogue_update.insert().values(
                kind=update.kind,
                region=update.region,
                version=update.version,
                source=update.source,
                items=update.items,
                actor=update.actor,
                at=update.at,
            )
        )

    def last_downloaded(self, kind: CatalogueKind, region: str) -> str:
        """The highest version downloaded for (kind, region); ``''`` if never downloaded."""
        value = self._session.execute(
            select(func.max(catalogue_update.c.version)).where(
                catalogue_update.c.kind == kind.value,
                catalogue_update.c.region == region,
                catalogue_update.c.source == "download",
            )
        ).scalar_one_or_none()
        return str(value or "")

    def latest(self, limit: int) -> list[CatalogueUpdate]:
        """The latest ``limit`` downloads and imports, newest first."""
        rows = self._session.execute(
            select(catalogue_update).order_by(catalogue_update.c.id.desc()).limit(limit)
        ).all()
        return [
            CatalogueUpdate(r.kind, r.region, r.version, r.source, r.items, r.actor, r.at)
            for r in rows
        ]

    def empty_downloads_since(self, kind: CatalogueKind, region: str, since: datetime) -> int:
        """How many downloads for (kind, region) since ``since`` brought no item."""
        query = select(func.count()).where(
            catalogue_update.c.kind == kind.value,
            catalogue_update.c.region == region,
            catalogue_update.c.source == "download",
            catalogue_update.c["items"] == 0,
            catalogue_update.c.at >= since,
        )
        return int(self._session.execute(query).scalar_one())


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
# Items in the order they were loaded (a row loaded before load times were kept first, then
# by load time, then by row): of two versions in force from the same day, the index keeps the
# one added last (Catalogue.add), so the one loaded later prices, whatever order the database
# would return them in unasked.
_LOAD_ORDER = (_item.c.loaded_at.asc().nulls_first(), _item.c.id)
_PREFETCH_CHUNK = 500  # codes per IN list: well inside every driver's parameter limit


@functools.cache
def _by_codes(size: int) -> Select[Any]:
    """Built once per IN length: a batch of fees reads its items without rendering the
    statement again."""
    return (
        select(*_COLUMNS)
        .where(
            _item.c.region == bindparam("region"),
            _item.c.kind.in_(
                [bindparam(f"kind{i}", k.value) for i, k in enumerate(sorted(TREATMENT_KINDS))]
            ),
            _item.c.code.in_(in_keys("c", size)),
        )
        .order_by(*_LOAD_ORDER)
    )


def _query(region: str, kinds: Collection[CatalogueKind]) -> Select[Any]:
    return (
        select(*_COLUMNS)
        .where(_item.c.region == region, _item.c.kind.in_([k.value for k in kinds]))
        .order_by(*_LOAD_ORDER)
    )


def _items(rows: Iterable[tuple[Any, ...]]) -> Iterator[CatalogueItem]:
    for kind, code, name, reg, unit, cap, limit, ver, start, end in rows:
        yield CatalogueItem(_KIND_OF[kind], code, name, reg, unit, cap, limit, ver, start, end)
