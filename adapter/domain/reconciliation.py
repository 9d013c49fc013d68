"""Monthly reconciliation (对账): the institution's settlements of a month against upstream's.

The district agency reconciles last month's settlements with each institution and uploads
the monthly settlement before the 20th (N§35, B§33, B§36, B§37). The institution checks its
side first: :func:`~adapter.domain.reconciliation_sieve.reconcile` takes the month's local
settlements and upstream's figures (``WI3201``) and says, totals first and then settlement
by settlement (:func:`compare`), where they differ and what to do about each difference.

Contract:

* A settlement belongs to the month of its **settlement time** (结算时间, local time), the
  month the agency reconciles it in (N§35: 上月发生的…结算费用) and the one upstream files it
  under (the ``setl_time`` of ``WI2301``/``WI2701``): a stay discharged on the 31st and settled
  on the 1st belongs to the later month. A stay that crossed New Year is one bill, settled
  once (N§36, B§41). :func:`settlement_period` is that month as times; the caller passes the
  settlements made within it.
* Totals are **net of revocations**: a revoked settlement counts on neither side.
* Settlements are matched by ``setl_id`` — the id the discharge (``WI2301``) or device
  (``WI2701``) upload carried, which is the local settlement id.
* A settlement matches only if upstream has it under the same worker: the fund's payment
  is charged to that worker, and in clearing to their insured place (N§40); and, when
  upstream's row names the settlement's kind (``kind``: medical, rehab, device, as the
  dialect's ``WI3201`` rows do), under the same kind: the fund audits and pays work-injury
  medical care, rehabilitation and devices each on its own terms.
* Each :class:`Difference` has a :class:`DifferenceKind`, the amounts on both sides, and a
  Chinese sentence saying what differs and what to do. A local revoked settlement upstream
  never saw, and an upstream revoked settlement unknown here, cancel out: no difference.
  One upstream lists that is ours, of another month, is said to be so (:func:`placed`).
  One revoked here that upstream lists in effect is told by where its revocation's upload
  stands (:func:`with_revocations`).
* Money is exact: ``Decimal`` to the fen; deltas are upstream minus local.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from adapter.domain.encounters import EncounterKind
from adapter.domain.money import ZERO
from adapter.domain.reconciliation_lines import Amounts, LocalSettlement
from adapter.domain.reconciliation_revocations import RevocationUpload, revocation_action
from adapter.domain.upstream import ReconciledSettlement

ARTICLES = "N§35, B§33"


@dataclass(frozen=True)
class Totals:
    count: int
    amounts: Amounts

    @classmethod
    def of(cls, rows: Iterable[Amounts]) -> Totals:
        items = list(rows)
        return cls(
            len(items),
            Amounts(
                sum((a.total for a in items), ZERO),
                sum((a.fund_pay for a in items), ZERO),
                sum((a.personal_pay for a in items), ZERO),
            ),
        )


class DifferenceKind(StrEnum):
    MISSING_HERE = "missing_here"  # upstream has an effective settlement we do not
    MISSING_UPSTREAM = "missing_upstream"  # we have an effective settlement upstream does not
    AMOUNT_DIFFERS = "amount_differs"
    REVOKED_HERE_ONLY = "revoked_here_only"
    REVOKED_UPSTREAM_ONLY = "revoked_upstream_only"
    DUPLICATE_UPSTREAM = "duplicate_upstream"  # upstream lists one setl_id twice, effective
    PERSON_DIFFERS = "person_differs"  # upstream has it under another worker
    OTHER_MONTH_HERE = "other_month_here"  # upstream lists ours of another month here
    KIND_DIFFERS = "kind_differs"  # medical, rehab or device: upstream files it as another

    @property
    def label(self) -> str:
        return {
            "missing_here": "本地无此结算",
            "missing_upstream": "上级系统无此结算",
            "amount_differs": "金额不一致",
            "revoked_here_only": "仅本地已撤销",
            "revoked_upstream_only": "仅上级系统已撤销",
            "duplicate_upstream": "上级系统重复记录",
            "person_differs": "人员不一致",
            "other_month_here": "本地属于其他月份",
            "kind_differs": "结算类别不一致",
        }[self.value]


@dataclass(frozen=True)
class Difference:
    kind: DifferenceKind
    setl_id: str
    psn_no: str
    settles_on: date | None
    local: Amounts | None
    upstream: Amounts | None
    message: str  # what differs (Chinese)
    action: str  # what to do (Chinese)
    article: str = ARTICLES
    # revoked here, in effect upstream: where its revocation's upload stands (the action
    # follows it; see :func:`with_revocations`)
    revocation_upload: RevocationUpload | None = None

    @property
    def delta(self) -> Amounts | None:
        """Upstream minus local, when both sides have the settlement."""
        if self.local is None or self.upstream is None:
            return None
        return self.upstream.minus(self.local)


@dataclass(frozen=True)
class ReconciliationResult:
    month: str
    local: Totals  # net of revocations
    upstream: Totals  # as upstream reported them
    differences: tuple[Difference, ...] = field(default_factory=tuple)

    @property
    def totals_match(self) -> bool:
        return self.local == self.upstream

    @property
    def balanced(self) -> bool:
        """Totals equal and no settlement differs: nothing to do this month."""
        return self.totals_match and not self.differences

    @property
    def delta(self) -> Amounts:
        return self.upstream.amounts.minus(self.local.amounts)


def _amounts(item: ReconciledSettlement) -> Amounts:
    return Amounts(item.total, item.fund_pay, item.personal_pay)


def agrees(here: LocalSettlement, item: ReconciledSettlement) -> bool:
    """``item`` is effective and carries ``here``'s worker, kind (if upstream says) and
    amounts."""
    amounts = here.amounts
    return (
        not item.revoked
        and item.psn_no == here.psn_no
        and item.kind in ("", here.kind)
        and item.total == amounts.total
        and item.fund_pay == amounts.fund_pay
        and item.personal_pay == amounts.personal_pay
    )


def _missing_upstream_action(local: LocalSettlement) -> str:
    if local.upload_delivered is False:
        return (
            f"该结算的上传（msgid {local.upload_msgid}）尚未送达上级系统：请在上传队列中查看"
            "失败原因，修正后重发；送达后重新对账"
        )
    if local.upload_delivered is True:
        return (
            "上传已被上级系统确认，但未列入本月结算：请与区级经办机构核对该结算的结算月份"
            "（按结算时间计），必要时请其更正"
        )
    return "本地未找到该结算的上传记录：请信息科核查后补传结算信息，送达后重新对账"


def compare(
    local: LocalSettlement | None, entries: Sequence[ReconciledSettlement]
) -> list[Difference]:
    """The differences between a local settlement (``None``: none here) and upstream's
    entries of its id (none: upstream lacks it)."""
    effective = [e for e in entries if not e.revoked]
    upstream = effective[0] if effective else (entries[0] if entries else None)
    up_amounts = _amounts(upstream) if upstream is not None else None
    setl_id = local.setl_id if local else entries[0].setl_id
    psn_no = local.psn_no if local else entries[0].psn_no
    day = local.settles_on if local else entries[0].setl_date
    here = local.amounts if local else None
    found: list[Difference] = []

    def add(kind: DifferenceKind, message: str, action: str) -> None:
        found.append(Difference(kind, setl_id, psn_no, day, here, up_amounts, message, action))

    local_active = local is not None and not local.revoked
    if len(effective) > 1:  # each line named: the agency must not keep a wrong one
        listed = "；".join(
            f"第{n}条（msgid {e.msgid}）：人员{e.psn_no}，{_amounts(e).said}"
            for n, e in enumerate(effective, 1)
        )
        keep = [
            n for n, e in enumerate(effective, 1) if local and local_active and agrees(local, e)
        ]
        add(
            DifferenceKind.DUPLICATE_UPSTREAM,
            f"上级系统将结算{setl_id}记录了{len(effective)}次：{listed}",
            f"请区级经办机构保留与本地结算单一致的第{keep[0]}条，删除其余"
            f"{len(effective) - 1}条，避免重复拨付"
            if keep
            else "请区级经办机构删除重复的结算记录，避免重复拨付"
            + ("；保留的一条须与本地结算单的人员和金额一致" if local_active else ""),
        )
    if local is None:
        if effective:
            add(
                DifferenceKind.MISSING_HERE,
                f"上级系统有结算{setl_id}（人员{psn_no}），本地没有该结算",
                "核对是否为本机构的结算；如不是，请区级经办机构更正；如是，请查明本地缺失原因"
                "（如数据恢复）后与区级经办机构确认",
            )
        return found
    if not effective:
        if local_active and entries:
            add(
                DifferenceKind.REVOKED_UPSTREAM_ONLY,
                f"结算{setl_id}在上级系统已撤销，本地仍为有效结算",
                "核实撤销原因：如确应撤销，请在本地撤销该结算（必要时重新结算并上传）；"
                "如不应撤销，请与区级经办机构联系恢复",
            )
        elif local_active:
            add(
                DifferenceKind.MISSING_UPSTREAM,
                f"本地结算{setl_id}（结算单{local.slip_no}）在上级系统本月数据中不存在",
                _missing_upstream_action(local),
            )
        return found
    if not local_active:
        add(
            DifferenceKind.REVOKED_HERE_ONLY,
            f"结算{setl_id}本地已撤销，上级系统仍为有效结算",
            "请在上传队列中查看该结算的撤销上传（WI2305）是否送达；未送达请处理后重发，"
            "送达后重新对账",
        )
        return found
    assert up_amounts is not None and upstream is not None
    if upstream.psn_no != local.psn_no:
        add(
            DifferenceKind.PERSON_DIFFERS,
            f"结算{setl_id}的人员不一致：本地为{local.psn_no}，上级系统为{upstream.psn_no}",
            "基金支付将记在上级系统所列人员及其参保地名下：请区级经办机构按结算单更正人员",
        )
    if upstream.kind and upstream.kind != local.kind:
        here_kind, there_kind = _kind_label(local.kind), _kind_label(upstream.kind)
        add(
            DifferenceKind.KIND_DIFFERS,
            f"结算{setl_id}的结算类别不一致：本地为{here_kind}，上级系统为{there_kind}",
            f"工伤医疗、工伤康复与辅助器具配置分别审核和支付：本地结算单为{here_kind}，请区级"
            f"经办机构将上级系统的{there_kind}更正为{here_kind}；如本地有误，请撤销后按正确类别"
            "重新办理并上传",
        )
    if up_amounts != local.amounts:
        add(
            DifferenceKind.AMOUNT_DIFFERS,
            f"结算{setl_id}{f'（结算单{local.slip_no}）' if local.slip_no else ''}金额不一致："
            f"本地{local.amounts.said}，"
            f"上级系统{up_amounts.said}（上级系统减本地：{up_amounts.deltas_from(local.amounts)}）",
            "核对结算单与上传的费用明细：如本地有误，撤销后重新结算并上传；"
            "如上级系统有误，请区级经办机构更正",
        )
    return found


def _kind_label(kind: str) -> str:
    try:
        return EncounterKind(kind).label
    except ValueError:  # upstream's own word, quoted as it is
        return f"“{kind}”"


def placed(
    result: ReconciliationResult, ours: Mapping[str, LocalSettlement]
) -> ReconciliationResult:
    """``result`` with each settlement upstream lists in effect and we lack in the month,
    but have in another (``ours``, by id), said to be ours: of which month by its settlement
    time (N§35), and whether revoked here — a revoked one upstream has in effect would be
    paid. Not "本地无此结算": the clerk would tell the agency it is not ours."""
    differences = list(result.differences)
    for n, d in enumerate(differences):
        here = ours.get(d.setl_id) if d.kind is DifferenceKind.MISSING_HERE else None
        if here is None:
            continue
        month = f"{here.settles_on:%Y-%m}"
        revoked = "，本地已撤销" if here.revoked else ""
        action = (
            f"请在上传队列中查看该结算的撤销上传（WI2305）是否送达；送达后请区级经办机构将其从"
            f"{result.month}中删除，不予拨付"
            if here.revoked
            else f"请区级经办机构按结算时间将该结算计入{month}（N§35），并从{result.month}中删除"
        )
        differences[n] = replace(
            d,
            kind=DifferenceKind.OTHER_MONTH_HERE,
            local=here.amounts,
            message=f"上级系统将结算{d.setl_id}列入{result.month}；本地该结算（结算单"
            f"{here.slip_no}）结算日期为{here.settles_on}，属于{month}{revoked}",
            action=action,
        )
    return replace(result, differences=tuple(differences))


def with_revocations(
    result: ReconciliationResult,
    uploads: Mapping[str, RevocationUpload],
    compared_at: datetime,
) -> ReconciliationResult:
    """``result`` with each settlement revoked here that upstream lists in effect — in this
    month (revoked here only) or another (ours, of another month) — told by its
    revocation's upload: ``uploads`` by ``setl_id``, those of settlements revoked here;
    ``compared_at`` when upstream's figures were read (a revocation delivered since may have
    been applied since)."""
    kinds = (DifferenceKind.REVOKED_HERE_ONLY, DifferenceKind.OTHER_MONTH_HERE)
    differences = list(result.differences)
    for n, d in enumerate(differences):
        upload = uploads.get(d.setl_id) if d.kind in kinds else None
        if upload is None:
            continue
        remove = (
            "撤销该结算，不予拨付"
            if d.kind is DifferenceKind.REVOKED_HERE_ONLY
            else f"将其从{result.month}中删除，不予拨付"
        )
        action = revocation_action(upload, compared_at, remove)
        differences[n] = replace(d, action=action, revocation_upload=upload)
    return replace(result, differences=tuple(differences))
