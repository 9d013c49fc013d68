"""A clerk's amount on a desk form: yuan exact to the fen and above zero, or the page says why."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapter.web.forms import FormError, amount


@pytest.mark.parametrize(("typed", "taken"), [("12.34", "12.34"), (" 5 ", "5"), ("0.01", "0.01")])
def test_an_amount_exact_to_the_fen_is_taken(typed: str, taken: str) -> None:
    assert amount(typed, "实际金额") == Decimal(taken)


@pytest.mark.parametrize("typed", ["12.345", "0.001", "0", "-1.00"])
def test_an_amount_finer_than_the_fen_or_not_above_zero_is_refused(typed: str) -> None:
    with pytest.raises(FormError, match=r"^实际金额须为大于0且精确到分的金额$"):
        amount(typed, "实际金额")


@pytest.mark.parametrize("typed", ["十元", "NaN", "sNaN", "Infinity", "-Infinity", "inf"])
def test_what_is_no_number_is_refused_as_no_amount(typed: str) -> None:
    with pytest.raises(FormError, match=r"^实际金额须为金额（元，精确到分）$"):
        amount(typed, "实际金额")
