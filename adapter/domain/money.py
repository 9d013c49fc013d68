"""Money is ``Decimal`` yuan, quantized to the fen (0.01).

The rounding rule: ROUND_HALF_UP (四舍五入), applied once per fee line to the fund part,
except a standard's cap for a line's quantity (:func:`standard_cap`), which is rounded down;
the personal part is the line amount minus the fund part, so fund + personal = amount holds
exactly on every line and therefore on every bill. ROUND_HALF_UP in ``decimal`` rounds half
away from zero, so a reversal (negative line) of a whole line prices to exactly minus its
original. A line reversed in part leaves what is left of it priced as that quantity would be,
rounded once, so the parts that return all of it take back exactly the original's fund and
personal parts (:mod:`adapter.domain.pricing`).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_fen(value: Decimal | int | str) -> Decimal:
    """Quantize to the fen with the stated rounding rule."""
    if type(value) is Decimal and value.is_finite():  # every stored amount: no copy first
        return value.quantize(FEN, rounding=ROUND_HALF_UP)
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a money amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a money amount: {value!r}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def standard_cap(per_unit: Decimal, quantity: Decimal) -> Decimal:
    """What a standard of ``per_unit`` allows for ``quantity`` units, to the fen, rounded
    down: the fund pays *up to* the standard (N§32), and what it paid above it, even half a
    fen a line, the agency deducts from the institution on audit (N§37). Rounded half up,
    two half days under a 50.01 standard cost the fund 50.02."""
    return (per_unit * abs(quantity)).quantize(FEN, rounding=ROUND_DOWN)


def is_fen(value: Decimal) -> bool:
    """True when ``value`` has no more precision than the fen."""
    return value == value.quantize(FEN)
