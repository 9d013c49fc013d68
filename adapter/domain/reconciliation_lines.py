"""A reconciliation run's lines (:mod:`adapter.domain.reconciliation`): the month's local
settlements as the run compared them, their amounts, and the lines as the answer lists them.

A month may hold 50,000 settlements: a line is a tuple, and :class:`Lines` may keep the rows
the lines were read as, making each settlement only when it is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from functools import partial
from typing import Any, NamedTuple, overload


@dataclass(frozen=True)
class Amounts:
    total: Decimal
    fund_pay: Decimal
    personal_pay: Decimal

    def minus(self, other: Amounts) -> Amounts:
        return Amounts(
            self.total - other.total,
            self.fund_pay - other.fund_pay,
            self.personal_pay - other.personal_pay,
        )

    @property
    def is_zero(self) -> bool:
        return self.total == 0 and self.fund_pay == 0 and self.personal_pay == 0

    @property
    def said(self) -> str:
        """The three amounts as a clerk reads them on a difference."""
        return f"总费用{self.total}元、基金支付{self.fund_pay}元、个人支付{self.personal_pay}元"

    def deltas_from(self, local: Amounts) -> str:
        """Each of the three amounts that differs from ``local``, by how much: a fund part off
        at the same total is what the fund would over- or underpay, never "差额0.00元"."""
        delta = self.minus(local)
        named = (
            ("总费用", delta.total),
            ("基金支付", delta.fund_pay),
            ("个人支付", delta.personal_pay),
        )
        return "、".join(f"{label}差额{amount}元" for label, amount in named if amount)


# ``in_fen(amount)``: ``amount`` × 100, exactly (never rounded: a part of a fen must not
# become equal by it), so equal to an ``int`` of fen iff ``amount`` is that many fen;
# ``in_fen(Decimal("12.30")) == 1230``. A C-level call: it runs 150,000 times a month.
in_fen: Callable[[Decimal], Decimal] = partial(
    Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN).multiply, Decimal(100)
)


def yuan_of(fen: int) -> Decimal:
    """``fen`` as yuan to the fen: ``yuan_of(1230)`` is ``Decimal("12.30")``, exactly."""
    return Decimal(fen).scaleb(-2)


class LocalSettlement(NamedTuple):
    """One local settlement as reconciliation sees it (a tuple: a month holds tens of
    thousands, made one by one as they are read, and kept as the run's lines).

    ``upload_delivered`` is what the upload queue knows of the upload that carried it:
    ``True`` acknowledged upstream, ``False`` still queued or failed, ``None`` no upload found.
    """

    setl_id: str
    psn_no: str
    kind: str  # medical, rehab, device
    settles_on: date  # the local day of the settlement time: what upstream calls setl_date
    amounts: Amounts
    revoked: bool = False
    slip_no: str = ""
    crosses_year: bool = False
    upload_msgid: str = ""
    upload_delivered: bool | None = None


def line_of(s: LocalSettlement) -> dict[str, Any]:
    """A settlement as a run's line reads (the REST answer lists them; the values are text,
    the amounts to the fen)."""
    return {
        "setl_id": s.setl_id,
        "slip_no": s.slip_no,
        "psn_no": s.psn_no,
        "kind": s.kind,
        "settles_on": s.settles_on.isoformat(),
        "total": str(s.amounts.total),
        "fund_pay": str(s.amounts.fund_pay),
        "personal_pay": str(s.amounts.personal_pay),
        "status": "revoked" if s.revoked else "settled",
        "crosses_year": s.crosses_year,
        "upload_msgid": s.upload_msgid,
        "upload_delivered": s.upload_delivered,
    }


def _same(settlement: LocalSettlement) -> LocalSettlement:
    return settlement


class Lines(Sequence[dict[str, Any]]):
    """A run's lines: the settlements compared, each read as :func:`line_of` when asked for
    (a month's 50,000 are not kept as 50,000 dicts). :meth:`read` keeps the rows the lines
    were read as and makes each settlement from its row only when asked for: the comparison
    of a month needs the objects of its few differences, not of every line."""

    __slots__ = ("_make", "_rows")

    def __init__(self, settlements: Sequence[LocalSettlement] = ()):
        self._rows: Sequence[Any] = tuple(settlements)
        self._make: Callable[[Any], LocalSettlement] = _same

    @classmethod
    def read(cls, rows: Sequence[Any], make: Callable[[Any], LocalSettlement]) -> Lines:
        """The lines of ``rows`` (kept as they are), ``make(row)`` each one's settlement."""
        lines = cls()
        lines._rows, lines._make = rows, make
        return lines

    @property
    def settlements(self) -> tuple[LocalSettlement, ...]:
        return tuple(map(self._make, self._rows))

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if isinstance(index, slice):
            return Lines.read(self._rows[index], self._make)
        return line_of(self._make(self._rows[index]))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(line_of, map(self._make, self._rows))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Lines):
            return self.settlements == other.settlements
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.settlements)

    def __repr__(self) -> str:
        return f"Lines({len(self._rows)} settlements)"
