"""The simulator's refusal and the input checks its transactions share.

A transaction that breaks a rule raises :class:`Refused`; the app answers it the way upstream
does, ``infcode -1`` with the Chinese ``err_msg``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from adapter.domain.money import is_fen
from connectors.upstream.simulator.state import SimState


class Refused(Exception):
    """A business or validation refusal: ``infcode -1`` with this ``err_msg``."""

    def __init__(self, err_msg: str) -> None:
        super().__init__(err_msg)
        self.err_msg = err_msg


def need(data: dict[str, Any], *keys: str) -> None:
    """Refuse unless every key is present and not empty."""
    missing = [k for k in keys if data.get(k) in (None, "", [])]
    if missing:
        raise Refused(f"入参校验失败：缺少 {', '.join(missing)}")


def money(data: dict[str, Any], key: str) -> Decimal:
    """``data[key]`` as an exact amount in fen, sent as a string (a float is refused)."""
    value = data.get(key)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Refused(f"入参校验失败：{key} 不是金额（{value!r}）") from None
    if isinstance(value, float) or not amount.is_finite() or not is_fen(amount):
        raise Refused(f"入参校验失败：{key} 须为精确到分的金额字符串（{value!r}）")
    return amount


def amounts(data: dict[str, Any]) -> None:
    """Refuse unless fund pay + personal pay = the total, each an exact amount."""
    total = money(data, "medfee_sumamt")
    fund = money(data, "fund_pay_sumamt")
    personal = money(data, "psn_pay")
    if fund + personal != total:
        raise Refused(f"结算金额不平：基金支付 {fund} + 个人支付 {personal} ≠ 总费用 {total}")


def known_person(state: SimState, psn_no: str) -> dict[str, Any]:
    """The seeded person ``psn_no``, or a refusal."""
    found = state.find("people", psn_no=psn_no)
    if not found:
        raise Refused(f"人员编号 {psn_no} 不存在")
    return found[0]
