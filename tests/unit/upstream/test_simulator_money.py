"""The simulator refuses an amount the way upstream does: a string exact to the fen, or no."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.upstream.simulator.checks import Refused, money


@pytest.mark.parametrize("sent", ["12.34", "12", "-0.50", "0"])
def test_an_amount_exact_to_the_fen_is_taken_as_sent(sent: str) -> None:
    assert money({"psn_pay": sent}, "psn_pay") == Decimal(sent)


@pytest.mark.parametrize("sent", ["12.345", "0.001", "Infinity", "NaN", 12.34])
def test_an_amount_finer_than_the_fen_or_a_float_is_refused_with_upstream_s_words(
    sent: object,
) -> None:
    with pytest.raises(Refused) as refused:
        money({"psn_pay": sent}, "psn_pay")
    assert refused.value.err_msg == f"入参校验失败：psn_pay 须为精确到分的金额字符串（{sent!r}）"


def test_what_is_no_number_is_refused_as_no_amount() -> None:
    with pytest.raises(Refused) as refused:
        money({"psn_pay": "十元"}, "psn_pay")
    assert refused.value.err_msg == "入参校验失败：psn_pay 不是金额（'十元'）"
