"""Fee-line rows as the database holds them: the price columns, and a batch's rows bound by
position for one dialect's driver (split from the fee-line repository, which runs them)."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from sqlalchemy import Boolean, Dialect, bindparam, select

from adapter.domain.catalogue import CatalogueItem, CatalogueKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.pricing import PersonalReason, PricedLine
from adapter.domain.rules import Rule
from adapter.store.mapping import FEE_LINE_FIELDS
from adapter.store.sql import table
from adapter.store.tables import FeeLineRow
from adapter.store.types import Exact, UTCDateTime

_fee_line = table(FeeLineRow)


class MappingStatus(StrEnum):
    MAPPED = "mapped"  # the HIS item has a catalogue code
    UNMAPPED = "unmapped"  # unknown item: kept, flagged for IT to map before settlement


@dataclass(frozen=True)
class StoredFeeLine:
    line: FeeLine
    mapping_status: MappingStatus = MappingStatus.MAPPED
    catalogue_code: str = ""  # '' when unmapped
    # Its price, when the caller priced it (to store with it); what a line is does not
    # depend on it, so it takes no part in equality.
    price: LinePrice | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LinePrice:
    """A line's price as stored with it: ``priced`` is None for an excluded line (meal
    subsidy, transport: listed apart, N§3); ``code`` is the catalogue code pricing looked up
    (a reversal's: its original's), whose later loads re-price the line."""

    priced: PricedLine | None
    code: str

    @property
    def excluded(self) -> bool:
        return self.priced is None


CHUNK = 500  # keys per IN list: well inside every driver's parameter limit
# A price is taken as of a moment this long before it was computed: a catalogue load still
# committing while the line was priced (PostgreSQL runs them concurrently) is then newer
# than the price and re-prices the line when it is next read. Costs a re-pricing, never a
# stale price.
PRICE_MARGIN = timedelta(minutes=10)

PRICE_COLUMNS = (
    "priced_as_of",
    "price_code",
    "excluded",
    "fund_pay",
    "personal_pay",
    "reason",
    "rule_code",
    "rule_article",
    "rule_template",
    "message",
    "in_catalogue",
    "cat_kind",
    "cat_code",
    "cat_name",
    "cat_region",
    "cat_unit",
    "cat_price_cap",
    "cat_limit",
    "cat_version",
    "cat_valid_from",
    "cat_valid_to",
)
# A line stored without a price: priced when next read.
UNPRICED: dict[str, Any] = {
    "priced_as_of": None,
    "price_code": "",
    "excluded": False,
    "fund_pay": None,
    "personal_pay": None,
    "reason": "",
    "rule_code": "",
    "rule_article": "",
    "rule_template": "",
    "message": "",
    "in_catalogue": False,
    "cat_kind": "",
    "cat_code": "",
    "cat_name": "",
    "cat_region": "",
    "cat_unit": "",
    "cat_price_cap": None,
    "cat_limit": None,
    "cat_version": "",
    "cat_valid_from": None,
    "cat_valid_to": None,
}
# the catalogue item a line was priced against: the price columns from in_catalogue on
ITEM_COLUMNS = PRICE_COLUMNS[PRICE_COLUMNS.index("in_catalogue") :]
# a price as a row holds it, in this order: the split, the reason, the rule, then the item
PRICED_COLUMNS = PRICE_COLUMNS[PRICE_COLUMNS.index("fund_pay") :]

_CATEGORY = {c.value: c for c in FeeCategory}
_STATUS = {m.value: m for m in MappingStatus}
_REASON = {r.value: r for r in PersonalReason}
_KIND = {k.value: k for k in CatalogueKind}

# A line with its mapping and stored price, read by position (PricedRows.stored); the row id
# last, to put lines read in chunks back in arrival order.
PRICED_LINES = (
    select(
        *(
            _fee_line.c[name]
            for name in (*FEE_LINE_FIELDS, "mapping_status", "catalogue_code", *PRICE_COLUMNS, "id")
        )
    )
    .where(_fee_line.c.encounter_id == bindparam("b_encounter"))
    .order_by(_fee_line.c.id)
)


class PricedRows:
    """Fee lines and their prices built from positional rows (a fee line's or a snapshot's):
    plain Core tuples, and each of a stay's few rules and catalogue items built once, so
    10,000 lines cost their rows, not an object graph per line."""

    def __init__(self) -> None:
        self._rules: dict[tuple[str, str, str], Rule] = {}
        self._items: dict[tuple[Any, ...], CatalogueItem | None] = {}

    def stored(self, row: Sequence[Any]) -> StoredFeeLine:
        """The line and its stored price (None if it has none) from a :data:`PRICED_LINES`
        row."""
        line = self.line(row)  # FeeLine's fields first, in its order (FEE_LINE_FIELDS)
        status, mapped_to, as_of, price_code, excluded = row[12:17]
        price = None
        if as_of is not None:
            priced = None if excluded else self.priced(line, row[17:-1])
            price = LinePrice(priced, price_code)
        return StoredFeeLine(line, _STATUS[status], mapped_to, price)

    @staticmethod
    def line(f: Sequence[Any]) -> FeeLine:
        """The line from its :data:`FEE_LINE_FIELDS`, in that order."""
        return FeeLine(f[0], f[1], f[2], _CATEGORY[f[3]], f[4], f[5], f[6], f[7], f[8], f[9],
                       f[10], f[11])  # fmt: skip

    def priced(self, line: FeeLine, p: Sequence[Any], limit: Decimal | None = None) -> PricedLine:
        """``line`` priced by its :data:`PRICED_COLUMNS`, in that order; ``limit``: the
        device limit it was priced against (a settlement snapshot keeps it)."""
        fund, personal, reason, rule_code, article, template, message = p[:7]
        key = (rule_code, article, template)
        rule = self._rules.get(key) or self._rules.setdefault(key, Rule(*key))
        item_key = tuple(p[7:])
        if item_key not in self._items:
            self._items[item_key] = _catalogue_item_of(item_key)
        reason_ = _REASON[reason] if reason else None
        item = self._items[item_key]
        return PricedLine(line, item, fund, personal, rule, reason_, message, limit)


def _catalogue_item_of(values: tuple[Any, ...]) -> CatalogueItem | None:
    in_catalogue, kind, code, name, region, unit, cap, limit, version, start, end = values
    if not in_catalogue:
        return None
    return CatalogueItem(_KIND[kind], code, name, region, unit, cap, limit, version, start, end)


# -- fee lines inserted by position -----------------------------------------------------------
# A batch's insert goes to the driver as positional parameters of one prebuilt
# ``INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING RETURNING line_id`` per chunk: SQLAlchemy's
# per-row parameter dictionaries and per-value type processing cost more than the insert
# itself on a 200-line batch. Every value is bound as its column type binds it (exact decimals
# checked to their scale, aware times to UTC; a test compares each row with the types' own
# bind processors on both dialects), and what is the same for the whole batch (encounter,
# receipt time, an unpriced line's columns) or for every line priced against one catalogue
# item is converted once.
_INSERT_COLUMNS = (
    *FEE_LINE_FIELDS,
    "encounter_id",
    "mapping_status",
    "catalogue_code",
    "received_at",
    *PRICE_COLUMNS,
)
_LINE_FIELDS = attrgetter(*FEE_LINE_FIELDS)
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}
Processor = Callable[[Any], Any]


def _fast(column_type: Any, generic: Processor | None, dialect: Dialect) -> Processor | None:
    """``generic`` (the column type's bind processor) for the usual values, without the
    layers it goes through; anything unusual (and every error) is left to ``generic``."""
    if generic is None:
        return None
    sqlite = dialect.name == "sqlite"
    if isinstance(column_type, Exact):
        quantum = Decimal(1).scaleb(-column_type.scale)

        def exact(value: Any) -> Any:
            if type(value) is not Decimal or value != value.quantize(quantum):
                return generic(value)  # None, an int, or the type's refusal
            return float(value) if sqlite else value  # SQLite's NUMERIC binds a float

        return exact
    if isinstance(column_type, Boolean):
        bound = {True: generic(True), False: generic(False)}

        def flag(value: Any) -> Any:
            return bound[value] if type(value) is bool else generic(value)

        return flag
    if isinstance(column_type, UTCDateTime):

        def utc(value: Any) -> Any:
            if type(value) is not datetime or value.utcoffset() is None:
                return generic(value)  # None, or a naive time refused
            moment = value.astimezone(UTC)
            # SQLite's DATETIME text, as SQLAlchemy writes it (naive UTC)
            return moment.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else moment

        return utc
    return generic


class _Binder:
    """Fee-line rows as one dialect's driver takes them."""

    def __init__(self, dialect: Dialect) -> None:
        self._placeholder = _PLACEHOLDER[dialect.paramstyle]
        self.processors: dict[str, Processor | None] = {
            name: _fast(
                _fee_line.c[name].type,
                _fee_line.c[name].type.dialect_impl(dialect).bind_processor(dialect),
                dialect,
            )
            for name in _INSERT_COLUMNS
        }
        processors = self.processors
        self._line_processors = tuple(
            (index, processor)
            for index, name in enumerate(FEE_LINE_FIELDS)
            if (processor := processors[name]) is not None
        )
        self._category = FEE_LINE_FIELDS.index("category")
        self._unpriced = self._bound(PRICE_COLUMNS, tuple(UNPRICED[n] for n in PRICE_COLUMNS))
        self._no_item = self._unpriced[PRICE_COLUMNS.index("in_catalogue") :]
        self._excluded_tail = self._unpriced[PRICE_COLUMNS.index("fund_pay") :]
        self._money = processors["fund_pay"] or _same
        self._true, self._false = self._bound(("excluded", "excluded"), (True, False))
        limit = 65535  # PostgreSQL's bind parameters per statement
        if dialect.name == "sqlite":
            version = getattr(dialect.dbapi, "sqlite_version_info", (3, 0, 0))
            limit = 32766 if version >= (3, 32, 0) else 999
        self.rows_per_statement = max(1, min(CHUNK, limit // len(_INSERT_COLUMNS)))

    def _bound(self, names: Sequence[str], values: Sequence[Any]) -> tuple[Any, ...]:
        processors = self.processors
        return tuple(
            value if (processor := processors[name]) is None else processor(value)
            for name, value in zip(names, values, strict=True)
        )

    def rows(
        self, entries: Sequence[StoredFeeLine], encounter_id: str, now: datetime
    ) -> builtins.list[tuple[Any, ...]]:
        """Each entry's values in :data:`_INSERT_COLUMNS` order, bound."""
        received_at, priced_as_of = self._bound(
            ("received_at", "priced_as_of"), (now, now - PRICE_MARGIN)
        )
        items: dict[int, tuple[CatalogueItem, tuple[Any, ...]]] = {}
        money = self._money
        category = self._category
        line_processors = self._line_processors
        rows = []
        for stored in entries:
            line = builtins.list(_LINE_FIELDS(stored.line))
            line[category] = stored.line.category.value
            for index, processor in line_processors:
                line[index] = processor(line[index])
            head = (encounter_id, stored.mapping_status.value, stored.catalogue_code, received_at)
            price = stored.price
            priced = price.priced if price is not None else None
            if price is None:
                tail = self._unpriced
            elif priced is None:
                tail = (priced_as_of, price.code, self._true, *self._excluded_tail)
            else:
                rule = priced.rule
                tail = (
                    priced_as_of,
                    price.code,
                    self._false,
                    money(priced.fund_pay),
                    money(priced.personal_pay),
                    priced.reason.value if priced.reason else "",
                    rule.code,
                    rule.article,
                    rule.message,
                    priced.message,
                    *self._item(priced.item, items),
                )
            rows.append((*line, *head, *tail))
        return rows

    def _item(
        self,
        item: CatalogueItem | None,
        bound: dict[int, tuple[CatalogueItem, tuple[Any, ...]]],
    ) -> tuple[Any, ...]:
        """An item's columns, converted once per item in the batch (~80 for 200 lines)."""
        if item is None:
            return self._no_item
        known = bound.get(id(item))  # the batch's entries hold the item: its id stays its own
        if known is not None:
            return known[1]
        values = self._bound(
            ITEM_COLUMNS,
            (
                True,
                item.kind.value,
                item.code,
                item.name,
                item.region,
                item.unit,
                item.price_cap,
                item.limit,
                item.version,
                item.valid_from,
                item.valid_to,
            ),
        )
        bound[id(item)] = (item, values)
        return values

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one binder per dialect, kept for good
    def insert_sql(self, rows: int) -> str:
        one = "(" + ", ".join([self._placeholder] * len(_INSERT_COLUMNS)) + ")"
        return (
            f"INSERT INTO {_fee_line.name} ({', '.join(_INSERT_COLUMNS)}) "
            f"VALUES {', '.join([one] * rows)} "
            "ON CONFLICT (encounter_id, line_id) DO NOTHING RETURNING line_id"
        )


def _same(value: Any) -> Any:
    return value


_BINDERS: dict[tuple[str, str], _Binder] = {}


def binder_for(dialect: Dialect) -> _Binder:
    key = (dialect.name, dialect.driver)
    binder = _BINDERS.get(key)
    if binder is None:
        binder = _BINDERS.setdefault(key, _Binder(dialect))
    return binder
