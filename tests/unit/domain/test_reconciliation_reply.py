"""Upstream's monthly reply checked against the request and against itself (N§35, B§33):
one row per thing that can differ, revoked rows counted on neither side."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from adapter.domain.reconciliation_reply import ReplyMismatch, check_reply, mismatches
from adapter.domain.upstream import ReconciledSettlement, ReconciliationFigures

D = Decimal
MONTH, US = "2026-01", "H11010000001"


def row(setl_id: str, total: str, fund: str, *, revoked: bool = False) -> ReconciledSettlement:
    return ReconciledSettlement(
        setl_id, "", "P001", "medical", date(2026, 1, 5), D(total), D(fund),
        D(total) - D(fund), revoked,
    )  # fmt: skip


ROWS = (
    row("S1", "100.00", "80.00"),
    row("S2", "36.50", "36.50"),
    row("S3", "9.99", "0", revoked=True),
)


def reply(
    month: str = MONTH,
    code: str = US,
    count: int = 2,
    sums: tuple[str, str, str] = ("136.50", "116.50", "20.00"),
) -> ReconciliationFigures:
    total, fund, personal = map(D, sums)
    return ReconciliationFigures(code, month, count, total, fund, personal, ROWS)


@pytest.mark.parametrize(
    ("figures", "named"),
    [
        (reply(), []),
        (reply(month="2025-12"), ["2026-01", "2025-12", "月份"]),
        (reply(code="H11010000999"), ["H11010000001", "H11010000999", "机构"]),
        (reply(count=3), ["汇总3笔", "明细合计2笔"]),
        # the revoked row's 9.99 added to the header: the fen-exact sums are named
        (
            reply(sums=("146.49", "116.50", "29.99")),
            ["总费用146.49元", "总费用136.50元", "个人支付29.99元", "个人支付20.00元"],
        ),
        (reply(sums=("136.50", "116.49", "20.01")), ["基金支付116.49元", "基金支付116.50元"]),
    ],
)
def test_RECONCILIATION_REPLY_MISMATCH_names_what_differs(
    figures: ReconciliationFigures, named: list[str]
) -> None:
    text = "；".join(mismatches(figures, MONTH, US))
    assert bool(text) == bool(named)
    for word in named:
        assert word in text, word
    if figures.fund_pay == D("116.50"):
        assert "基金支付" not in text  # only what differs is named


def test_everything_wrong_at_once_is_said_at_once() -> None:
    with pytest.raises(ReplyMismatch) as caught:
        check_reply(reply("2025-12", "H11010000999", 1), MONTH, US)
    error = caught.value
    assert error.code == "RECONCILIATION_REPLY_MISMATCH" and error.article == "N§35, B§33"
    assert error.infno == "WI3201"
    assert len(error.message.split("；")) == 3 and "区级经办机构" in error.message


def test_a_month_of_nothing_adds_up() -> None:
    empty = ReconciliationFigures(US, MONTH, 0, D("0.00"), D("0.00"), D("0.00"), ())
    check_reply(empty, MONTH, US)
