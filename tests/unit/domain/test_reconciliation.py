"""Reconciliation rules (N§35, B§33): one row per case of local × upstream, totals net of
revocations, months, and a property: balanced exactly when both sides list the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.domain.months import (
    day_began,
    first_day,
    next_month,
    parse_month,
    previous_month,
    settlement_period,
)
from adapter.domain.reconciliation import DifferenceKind, Totals
from adapter.domain.reconciliation_lines import Amounts, LocalSettlement
from adapter.domain.reconciliation_sieve import Sieve, reconcile
from adapter.domain.upstream import ReconciledSettlement, ReconciliationFigures

D = Decimal
MONTH = "2026-01"
DAY = date(2026, 1, 5)
K = DifferenceKind


def amounts(total: str, fund: str) -> Amounts:
    return Amounts(D(total), D(fund), D(total) - D(fund))


def here(
    setl_id: str,
    total: str = "100.00",
    fund: str = "80.00",
    *,
    revoked: bool = False,
    delivered: bool | None = True,
    day: date = DAY,
    kind: str = "medical",
) -> LocalSettlement:
    return LocalSettlement(
        setl_id,
        "P001",
        kind,
        day,
        amounts(total, fund),
        revoked=revoked,
        slip_no=f"SLIP-{setl_id}",
        upload_msgid=f"MSG-{setl_id}",
        upload_delivered=delivered,
    )


def there(
    setl_id: str,
    total: str = "100.00",
    fund: str = "80.00",
    *,
    revoked: bool = False,
    psn_no: str = "P001",
    kind: str = "medical",
) -> ReconciledSettlement:
    a = amounts(total, fund)
    return ReconciledSettlement(
        setl_id, "M", psn_no, kind, DAY, a.total, a.fund_pay, a.personal_pay, revoked
    )


def figures(*items: ReconciledSettlement) -> ReconciliationFigures:
    live = [i for i in items if not i.revoked]
    totals = Totals.of(Amounts(i.total, i.fund_pay, i.personal_pay) for i in live)
    return ReconciliationFigures(
        "H11010000001",
        MONTH,
        totals.count,
        totals.amounts.total,
        totals.amounts.fund_pay,
        totals.amounts.personal_pay,
        tuple(items),
    )


CASES = [
    # (local, upstream, expected kinds)
    ([here("S1")], [there("S1")], []),
    ([], [there("S1")], [K.MISSING_HERE]),
    ([here("S1")], [], [K.MISSING_UPSTREAM]),
    ([here("S1")], [there("S1", "100.01")], [K.AMOUNT_DIFFERS]),
    ([here("S1")], [there("S1", "100.00", "79.99")], [K.AMOUNT_DIFFERS]),
    ([here("S1", revoked=True)], [there("S1")], [K.REVOKED_HERE_ONLY]),
    ([here("S1")], [there("S1", revoked=True)], [K.REVOKED_UPSTREAM_ONLY]),
    ([here("S1", revoked=True)], [there("S1", revoked=True)], []),
    ([here("S1", revoked=True)], [], []),  # revoked before its upload was sent
    ([], [there("S1", revoked=True)], []),  # nets to nothing on both sides
    ([here("S1")], [there("S1"), there("S1")], [K.DUPLICATE_UPSTREAM]),
    ([here("S1")], [there("S1", revoked=True), there("S1")], []),  # revoked then re-sent
    ([here("S1")], [there("S1", psn_no="P002")], [K.PERSON_DIFFERS]),  # charged to another
    ([here("S1")], [there("S1", "99.00", psn_no="P002")], [K.PERSON_DIFFERS, K.AMOUNT_DIFFERS]),
    ([here("S1")], [there("S1", kind="rehab")], [K.KIND_DIFFERS]),  # filed as rehab there
    ([here("S1")], [there("S1", "99.00", kind="device")], [K.KIND_DIFFERS, K.AMOUNT_DIFFERS]),
    ([here("S1")], [there("S1", kind="")], []),  # upstream names no kind: not compared
]


@pytest.mark.parametrize(("local", "upstream", "kinds"), CASES)
def test_each_case_of_local_against_upstream(
    local: list[LocalSettlement], upstream: list[ReconciledSettlement], kinds: list[K]
) -> None:
    result = reconcile(MONTH, local, figures(*upstream))
    assert [d.kind for d in result.differences] == kinds
    for difference in result.differences:
        assert difference.setl_id == "S1" and difference.action and difference.message
        assert difference.article == "N§35, B§33"


def test_totals_are_net_of_revocations_and_compared_first() -> None:
    local = [here("S1", "100.00", "80.00"), here("S2", "50.50", "50.50", revoked=True)]
    result = reconcile(MONTH, local, figures(there("S1", "100.00", "80.00")))
    assert result.local == Totals(1, Amounts(D("100.00"), D("80.00"), D("20.00")))
    assert result.totals_match and result.balanced
    assert result.differences == ()  # S2 was revoked before upstream heard of it


def test_a_fen_off_upstream_shows_in_the_totals_and_in_the_line() -> None:
    result = reconcile(MONTH, [here("S1", "100.00", "80.00")], figures(there("S1", "100.01")))
    assert not result.totals_match and not result.balanced
    assert result.delta == Amounts(D("0.01"), D("0.00"), D("0.01"))
    [difference] = result.differences
    assert difference.delta == Amounts(D("0.01"), D("0.00"), D("0.01"))
    assert "100.01" in difference.message and "0.01" in difference.message


def test_missing_upstream_says_what_to_do_from_the_upload_state() -> None:
    def action(delivered: bool | None) -> str:
        result = reconcile(MONTH, [here("S1", delivered=delivered)], figures())
        return result.differences[0].action

    assert "MSG-S1" in action(False) and "上传队列" in action(False)
    assert "结算月份" in action(True)
    assert "未找到该结算的上传记录" in action(None)


def test_differences_are_ordered_by_date_then_id() -> None:
    local = [here("B", day=date(2026, 1, 9)), here("A", day=date(2026, 1, 9))]
    local.append(here("C", day=date(2026, 1, 2)))
    result = reconcile(MONTH, local, figures())
    assert [d.setl_id for d in result.differences] == ["C", "A", "B"]


@pytest.mark.parametrize(
    "text", ["2026-1", "2026-13", "2026-00", "26-01", "", "2026/01", "0000-01", "9999-12"]
)
def test_a_month_must_be_yyyy_mm(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(text)


def test_month_arithmetic_crosses_the_year() -> None:
    assert previous_month(date(2026, 1, 3)) == "2025-12"
    assert previous_month(date(2026, 11, 24)) == "2026-10"
    assert next_month("2025-12") == "2026-01"
    assert first_day("2026-02") == date(2026, 2, 1)


fen = st.decimals(min_value=D("0.00"), max_value=D("99999.99"), places=2)


@given(st.lists(st.tuples(fen, fen), max_size=12), st.sets(st.integers(0, 11)))
def test_balanced_exactly_when_both_sides_list_the_same(
    rows: list[tuple[Decimal, Decimal]], dropped: set[int]
) -> None:
    local = [
        LocalSettlement(f"S{n}", "P", "medical", DAY, Amounts(t + f, f, t))
        for n, (t, f) in enumerate(rows)
    ]
    upstream = [
        ReconciledSettlement(s.setl_id, "M", "P", "medical", DAY, *vars(s.amounts).values())
        for n, s in enumerate(local)
        if n not in dropped
    ]
    result = reconcile(MONTH, local, figures(*upstream))
    missing = [s.setl_id for n, s in enumerate(local) if n in dropped]
    assert [d.setl_id for d in result.differences] == sorted(missing)
    assert all(d.kind is K.MISSING_UPSTREAM for d in result.differences)
    assert result.balanced == (not missing)
    total = sum((s.amounts.total for s in local), D("0.00"))
    assert result.local.amounts.total == total


def test_a_months_settlements_are_those_settled_from_its_first_local_midnight_to_the_next() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    start, end = settlement_period("2026-01", zone)
    assert (start, end) == (datetime(2026, 1, 1, tzinfo=zone), datetime(2026, 2, 1, tzinfo=zone))
    # 00:20 on 1 February in Beijing is still 31 January in UTC: it is February's.
    just_after = datetime(2026, 2, 1, 0, 20, tzinfo=zone)
    assert just_after.astimezone(UTC).day == 31 and not start <= just_after < end
    assert settlement_period("2025-12", zone)[1] == start


def test_the_month_is_read_once_as_it_comes_with_the_same_result_as_a_list() -> None:
    """A month of 50,000 settlements is streamed from the database, not held as a list: the
    comparison takes each settlement once, in any order, and says what a list would."""
    local = [
        here("S3", "70.00", "70.00", day=date(2026, 1, 9)),
        here("S1"),
        here("S2", "50.00", "40.00", revoked=True),
        here("S4", "10.00", "10.00", delivered=False),
    ]
    upstream = figures(
        there("S1", "100.01"), there("S2", "50.00", "40.00"), there("S3"), there("S5")
    )
    taken: list[str] = []

    def once() -> Iterator[LocalSettlement]:
        for settlement in local:
            taken.append(settlement.setl_id)
            yield settlement

    streamed = reconcile(MONTH, once(), upstream)
    assert taken == ["S3", "S1", "S2", "S4"]
    assert streamed == reconcile(MONTH, list(reversed(local)), upstream)
    assert streamed.local == Totals(3, Amounts(D("180.00"), D("160.00"), D("20.00")))
    assert [(d.setl_id, d.kind) for d in streamed.differences] == [
        ("S1", K.AMOUNT_DIFFERS),
        ("S2", K.REVOKED_HERE_ONLY),
        ("S4", K.MISSING_UPSTREAM),
        ("S5", K.MISSING_HERE),
        ("S3", K.AMOUNT_DIFFERS),
    ]


def test_today_begins_at_the_sites_midnight_not_utcs() -> None:
    """IT's "missed today" counts from midnight where the site is: 15:59 UTC is still the
    Shanghai day that began at 16:00 UTC the day before; 16:00 UTC starts the next one."""
    zone = ZoneInfo("Asia/Shanghai")
    late = datetime(2026, 12, 4, 15, 59, tzinfo=UTC)
    assert day_began(late, zone) == datetime(2026, 12, 4, tzinfo=zone)
    assert day_began(late, zone) == datetime(2026, 12, 3, 16, tzinfo=UTC)
    assert day_began(datetime(2026, 12, 4, 16, tzinfo=UTC), zone) == datetime(
        2026, 12, 5, tzinfo=zone
    )


def test_a_settlement_whose_fund_pay_differs_at_the_same_total_says_by_how_much() -> None:
    """Upstream has the right total but 20.00 more from the fund (and 20.00 less from the
    worker): the fund would overpay. The clerk reads which settlement (its slip) and the
    fund's difference — not "差额0.00元" from the totals alone."""
    result = reconcile(
        MONTH, [here("S1", "100.00", "80.00")], figures(there("S1", "100.00", "100.00"))
    )
    [difference] = result.differences
    assert difference.kind is K.AMOUNT_DIFFERS
    assert difference.delta == Amounts(D("0.00"), D("20.00"), D("-20.00"))
    message = difference.message
    assert "SLIP-S1" in message and "S1" in message
    assert "差额0.00元" not in message
    assert "基金支付差额20.00元" in message and "个人支付差额-20.00元" in message
    assert "总费用差额" not in message  # the total agrees: not named as a difference


