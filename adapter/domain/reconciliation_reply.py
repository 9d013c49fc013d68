"""Upstream's monthly reply (``WI3201``) checked before anything is compared with it.

Reconciliation (:mod:`adapter.domain.reconciliation`) compares the month's settlements row
by row and the month's totals with the reply's header. Neither means anything if the reply
is of another month or another institution, or if its header does not add up its own rows:
the month could balance against figures that are not the month's, or list differences that
are really upstream's reply contradicting itself. :func:`check_reply` refuses such a reply,
naming each thing that differs, so the billing clerk can ask the district agency about it
(N§35, B§33) rather than reconcile against it.

The header counts the settlements in effect (a revoked row counts on neither side, as in
reconciliation), each listed row once.
"""

from __future__ import annotations

from decimal import Decimal

from adapter.domain.errors import UpstreamMalformed
from adapter.domain.money import ZERO
from adapter.domain.upstream import Infno, ReconciliationFigures

_FIGURES = ("{}笔", "总费用{}元", "基金支付{}元", "个人支付{}元")  # count, then the three sums


class ReplyMismatch(UpstreamMalformed):
    """The monthly reply is not the one asked for, or its header disagrees with its rows."""

    code = "RECONCILIATION_REPLY_MISMATCH"
    article = "N§35, B§33"


def _sums(figures: ReconciliationFigures) -> tuple[int, Decimal, Decimal, Decimal]:
    rows = [s for s in figures.settlements if not s.revoked]
    return (
        len(rows),
        sum((s.total for s in rows), ZERO),
        sum((s.fund_pay for s in rows), ZERO),
        sum((s.personal_pay for s in rows), ZERO),
    )


def mismatches(figures: ReconciliationFigures, month: str, institution_code: str) -> list[str]:
    """What is wrong with ``figures`` as the reply to ``month`` for ``institution_code``,
    one Chinese phrase each; empty when nothing is."""
    found: list[str] = []
    if figures.month != month:
        found.append(f"请求的对账月份为{month}，上级系统返回的是{figures.month or '（空）'}的数据")
    if figures.fixmedins_code != institution_code:
        found.append(
            f"请求的机构为本机构{institution_code}，上级系统返回的是机构"
            f"{figures.fixmedins_code or '（空）'}的数据"
        )
    count, total, fund_pay, personal_pay = _sums(figures)
    header = (figures.settlement_count, figures.total, figures.fund_pay, figures.personal_pay)
    rows = (count, total, fund_pay, personal_pay)
    differing = [n for n in range(4) if header[n] != rows[n]]
    if differing:

        def say(values: tuple[int | Decimal, ...]) -> str:
            return "、".join(_FIGURES[n].format(values[n]) for n in differing)

        found.append(f"上级系统汇总与其明细不一致：汇总{say(header)}，明细合计{say(rows)}")
    return found


def check_reply(figures: ReconciliationFigures, month: str, institution_code: str) -> None:
    """Raise :class:`ReplyMismatch` naming every difference if ``figures`` is not ``month``'s
    reply for ``institution_code`` or does not add up (N§35, B§33)."""
    found = mismatches(figures, month, institution_code)
    if found:
        raise ReplyMismatch(
            f"{month}对账未进行：" + "；".join(found) + "。请联系区级经办机构核实后重新对账",
            infno=Infno.RECONCILIATION.value,
        )
