"""Reading one field of the reference dialect's ``output``, as a real upstream sends it.

Documented (interfaces.md §3): dates ``YYYY-MM-DD``, money as strings, status words in
lower case. Real provinces send variations that mean the same thing, and those are read:
a date as ``20261201`` (text or number) or with a time of day, a status word in another case,
an object as a list of one, a list of one as its object, a yes/no as ``"0"``/``"1"``/``"否"``.
Money is read exactly — a string or a JSON number (the reply is parsed with
``parse_float=Decimal``, so its own digits) of plain decimal digits — or not at all: a thousands
separator, an exponent, a currency sign or a float of the caller's own is refused, never
guessed at. Anything else raises :class:`BadField` naming the field by its path
(``settlements[2].total``), which the client turns into ``UpstreamMalformed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from adapter.domain.money import is_fen

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")

MONEY = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")  # ".5": how Oracle writes 0.5
YES = frozenset({"1", "true", "y", "yes", "是"})
NO = frozenset({"0", "false", "n", "no", "否"})
OPEN_ENDED = date.max  # a filing valid until it is changed or cancelled (N§11, N§15)


class BadField(ValueError):
    """A field missing or not readable; ``field`` is its path in ``output``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@contextmanager
def inside(prefix: str) -> Iterator[None]:
    """Name a nested field by its whole path (``settlements[2]`` + ``total``)."""
    try:
        yield
    except BadField as exc:
        raise BadField(f"{prefix}.{exc.field}", exc.problem) from exc


def each(
    data: dict[str, Any], key: str, read: Callable[[dict[str, Any]], T], *, required: bool = False
) -> list[T]:
    """``read`` over the list ``key``, each item named by index. Absent or null: none, unless
    ``required`` — the list a reply is for (a worker's filings, a month's deductions), where
    "none" read from a reply that lacks it would be a guess (``[]`` is an answer)."""
    if required and data.get(key) in (None, ""):
        raise BadField(key, "missing")
    items = []
    for index, item in enumerate(as_list(data, key)):
        if not isinstance(item, dict):
            raise BadField(f"{key}[{index}]", f"not an object: {type(item).__name__}")
        with inside(f"{key}[{index}]"):
            items.append(read(item))
    return items


def as_list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value in (None, ""):
        return []
    if isinstance(value, dict):  # an object where a list of one is documented
        return [value]
    if not isinstance(value, list):
        raise BadField(key, f"not a list: {type(value).__name__}")
    return value


def obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if isinstance(value, list) and len(value) == 1:  # a list of one where an object is
        value = value[0]
    if value is None:
        raise BadField(key, "missing")
    if not isinstance(value, dict):
        raise BadField(key, f"not an object: {type(value).__name__}")
    return value


def text(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None:
        if default is not None:
            return default
        raise BadField(key, "missing")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadField(key, f"not text: {value!r}"[:120])
    return str(value)


def enum(data: dict[str, Any], key: str, kind: type[E], default: str | None = None) -> E:
    value = text(data, key, default).strip().lower() or (default or "")
    try:
        return kind(value)
    except ValueError:
        raise BadField(key, f"not one of {', '.join(kind)}: {data.get(key)!r}"[:200]) from None


def integer(data: dict[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key)
    if value in (None, "") and default is not None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise BadField(key, f"not a whole number: {value!r}"[:120])


def day(data: dict[str, Any], key: str) -> date:
    value = data.get(key)
    if value in (None, ""):
        raise BadField(key, "missing")
    read = _day(value)
    if read is None:
        raise BadField(key, f"not a date: {value!r}"[:120])
    return read


def opt_day(data: dict[str, Any], key: str) -> date | None:
    return None if data.get(key) in (None, "") else day(data, key)


def _day(value: Any) -> date | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    value = str(value).strip().replace("/", "-")
    try:
        if len(value) > 10:  # with a time of day: "2026-12-01 00:00:00", "…T08:00:00"
            return datetime.fromisoformat(value).date()
        return date.fromisoformat(value)  # "2026-12-01", "20261201"
    except ValueError:
        return None


def moment(data: dict[str, Any], key: str) -> datetime | None:
    """A date and time (``2026-12-06T23:59:59+08:00``); absent or empty: None."""
    value = data.get(key)
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise BadField(key, f"not a date and time: {value!r}"[:120]) from None


def yes_no(data: dict[str, Any], key: str) -> bool:
    """Absent or empty: no. ``"0"`` is a no, not a non-empty string."""
    value = data.get(key)
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, str | int) else None
    if word in YES:
        return True
    if word in NO:
        return False
    raise BadField(key, f"not a yes or no: {value!r}"[:120])


def money(data: dict[str, Any], key: str) -> Decimal:
    """An amount in yuan, exactly as sent: a string or JSON number of plain decimal digits."""
    value = data.get(key)
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, str) and MONEY.fullmatch(value.strip()):
        amount = Decimal(value.strip())
    else:  # None, a float of our own, "1,234.50", "1e3", "￥12"…: not read exactly
        raise BadField(key, f"not a money amount: {value!r}"[:120])
    if not amount.is_finite() or MONEY.fullmatch(f"{amount:f}") is None:
        raise BadField(key, f"not a money amount: {value!r}"[:120])
    return amount


def fen(data: dict[str, Any], key: str) -> Decimal:
    """Money to the fen: a finer amount is nobody's payment, so it is refused, not rounded
    (``"10.100"`` is to the fen; ``"10.105"`` is not)."""
    amount = money(data, key)
    if not is_fen(amount):
        raise BadField(key, f"not to the fen: {data.get(key)!r}"[:120])
    return amount


def opt_fen(data: dict[str, Any], key: str) -> Decimal | None:
    """Money to the fen, or ``None`` when absent or empty."""
    return None if data.get(key) in (None, "") else fen(data, key)
