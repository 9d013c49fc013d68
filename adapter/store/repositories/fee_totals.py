"""A stay's stored prices summed by the database: what settling a long stay reads; and a
page of its lines, read from where it starts.

Settling a stay needs its totals, not its lines as objects: the lines keep their prices from
when they were recorded (:mod:`adapter.services.billing`), so the bill is their sums per
category and reason, read in one grouped query whatever the stay's length, plus the few
excluded lines the slip lists apart. The settlement's snapshot is then copied from the same
rows inside the database (:meth:`SettlementRepository.add`).

A page (``GET /api/v1/encounters/{id}/fees``) is found in the stay's arrival-order index
``(encounter_id, id)``: its first row's id is the ``offset``-th entry of that index (skipped
in the index alone, no line read), its lines the ``limit`` entries from there.

Amounts are summed in fen, as exact integers (:func:`adapter.store.sql.in_fen`): SQLite keeps
``NUMERIC`` as a double, and a sum of doubles is not a sum of decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, bindparam, case, cast, func, select
from sqlalchemy.orm import Session

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.pricing import IN_CATALOGUE, OVER_STANDARD, PersonalReason
from adapter.domain.settlement import LineGroup, SettlementStatus
from adapter.domain.stay_days import PER_DAY_UNITS, DayItem
from adapter.store.mapping import FEE_LINE_FIELDS, fee_line_of
from adapter.store.repositories.fee_line_rows import PRICED_LINES, PricedRows, StoredFeeLine
from adapter.store.sql import in_fen, of_fen, table
from adapter.store.tables import FeeLineRow, SettlementLineRow, SettlementRow

_fee_line = table(FeeLineRow)
_settlement = table(SettlementRow)
_snapshot_line = table(SettlementLineRow)

# the id of the stay's line at position b_offset (0-based, arrival order), NULL past the last
_PAGE_START = (
    select(_fee_line.c.id)
    .where(_fee_line.c.encounter_id == bindparam("b_encounter"))
    .order_by(_fee_line.c.id)
    .offset(bindparam("b_offset"))
    .limit(1)
    .scalar_subquery()
)
_PAGE = PRICED_LINES.where(_fee_line.c.id >= _PAGE_START).limit(bindparam("b_limit"))


def priced_code(line: Any) -> ColumnElement[str]:
    """The code pricing saw (billing's ``effective_line``): the catalogue code a mapped line
    maps to, else the HIS item code. A settlement keeps it as the line's item."""
    return case(
        (and_(line.mapping_status == "mapped", line.catalogue_code != ""), line.catalogue_code),
        else_=line.item_code,
    )


@dataclass(frozen=True)
class StaySums:
    groups: list[LineGroup]  # the priced lines' sums per category and reason
    excluded: int  # how many lines are excluded (meal subsidy, transport)
    excluded_total: Decimal  # their amounts summed
    latest: datetime | None  # the latest fee time of any line


class FeeTotalsRepository:
    def __init__(self, session: Session):
        self._session = session

    def sums(self, encounter_id: str) -> StaySums:
        """The stay's lines summed in one grouped read: the priced ones per category and
        reason, in the order each first appears; how many are excluded; the latest fee time.
        Every priced line must have its price stored: a line without one would be left out
        of the sums, so it raises instead."""
        line = _fee_line.c
        dialect = self._session.get_bind().dialect.name
        query = (
            select(
                line.excluded,
                line.category,
                line.reason,
                func.count(),
                func.count(line.fund_pay),
                func.sum(in_fen(line.amount, dialect)),
                func.sum(in_fen(line.fund_pay, dialect)),
                func.sum(in_fen(line.personal_pay, dialect)),
                func.max(line.occurred_at),
            )
            .where(line.encounter_id == encounter_id)
            .group_by(line.excluded, line.category, line.reason)
            .order_by(func.min(line.id))
        )
        groups = []
        excluded = 0
        excluded_total = Decimal("0.00")
        latest: datetime | None = None
        for row in self._session.execute(query):
            out, category, reason, count, priced, total, fund, personal, last = row
            latest = last if latest is None or last > latest else latest
            if out:
                excluded += count
                excluded_total += of_fen(total)
                continue
            if priced != count:
                raise RuntimeError(f"encounter {encounter_id}: {count - priced} lines unpriced")
            groups.append(
                LineGroup(
                    FeeCategory(category),
                    PersonalReason(reason) if reason else None,
                    int(count),
                    of_fen(total),
                    of_fen(fund),
                    of_fen(personal),
                )
            )
        return StaySums(groups, excluded, excluded_total, latest)

    def page(self, encounter_id: str, *, offset: int, limit: int) -> list[StoredFeeLine]:
        """The stay's lines at positions ``offset`` … ``offset + limit - 1`` in arrival order,
        each with its stored price (as :meth:`FeeLineRepository.list_priced` reads them);
        none past the last. One statement, which reads these lines and no other."""
        rows = PricedRows()
        bound = {"b_encounter": encounter_id, "b_offset": offset, "b_limit": limit}
        return [rows.stored(row) for row in self._session.execute(_PAGE, bound)]

    def excluded(self, encounter_id: str) -> list[FeeLine]:
        """The stay's excluded lines (meal subsidy, transport), as priced: with the code
        pricing saw, in arrival order."""
        line = _fee_line.c
        columns = [
            priced_code(line).label(name) if name == "item_code" else line[name]
            for name in FEE_LINE_FIELDS
        ]
        query = (
            select(*columns)
            .where(line.encounter_id == encounter_id, line.excluded)
            .order_by(line.id)
        )
        return [fee_line_of(row) for row in self._session.execute(query)]

    def latest(self, encounter_id: str) -> FeeLine | None:
        """The stay's line that occurred last (the first to arrive among equals)."""
        line = _fee_line.c
        row = self._session.execute(
            select(*(line[name] for name in FEE_LINE_FIELDS))
            .where(line.encounter_id == encounter_id)
            .order_by(line.occurred_at.desc(), line.id)
            .limit(1)
        ).first()
        return fee_line_of(row) if row is not None else None

    def day_items(self, encounter_id: str) -> list[DayItem]:
        """The per-day service standards the fund is asked to pay for, each with its days
        summed net of reversals (in ten-thousandths, exact as the stored quantity)."""
        line = _fee_line.c
        query = (
            select(line.cat_code, func.max(line.cat_name), self._scaled_sum(line.quantity))
            .where(line.encounter_id == encounter_id, *_fund_paid_days(line))
            .group_by(line.cat_code)
            .order_by(func.min(line.id))
        )
        return [
            DayItem(code, name, Decimal(int(total)).scaleb(-4))
            for code, name, total in self._session.execute(query)
        ]

    def day_item_lines(self, encounter_id: str, code: str, *, limit: int = 20) -> list[str]:
        """The HIS line ids of the charges (not reversals) of per-day standard ``code``."""
        line = _fee_line.c
        query = (
            select(line.line_id)
            .where(
                line.encounter_id == encounter_id,
                *_fund_paid_days(line),
                line.cat_code == code,
                line.quantity > 0,
            )
            .order_by(line.id)
            .limit(limit)
        )
        return list(self._session.scalars(query))

    def paid_days(
        self, settled: Sequence[str], claimed: Sequence[str], codes: Sequence[str]
    ) -> dict[str, dict[str, Decimal]]:
        """The days of per-day standards ``codes`` already paid in other stays, per stay and
        code, net of reversals: a ``settled`` stay's as its active settlement's snapshot
        holds them (what the fund paid), a ``claimed`` stay's (a manual claim) as its fee
        lines in the store do (what its fee list hands the insured place). Each read keyed
        by the stays (the snapshot's (settlement_id, position), the lines' encounter_id)."""
        paid: dict[str, dict[str, Decimal]] = {}
        queries = []
        if settled:
            snap, settlement = _snapshot_line.c, _settlement.c
            queries.append(
                select(settlement.encounter_id, snap.cat_code, self._scaled_sum(snap.quantity))
                .join_from(_settlement, _snapshot_line, snap.settlement_id == settlement.id)
                .where(
                    settlement.encounter_id.in_(settled),
                    settlement.status == SettlementStatus.SETTLED.value,
                    snap.cat_code.in_(codes),
                    *_fund_paid_days(snap),
                )
                .group_by(settlement.encounter_id, snap.cat_code)
            )
        if claimed:
            line = _fee_line.c
            queries.append(
                select(line.encounter_id, line.cat_code, self._scaled_sum(line.quantity))
                .where(
                    line.encounter_id.in_(claimed), line.cat_code.in_(codes), *_fund_paid_days(line)
                )
                .group_by(line.encounter_id, line.cat_code)
            )
        for query in queries:
            for encounter_id, code, total in self._session.execute(query):
                paid.setdefault(encounter_id, {})[code] = Decimal(int(total)).scaleb(-4)
        return paid

    def _scaled(self, quantity: Any) -> ColumnElement[int]:
        """A quantity in ten-thousandths of a day, exact: SQLite keeps NUMERIC as a double."""
        scaled = quantity * 10000
        if self._session.get_bind().dialect.name == "sqlite":
            return cast(func.round(scaled), Integer)
        return cast(scaled, BigInteger)

    def _scaled_sum(self, quantity: Any) -> ColumnElement[int]:
        """Quantities summed in ten-thousandths of a day, exact (see :meth:`_scaled`)."""
        return func.sum(self._scaled(quantity))


def _fund_paid_days(line: Any) -> tuple[ColumnElement[bool], ...]:
    """Lines (a stay's or a snapshot's) of a per-day service standard the fund pays (all or
    to the standard)."""
    return (
        line.cat_kind == CatalogueKind.SERVICE_STANDARD.value,
        line.cat_unit.in_(PER_DAY_UNITS),
        line.rule_code.in_((IN_CATALOGUE.code, OVER_STANDARD.code)),
    )
