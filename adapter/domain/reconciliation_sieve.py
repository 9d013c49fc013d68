"""One pass over a month's local settlements against upstream's figures (N§35, B§33): the
comparison of :mod:`adapter.domain.reconciliation`, at the size of a month.

A month may hold 50,000 settlements, nearly all of them plain: in effect here, listed once
upstream, in effect, with the same worker, kind and amounts. :class:`Sieve` lets a reader
set those aside by comparing integers of fen, without making objects of them, and judges
the rest (:func:`~adapter.domain.reconciliation.compare`); :func:`reconcile` is the same
comparison over settlements as objects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from datetime import date
from decimal import Decimal
from itertools import compress, repeat
from operator import attrgetter, not_

from adapter.domain.money import ZERO
from adapter.domain.months import parse_month
from adapter.domain.reconciliation import (
    Difference,
    ReconciliationResult,
    Totals,
    agrees,
    compare,
)
from adapter.domain.reconciliation_lines import Amounts, LocalSettlement, in_fen, yuan_of
from adapter.domain.upstream import ReconciledSettlement, ReconciliationFigures

# total, fund_pay, personal_pay × 100 (exact: equal to the same amounts as ints of fen),
# revoked (False: a plain entry is in effect), the worker, and the kind (medical, rehab,
# device) when upstream's rows carry kinds (:attr:`Sieve.kinds`)
Fen = tuple[Decimal, Decimal, Decimal, bool, str] | tuple[Decimal, Decimal, Decimal, bool, str, str]
_SETL_ID, _PSN_NO, _KIND = attrgetter("setl_id"), attrgetter("psn_no"), attrgetter("kind")
_TOTAL, _FUND_PAY = attrgetter("total"), attrgetter("fund_pay")
_PERSONAL_PAY, _REVOKED = attrgetter("personal_pay"), attrgetter("revoked")


class Sieve:
    """Upstream's figures for one pass over a month's local settlements.

    Most of a month says nothing: a settlement in effect here that upstream lists once, in
    effect, with the same amounts. :attr:`plain` holds those of upstream's entries, by
    ``setl_id``, as :data:`Fen` (each amount ×100, exact: equal to an ``int`` of fen iff the
    amounts are equal; then ``False``, not revoked; then the worker; then, if
    :attr:`kinds`, the kind), so whoever reads the month (50,000 rows) as integers of fen
    can set such a settlement aside with one lookup and one comparison with ``(total,
    fund_pay, personal_pay, revoked, psn_no)`` (``+ (kind,)`` if :attr:`kinds`: upstream's
    rows name kinds, as the dialect's do; a reply naming none is compared without) (popping
    the entry: a second line of the same id is judged), adding its amounts up in fen,
    without making it an object.
    :meth:`judge` takes the totals, the ids set aside and every other settlement, and finds
    the differences as :func:`reconcile` does. One sieve serves one pass.
    """

    __slots__ = ("_ids", "kinds", "plain", "upstream")

    def __init__(self, upstream: ReconciliationFigures):
        self.upstream = upstream
        # C-level passes over upstream's 50,000 entries (no Python code per entry)
        items = upstream.settlements
        ids = self._ids = list(map(_SETL_ID, items))
        kinds = list(map(_KIND, items))
        self.kinds = any(kinds)
        columns = [
            map(in_fen, map(_TOTAL, items)),
            map(in_fen, map(_FUND_PAY, items)),
            map(in_fen, map(_PERSONAL_PAY, items)),
            repeat(False),
            map(_PSN_NO, items),
            *([kinds] if self.kinds else []),
        ]
        # strict=False: repeat(False) is as long as the amounts
        plain: dict[str, Fen | None] = dict(zip(ids, zip(*columns, strict=False), strict=True))
        for item in compress(items, map(_REVOKED, items)):
            plain[item.setl_id] = None  # revoked upstream: judged
        if self.kinds and not all(kinds):
            for item in compress(items, map(not_, kinds)):
                plain[item.setl_id] = None  # its kind unnamed: judged
        if len(plain) < len(ids):
            for setl_id, times in Counter(ids).items():
                if times > 1:
                    plain[setl_id] = None  # listed twice: judged
        self.plain = plain

    def judge(
        self,
        month: str,
        local: Totals,
        others: Iterable[LocalSettlement],
        matched: Collection[str],
    ) -> ReconciliationResult:
        """The month's result: ``local`` its local totals (net of revocations), ``matched``
        the ids of the local settlements set aside (each in effect, with the amounts of
        :attr:`plain`), ``others`` every other local settlement of the month, read once."""
        parse_month(month)
        by_id: dict[str, list[ReconciledSettlement]] = {}
        known = map(matched.__contains__, self._ids)  # C-level: 50,000 entries
        for item in compress(self.upstream.settlements, map(not_, known)):
            by_id.setdefault(item.setl_id, []).append(item)
        differences: list[Difference] = []
        for here in others:
            entries = by_id.pop(here.setl_id, ())
            if len(entries) == 1 and not here.revoked and agrees(here, entries[0]):
                continue  # nothing to say: one effective entry, same worker and amounts
            differences += compare(here, entries)
        for entries in by_id.values():  # upstream's settlements unknown here
            differences += compare(None, entries)
        # one settlement's differences come from one comparison, so this order is total
        differences.sort(key=lambda d: (d.settles_on or date.min, d.setl_id))
        upstream = self.upstream
        upstream_totals = Totals(
            upstream.settlement_count,
            Amounts(upstream.total, upstream.fund_pay, upstream.personal_pay),
        )
        return ReconciliationResult(month, local, upstream_totals, tuple(differences))


def local_totals(count: int, total: int, fund_pay: int, personal_pay: int) -> Totals:
    """The local totals from sums in fen (exact; ``0.00`` for none)."""
    return Totals(count, Amounts(yuan_of(total), yuan_of(fund_pay), yuan_of(personal_pay)))


def reconcile(
    month: str, local: Iterable[LocalSettlement], upstream: ReconciliationFigures
) -> ReconciliationResult:
    """Compare the month's local settlements with upstream's figures (N§35, B§33).

    ``local`` is read once, one settlement at a time (a month of 50,000 need not be a list):
    each is compared as it comes and only its amounts are added up. Differences come
    ordered by settlement date, then ``setl_id``; one settlement may have more than one (a
    duplicate upstream whose amounts also differ). (:class:`Sieve` is the same comparison
    for a reader that sets the month's plain settlements aside itself.)
    """
    parse_month(month)
    sieve = Sieve(upstream)
    plain = sieve.plain
    matched: set[str] = set()
    others: list[LocalSettlement] = []
    count, total, fund_pay, personal_pay = 0, ZERO, ZERO, ZERO
    for here in local:
        amounts = here.amounts
        if not here.revoked:
            count += 1
            total += amounts.total
            fund_pay += amounts.fund_pay
            personal_pay += amounts.personal_pay
        fen = plain.pop(here.setl_id, None)  # a second line of one id is judged
        if fen == (
            in_fen(amounts.total),
            in_fen(amounts.fund_pay),
            in_fen(amounts.personal_pay),
            here.revoked,
            here.psn_no,
            *((here.kind,) if sieve.kinds else ()),
        ):
            matched.add(here.setl_id)
        else:
            others.append(here)
    totals = Totals(count, Amounts(total, fund_pay, personal_pay))
    return sieve.judge(month, totals, others, matched)