def test_kind_differs_names_both_kinds_in_chinese() -> None:
    """Upstream files a work-injury medical stay as rehabilitation: the fund audits and pays
    each on its own terms, so the clerk asks the agency to correct it, naming both kinds."""
    result = reconcile(MONTH, [here("S1")], figures(there("S1", kind="rehab")))
    [difference] = result.differences
    assert difference.kind is K.KIND_DIFFERS and difference.kind.label == "结算类别不一致"
    assert "本地为住院工伤医疗，上级系统为住院工伤康复" in difference.message
    assert "将上级系统的住院工伤康复更正为住院工伤医疗" in difference.action
    unknown = reconcile(MONTH, [here("S1")], figures(there("S1", kind="41")))
    assert "上级系统为“41”" in unknown.differences[0].message  # its own word, quoted


def test_a_reply_naming_no_kinds_sets_plain_settlements_aside_without_them() -> None:
    """A reply whose rows name no kind is compared on worker and amounts only, and its plain
    settlements are still set aside by the sieve; one whose rows name kinds sets a
    settlement aside only under its own kind (else it is judged and found differing)."""
    without = Sieve(figures(there("S1", kind=""), there("S2", kind="")))
    assert not without.kinds and without.plain["S1"] == (10000, 8000, 2000, False, "P001")
    named = Sieve(figures(there("S1"), there("S2", kind="")))
    assert named.kinds and named.plain["S1"] == (10000, 8000, 2000, False, "P001", "medical")
    assert named.plain["S2"] is None  # its kind unnamed among named ones: judged
    local = [here("S1", kind="device"), here("S2")]
    result = reconcile(MONTH, local, figures(there("S1"), there("S2", kind="")))
    assert [(d.setl_id, d.kind) for d in result.differences] == [("S1", K.KIND_DIFFERS)]
