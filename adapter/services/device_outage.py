"""Upstream down at the device counter (N§38, B§27): the fitting waits, or is recorded as a
manual-claim case from the start (:mod:`.device_claims`).

Fitting (:mod:`.devices`) raises the outage and settles a case that switches to direct
settlement; the case module builds on the fitting. What both need of the outage lives here,
under both, so neither imports the other for it. The guards keep one fitting from being
reimbursed twice: directly, and by the insured place from its fee list — whichever of the two
came first (:func:`refuse_beside_a_case`, :func:`refuse_after_direct_fitting`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import InvalidTransition
from adapter.domain.filings import same_notice
from adapter.services.context import ServiceContext
from adapter.services.device_replacements import where_fitted
from adapter.services.manual_claim_records import open_case
from adapter.services.upstream_outage import UpstreamDownAtDesk
from adapter.store.uow import UnitOfWork

DEVICE_OUTAGE_ARTICLE = "N§38, B§27"
DEVICE_OUTAGE_MESSAGE = (
    "上级系统（省级及国家工伤保险异地就医系统）当前无法访问，不能核验身份、辅助器具备案和"
    "付费核准通知书，暂不能按跨省异地直接结算配置辅助器具（N§38、B§27）。可等待上级系统恢复"
    "后再配置结算；或按手工报销登记本次配置（网络或系统故障，N§38、B§27）：打印费用清单由"
    "参保地经办机构手工报销；费用清单交付前上级系统恢复的，可在核验身份、备案和通知书后转为"
    "直接结算"
)


class UpstreamDownAtDeviceCounter(UpstreamDownAtDesk):
    """A full upstream outage at the device counter: fit later, or a manual-claim case from
    the start (N§38, B§27)."""

    code = "UPSTREAM_DOWN_AT_DEVICE_COUNTER"
    article = "N§38, B§27"

    def __init__(self) -> None:
        super().__init__(
            DEVICE_OUTAGE_MESSAGE,
            retry_label="等待上级系统恢复后再配置结算",
            manual_claim_label="按手工报销登记本次配置",
        )


@dataclass(frozen=True)
class DeviceCase:
    """A manual-claim case from the start to settle directly now (its claim and encounter)."""

    claim_id: str
    encounter_id: str
    recorded_at: datetime | None = None  # the case's recording: its fitting time's age counts to it


def require_open(uow: UnitOfWork, case: DeviceCase) -> None:
    """The case may switch to direct settlement only while its fee list is not handed over."""
    if open_case(uow, case.encounter_id) != case.claim_id:
        raise InvalidTransition(
            "费用清单已交付或已转为直接结算，请刷新后查看",
            code="MANUAL_CLAIM_HANDED_OVER",
            article=DEVICE_OUTAGE_ARTICLE,
        )


def refuse_recorded_case(uow: UnitOfWork, encounter_id: str) -> NoReturn:
    """The same fitting was recorded as a case and not settled directly: refused while it is a
    case, or once its fee list was handed over (N§38 杜绝重复报销, B§27)."""
    claim_id = open_case(uow, encounter_id)
    if claim_id:
        raise InvalidTransition(
            f"本次配置在上级系统中断时已按手工报销登记（手工报销记录{claim_id}），"
            "费用清单尚未交付：请在该记录上核验身份、备案和通知书后转为直接结算，"
            "不能再次配置结算（N§38、B§27）",
            code="DEVICE_MANUAL_CLAIM_CASE",
            article=DEVICE_OUTAGE_ARTICLE,
        )
    raise InvalidTransition(
        "本次配置已按手工报销交付费用清单，由参保地经办机构手工报销，不能再直接结算"
        "（N§38、B§27，杜绝重复报销）",
        code="MANUAL_CLAIM_HANDED_OVER",
        article=DEVICE_OUTAGE_ARTICLE,
    )


def refuse_beside_a_case(
    uow: UnitOfWork,
    institution_code: str,
    psn_nos: Collection[str],
    notice_no: str,
    device_codes: Collection[str],
    *,
    switching: str = "",
) -> None:
    """A direct fitting of an item under a notice while the same worker's fitting of that item
    under that notice is a manual-claim case here (open, or its fee list handed over): refused,
    whatever time or cost the fitting is entered with now — the insured place reimburses the
    case's fee list, and one approval pays an item once (N§38 杜绝重复报销, B§27, B§34).

    ``switching`` is the encounter of a case switching to direct settlement itself: its own
    case is skipped, and so are other open ones (pricing then sees the switched fitting as
    the earlier one under the same notice); a handed-over one still refuses it."""
    notice = notice_no.strip()
    # Cases under a card's stand-in are matched by their notice alone: the card may be one
    # the store never saw (a reissued card, the e-card's QR code), and the notice is the
    # worker's filing's (N§34, B§34).
    for claim in uow.manual_claims.device_cases(institution_code, psn_nos, stand_ins=True):
        if claim.encounter_id == switching:
            continue
        is_open = claim.from_start and claim.handed_over_at is None
        if switching and is_open:
            continue
        names = _same_items(claim.fee_list, notice, device_codes)
        if not names:
            continue
        if is_open:
            raise InvalidTransition(
                f"{names}已按同一核付通知单（{notice}）在上级系统中断时按手工报销登记"
                f"（手工报销记录{claim.id}），费用清单尚未交付：请在该记录上核验身份、备案和"
                "通知书后转为直接结算，不能按该通知单再次配置结算（N§38、B§27，杜绝重复报销）",
                code="DEVICE_MANUAL_CLAIM_CASE",
                article=DEVICE_OUTAGE_ARTICLE,
            )
        raise InvalidTransition(
            f"{names}已按同一核付通知单（{notice}）按手工报销交付费用清单（手工报销记录"
            f"{claim.id}），由参保地经办机构手工报销，不能再按该通知单直接结算"
            "（N§38、B§27，杜绝重复报销）",
            code="MANUAL_CLAIM_HANDED_OVER",
            article=DEVICE_OUTAGE_ARTICLE,
        )


def _same_items(fee_list: dict[str, Any], notice: str, device_codes: Collection[str]) -> str:
    """The names of the items in ``device_codes`` a case's fitting lists under ``notice``
    ("、"-joined, "" for none); a case that is not a fitting lists none."""
    fitting = fee_list.get("fitting")
    if not isinstance(fitting, dict):
        return ""
    # The case's notice as typed while upstream was down, not checked against the filing.
    if not same_notice(str(fitting.get("approval_notice_no", "")), notice):
        return ""
    # an item the case lists as the worker's (a confirmed repeat) is claimed from nobody; a
    # code in another letter case is the same item here (only refusing, never pricing, reads
    # it so: a case typed while nothing could check it, :mod:`.device_codes`)
    folded = {c.casefold() for c in device_codes}
    names = [
        str(i.get("device_name") or i.get("device_code"))
        for i in fitting.get("items", ())
        if str(i.get("device_code", "")).casefold() in folded and not i.get("worker_pays")
    ]
    return "、".join(dict.fromkeys(names))


def refuse_after_direct_fitting(
    ctx: ServiceContext,
    uow: UnitOfWork,
    psn_no: str,
    notice_no: str,
    device_codes: Collection[str],
    *,
    numbers: Collection[str] = (),
    handing_over: bool = False,
    field: str = "",
) -> None:
    """A fitting of an item under a notice about to become a manual claim (a case recorded, or
    its fee list handed over) while the fund already paid the same worker's fitting of that
    item under that notice directly: refused — the insured place would reimburse the item a
    second time from the fee list (N§38 杜绝重复报销, B§27). The reverse of
    :func:`refuse_beside_a_case`. A revoked direct settlement paid nothing and does not count;
    neither does an item the worker paid alone there (no fund money to pay twice).

    Checked at both moments. Recording is the earliest, before any paperwork, but upstream is
    down then and the case may be keyed only by the card's stand-in (``"?<card or citizen
    id>"``): the worker is found as the store last saw them — every person whose citizen id or
    card number is one of ``numbers`` (the card's), the way :func:`.device_keys.case_psn_nos`
    maps a checked worker to the stand-ins. Hand-over is the last moment before the insured
    place pays: checked again with the case's ``psn_no`` (a stand-in is read back into its
    number), so a direct fitting or a person the store learned of after recording is seen too. A
    card the store never saw with its number (a reissued card, the e-card's QR code) matches
    nobody by number: the worker is then the one whose stored device filing carries the notice —
    the insured place issues a notice on one filing."""
    notice = notice_no.strip()
    if not notice:
        return
    wanted = set(numbers)
    who: list[str] = []
    if psn_no.startswith("?"):
        wanted.add(psn_no[1:])
    elif psn_no:
        who.append(psn_no)
        known = uow.persons.get(psn_no)
        if known is not None:
            wanted.update((known.citizen_id, known.card_no))
    who += [p.psn_no for p in uow.persons.find_by_card(wanted)]
    # A card the store never saw (reissued, or the e-card's QR code) matches nobody by number;
    # the notice still names the worker whose filing carries it (N§34, B§34).
    who += uow.filings.holders_of_notice(notice)
    folded = {c.casefold() for c in device_codes}
    for person in dict.fromkeys(who):
        for record in uow.encounters.list_for_person(person):
            encounter = record.encounter
            if encounter.kind is not EncounterKind.DEVICE:
                continue
            settlement = uow.settlements.find_active(encounter.id)
            if settlement is None:  # not settled, or revoked: the fund paid nothing
                continue
            filing = uow.filings.get(encounter.filing_no)
            if filing is None or not same_notice(notice, filing.approval_notice_no):
                continue
            paid = [  # in any letter case, as in :func:`_same_items`
                line.line.item_name or line.line.item_code
                for line in settlement.bill.lines
                if line.line.item_code.casefold() in folded and line.fund_pay > 0
            ]
            if not paid:  # other items, or ones the worker paid alone: nothing paid twice
                continue
            names = "、".join(dict.fromkeys(paid))
            day = settlement.bill.discharged_on.isoformat()  # the fitting date
            where = where_fitted(ctx, uow, encounter.institution_code)
            slip_no = settlement.slip_no
            step = "交付费用清单" if handing_over else "登记"
            raise InvalidTransition(
                f"{names}已于{day}在{where}按同一核付通知单（{notice}）直接结算，基金已支付"
                f"（结算单号{slip_no}），不能再按手工报销{step}、"
                "由参保地经办机构再次报销（N§38、B§27，杜绝重复报销）；确需再次配置的，"
                "须持参保地核准再次配置的核付通知单办理",
                code="DEVICE_SETTLED_DIRECTLY",
                article=DEVICE_OUTAGE_ARTICLE,
                field=field,
            )
