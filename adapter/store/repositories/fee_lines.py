"""Fee lines: added idempotently (a resent HIS line changes nothing), priced and re-priced,
mapped by the clerk, and read back in arrival order or grouped by code.

The rows' columns and their binding per dialect live in ``fee_line_rows``."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import chain
from typing import Any

from sqlalchemy import Row, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from adapter.domain.errors import NotFound
from adapter.domain.fees import FeeLine
from adapter.domain.ports import Clock
from adapter.store.mapping import fee_line_of, price_values
from adapter.store.repositories.fee_line_rows import (
    CHUNK,
    PRICE_COLUMNS,
    PRICE_MARGIN,
    PRICED_LINES,
    UNPRICED,
    LinePrice,
    MappingStatus,
    PricedRows,
    StoredFeeLine,
    binder_for,
)
from adapter.store.sql import in_keys, in_params, in_size, table
from adapter.store.tables import CatalogueItemRow, EncounterRow, FeeLineRow

_encounter = table(EncounterRow)
_fee_line = table(FeeLineRow)
_catalogue_item = table(CatalogueItemRow)

# The statements every fee batch runs, built once (building one costs more than running it
# on SQLite).
_EXISTS = select(exists().where(_encounter.c.id == bindparam("b_id")))
_LINES = (
    select(_fee_line)
    .where(_fee_line.c.encounter_id == bindparam("b_encounter"))
    .order_by(_fee_line.c.id)
)
_LINES_WITH_STATUS = (
    select(_fee_line)
    .where(
        _fee_line.c.encounter_id == bindparam("b_encounter"),
        _fee_line.c.mapping_status == bindparam("b_status"),
    )
    .order_by(_fee_line.c.id)
)


@dataclass(frozen=True)
class FeeLinesAdded:
    """What :meth:`FeeLineRepository.add` did: line ids stored, and ids ignored as repeats
    (already stored for the encounter, or repeated within the same batch)."""

    added: tuple[str, ...]
    ignored: tuple[str, ...]


@dataclass(frozen=True)
class UsedCode:
    """A catalogue code as recent fee lines use it (one HIS code, category and mapping
    state): how often, in how many stays, when last."""

    code: str  # the code pricing looks up (the clerk's mapping when there is one)
    item_code: str  # the HIS item code
    category: str
    mapping_status: str
    name: str
    lines: int
    encounters: int
    last_used: datetime


class FeeLineRepository:
    def __init__(self, session: Session, clock: Clock):
        self._session = session
        self._clock = clock

    def add(self, encounter_id: str, lines: Iterable[FeeLine | StoredFeeLine]) -> FeeLinesAdded:
        """Add lines to an encounter; a ``line_id`` already stored is ignored, not an error.

        HIS systems resend messages (a lost ACK, a replayed DFT^P03), so the second copy must
        change nothing. A plain :class:`FeeLine` is stored as mapped to its own item code.
        Safe under concurrency: the unique (encounter_id, line_id) key decides, via
        ``INSERT … ON CONFLICT DO NOTHING``.
        """
        entries: list[StoredFeeLine] = []
        seen: set[str] = set()
        repeated: list[str] = []
        for entry in lines:
            if isinstance(entry, StoredFeeLine):
                stored = entry
            else:
                stored = StoredFeeLine(entry, MappingStatus.MAPPED, entry.item_code)
            line_id = stored.line.line_id
            if line_id in seen:
                repeated.append(line_id)
                continue
            seen.add(line_id)
            entries.append(stored)
        if not entries:
            return FeeLinesAdded((), tuple(repeated))
        binder = binder_for(self._session.get_bind().dialect)
        rows = binder.rows(entries, encounter_id, self._clock.now())
        if not self._session.execute(_EXISTS, {"b_id": encounter_id}).scalar():
            raise NotFound(f"就诊{encounter_id}不存在", code="ENCOUNTER_NOT_FOUND")
        connection = self._session.connection()
        inserted: set[str] = set()
        step = binder.rows_per_statement
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            params = tuple(chain.from_iterable(chunk))
            result = connection.exec_driver_sql(binder.insert_sql(len(chunk)), params)
            inserted.update(result.scalars())
        order = [entry.line.line_id for entry in entries]
        added = tuple(line_id for line_id in order if line_id in inserted)
        ignored = tuple(line_id for line_id in order if line_id not in inserted)
        return FeeLinesAdded(added, ignored + tuple(repeated))

    @staticmethod
    def _price_columns(price: LinePrice | None, now: datetime) -> dict[str, Any]:
        if price is None:
            return dict(UNPRICED)
        values = dict(UNPRICED) if price.priced is None else price_values(price.priced)
        values["priced_as_of"] = now - PRICE_MARGIN
        values["price_code"] = price.code
        values["excluded"] = price.excluded
        return values

    def existing_ids(self, encounter_id: str, line_ids: Collection[str]) -> set[str]:
        """Which of ``line_ids`` the encounter already has (the unique index answers)."""
        found: set[str] = set()
        for chunk in _chunks(line_ids):
            size = in_size(len(chunk))
            params = {"b_encounter": encounter_id, **in_params("k", chunk, size)}
            found.update(self._session.execute(_existing_ids(size), params).scalars())
        return found

    def recorded(self, encounter_id: str, line_ids: Collection[str]) -> dict[str, FeeLine]:
        """The lines the encounter holds under ``line_ids``, as recorded (by index): what a
        repeated line id is compared with."""
        found: dict[str, FeeLine] = {}
        for chunk in _chunks(line_ids):
            rows = self._session.execute(
                select(_fee_line).where(
                    _fee_line.c.encounter_id == encounter_id, _fee_line.c.line_id.in_(chunk)
                )
            )
            for row in rows:
                found[row.line_id] = fee_line_of(row)
        return found

    def charges(
        self, encounter_id: str, line_ids: Collection[str], item_codes: Collection[str]
    ) -> builtins.list[StoredFeeLine]:
        """The encounter's charges (not reversals) named by id or of one of ``item_codes``,
        in arrival order: what a batch's reversals may undo, found by index."""
        ids = sorted(set(line_ids))
        codes = sorted(set(item_codes))
        found: dict[int, Row[Any]] = {}
        for column, keys in ((_fee_line.c.line_id, ids), (_fee_line.c.item_code, codes)):
            for chunk in _chunks(keys):
                for row in self._session.execute(
                    select(_fee_line).where(
                        _fee_line.c.encounter_id == encounter_id,
                        column.in_(chunk),
                        _fee_line.c.quantity > 0,
                    )
                ):
                    found[row.id] = row
        return [_stored(found[key]) for key in sorted(found)]

    def reversed_totals(
        self, encounter_id: str, line_ids: Collection[str]
    ) -> dict[str, tuple[Decimal, Decimal]]:
        """For each of ``line_ids``, the quantity and the amount its stored reversals took
        back (both negative): what is left of it to reverse, and to price as left when the
        next reversal comes (:func:`adapter.domain.pricing.price_line`)."""
        taken: dict[str, tuple[Decimal, Decimal]] = {}
        for chunk in _chunks(line_ids):
            rows = self._session.execute(
                select(_fee_line.c.reverses, _fee_line.c.quantity, _fee_line.c.amount).where(
                    _fee_line.c.encounter_id == encounter_id,
                    _fee_line.c.reverses.in_(chunk),
                    _fee_line.c.quantity < 0,  # a reversal: a charge naming one takes nothing
                )
            )
            for original, quantity, amount in rows:
                so_far, amount_so_far = taken.get(original, (Decimal(0), Decimal(0)))
                taken[original] = (so_far + quantity, amount_so_far + amount)
        return taken

    def find_stored(self, encounter_id: str, line_id: str) -> StoredFeeLine | None:
        row = self._session.execute(
            select(_fee_line).where(
                _fee_line.c.encounter_id == encounter_id, _fee_line.c.line_id == line_id
            )
        ).one_or_none()
        return _stored(row) if row else None

    def reversals_of(self, encounter_id: str, line_id: str) -> builtins.list[StoredFeeLine]:
        rows = self._session.execute(
            select(_fee_line)
            .where(
                _fee_line.c.encounter_id == encounter_id,
                _fee_line.c.reverses == line_id,
                _fee_line.c.quantity < 0,
            )
            .order_by(_fee_line.c.id)
        )
        return [_stored(row) for row in rows]

    def list_priced(
        self, encounter_id: str, line_ids: Collection[str] | None = None
    ) -> builtins.list[StoredFeeLine]:
        """Every line of the encounter (or those of ``line_ids``, by index) with its stored
        price (None if it has none), in arrival order. Read as plain Core rows unpacked by
        position, and the stay's few rules and catalogue items are built once each, so a
        10,000-line stay costs its rows, not an object graph per line. A price's line is the
        line as stored (the HIS item code)."""
        rows = PricedRows()
        bound = {"b_encounter": encounter_id}
        if line_ids is None:
            return [rows.stored(row) for row in self._session.execute(PRICED_LINES, bound)]
        found = chain.from_iterable(
            self._session.execute(PRICED_LINES.where(_fee_line.c.line_id.in_(chunk)), bound)
            for chunk in _chunks(line_ids)
        )
        return [rows.stored(row) for row in sorted(found, key=lambda row: row[-1])]

    def stale(self, encounter_id: str, region: str, kinds: Collection[str]) -> set[str]:
        """Line ids whose stored price may be out of date: never priced, or a catalogue item
        of the code they were priced by was loaded at or after they were priced.

        Asked first per code the stay was priced by (its oldest price against the code's
        items), so a stay with nothing stale (the usual case) costs one grouped read of its
        lines, not a catalogue lookup per line."""
        item = _catalogue_item.c
        line = _fee_line.c
        kinds = sorted(kinds)
        codes = (
            select(
                line.price_code.label("code"),
                func.min(line.priced_as_of).label("oldest"),
                (func.count() - func.count(line.priced_as_of)).label("unpriced"),
            )
            .where(line.encounter_id == encounter_id)
            .group_by(line.price_code)
            .subquery()
        )
        newer_than_oldest = exists().where(
            item.region == region,
            item.kind.in_(kinds),
            item.code == codes.c.code,
            item.loaded_at >= codes.c.oldest,
        )
        if (
            self._session.execute(
                select(codes.c.code).where(or_(codes.c.unpriced > 0, newer_than_oldest)).limit(1)
            ).first()
            is None
        ):
            return set()
        newer = exists().where(
            item.region == region,
            item.kind.in_(kinds),
            item.code == line.price_code,
            item.loaded_at >= line.priced_as_of,
        )
        query = select(line.line_id).where(
            line.encounter_id == encounter_id,
            or_(line.priced_as_of.is_(None), and_(line.price_code != "", newer)),
        )
        return set(self._session.execute(query).scalars())

    def set_prices(self, encounter_id: str, prices: dict[str, LinePrice]) -> None:
        """Store new prices for lines of the encounter (re-priced after a mapping or a
        catalogue load)."""
        if not prices:
            return
        now = self._clock.now()
        rows = [
            {**self._price_columns(price, now), "b_encounter": encounter_id, "b_line": line_id}
            for line_id, price in prices.items()
        ]
        self._session.execute(_SET_PRICE, rows)

    def list(self, encounter_id: str) -> list[FeeLine]:
        """The encounter's lines in arrival order."""
        return [stored.line for stored in self.list_stored(encounter_id)]

    def list_stored(
        self, encounter_id: str, *, status: MappingStatus | None = None
    ) -> builtins.list[StoredFeeLine]:
        if status is None:
            rows = self._session.execute(_LINES, {"b_encounter": encounter_id})
        else:
            rows = self._session.execute(
                _LINES_WITH_STATUS, {"b_encounter": encounter_id, "b_status": status.value}
            )
        return [_stored(row) for row in rows]

    def codes_used(self, since: datetime, categories: Collection[str]) -> builtins.list[UsedCode]:
        """The codes of charged lines (quantity > 0) of ``categories`` occurring since
        ``since``, lines confirmed as out of catalogue (mapped to no code) left out."""
        code = func.coalesce(func.nullif(_fee_line.c.catalogue_code, ""), _fee_line.c.item_code)
        query = (
            select(
                code.label("code"),
                _fee_line.c.item_code,
                _fee_line.c.category,
                _fee_line.c.mapping_status,
                func.max(_fee_line.c.item_name).label("name"),
                func.count().label("lines"),
                func.count(func.distinct(_fee_line.c.encounter_id)).label("encounters"),
                func.max(_fee_line.c.occurred_at).label("last_used"),
            )
            .where(
                _fee_line.c.occurred_at >= since,
                _fee_line.c.category.in_(builtins.list(categories)),
                _fee_line.c.quantity > 0,
                ~((_fee_line.c.mapping_status == "mapped") & (_fee_line.c.catalogue_code == "")),
            )
            .group_by(code, _fee_line.c.item_code, _fee_line.c.category, _fee_line.c.mapping_status)
        )
        return [
            UsedCode(
                code=row.code,
                item_code=row.item_code,
                category=row.category,
                mapping_status=row.mapping_status,
                name=row.name,
                lines=int(row.lines),
                encounters=int(row.encounters),
                last_used=row.last_used,
            )
            for row in self._session.execute(query)
        ]

    def set_mapping(self, encounter_id: str, line_id: str, catalogue_code: str) -> None:
        """Map a flagged line to a catalogue code (IT fixed the HIS item mapping)."""
        result = self._session.execute(
            update(_fee_line)
            .where(_fee_line.c.encounter_id == encounter_id, _fee_line.c.line_id == line_id)
            .values(mapping_status=MappingStatus.MAPPED.value, catalogue_code=catalogue_code)
        )
        # why: an UPDATE's Result is a CursorResult at run time, which has rowcount
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"费用明细{line_id}不存在", code="FEE_LINE_NOT_FOUND")


def _stored(row: Any) -> StoredFeeLine:
    return StoredFeeLine(fee_line_of(row), MappingStatus(row.mapping_status), row.catalogue_code)


@functools.cache
def _existing_ids(size: int) -> Any:
    return select(_fee_line.c.line_id).where(
        _fee_line.c.encounter_id == bindparam("b_encounter"),
        _fee_line.c.line_id.in_(in_keys("k", size)),
    )


def _chunks(keys: Iterable[str]) -> Iterable[builtins.list[str]]:
    ordered: Sequence[str] = sorted(set(keys))
    for start in range(0, len(ordered), CHUNK):
        yield builtins.list(ordered[start : start + CHUNK])


_SET_PRICE = (
    update(_fee_line)
    .where(
        _fee_line.c.encounter_id == bindparam("b_encounter"),
        _fee_line.c.line_id == bindparam("b_line"),
    )
    .values({name: bindparam(name) for name in PRICE_COLUMNS})
)
