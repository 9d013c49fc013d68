"""The discharge record's lines format each distinct time, amount and code once: the result
is, line for line, what formatting every line on its own gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.pricing import PersonalReason, PricedLine
from adapter.domain.rules import Rule
from adapter.services import payloads

D = Decimal
ZONE = ZoneInfo("Asia/Shanghai")


def _line(n: int, amount: str, fund: str, personal: str, quantity: str = "1") -> PricedLine:
    category = list(FeeCategory)[n % len(FeeCategory)]
    reason = None if D(personal) == 0 else list(PersonalReason)[n % len(PersonalReason)]
    at = datetime(2026, 11, 1, 8, tzinfo=UTC) + timedelta(hours=n % 4)
    reverses = "L0" if n % 5 == 4 else ""
    line = FeeLine(f"L{n}", "XN02BEB001", "布洛芬", category, D(quantity),
                   D(amount) / D(quantity), D(amount), at, reverses=reverses)  # fmt: skip
    return PricedLine(line, None, D(fund), D(personal), Rule("R", "N§32", "m"), reason)


def test_formatting_once_per_value_gives_what_each_line_alone_gives() -> None:
    # equal values written differently (2 / 2.00 / 2.0000), signed zeros, sub-fen amounts
    values = [
        ("36.50", "36.50", "0.00"), ("36.5", "36.5", "0"), ("2", "2.00", "0.00"),
        ("-18.25", "-18.25", "-0.00"), ("-18.25", "-18.25", "0.00"), ("0.00", "0", "-0"),
        ("100.004", "90.00", "10.004"), ("-0.004", "-0.004", "0"), ("180.00", "150", "30.00"),
    ]  # fmt: skip
    lines = [
        _line(n, *values[n % len(values)], quantity="-1" if n % 5 == 4 else "2.50")
        for n in range(40)
    ]
    together = payloads.feedetail(lines, size=3, zone=ZONE)
    for n, line in enumerate(lines):
        [alone] = payloads.feedetail([line], size=3, zone=ZONE)
        assert {**together[n], "batch_no": 1} == alone, n
        assert together[n]["batch_no"] == n // 3 + 1
    assert together[3]["psn_pay"] == "-0.00" and together[4]["psn_pay"] == "0.00"
    assert together[0]["cnt"] == "2.5" and together[2]["det_item_fee_sumamt"] == "2.00"
