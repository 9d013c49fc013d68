"""What the billing desk tells the clerk before settling, each with its article: warnings that
stop or should stop the click, and information that does not (N§13)."""

from __future__ import annotations

from dataclasses import dataclass

from adapter.domain.encounters import EncounterKind, EncounterStatus
from adapter.services.context import ServiceContext
from adapter.services.views import EncounterView


@dataclass(frozen=True)
class Notice:
    code: str
    article: str
    message: str
    field: str = ""


@dataclass(frozen=True)
class DeskNotices:
    warnings: tuple[Notice, ...]
    information: tuple[Notice, ...]


def before_settle(ctx: ServiceContext, view: EncounterView) -> DeskNotices:
    """Warnings and information for a stay the clerk may settle (admitted or revoked)."""
    e = view.encounter
    if e.status not in (EncounterStatus.ADMITTED, EncounterStatus.REVOKED):
        return DeskNotices((), ())
    warnings: list[Notice] = []
    unmapped = [s.line.line_id for s in view.fees.unmapped]
    if unmapped:
        warnings.append(
            Notice(
                "UNMAPPED_LINES",
                "N§32",
                f"明细 {'、'.join(unmapped)} 尚未对照就医地目录：结算前须在下方费用明细中"
                "对照目录编码，或确认为目录外项目（目录外费用由个人支付）",
            )
        )
    if e.kind is EncounterKind.REHAB and not view.rehab_plan_gate_open:
        if view.rehab_plan is None:
            what = "尚未填写，请先填写并上传康复方案"
        elif view.rehab_plan_refused is not None:
            what = (
                f"被上级系统拒收（{view.rehab_plan_refused}），不会自动重发：请信息科在上传队列"
                "页面处理；确需先行结算的，须由结算主管填写强制结算原因"
            )
        else:
            what = "已保存但上级系统尚未确认接收；确需先行结算的，须由结算主管填写强制结算原因"
        warnings.append(
            Notice(
                "REHAB_PLAN_NOT_DELIVERED",
                "N§33、B§32",
                f"住院康复须在出院结算前上传康复方案，该就诊的康复方案{what}",
            )
        )
    information: list[Notice] = []
    today = ctx.local_date(ctx.now())
    with ctx.uow() as uow:
        filing = uow.filings.get(e.filing_no)
    admitted_on = ctx.local_date(e.admitted_at)
    if filing is not None and admitted_on <= filing.effective_to < today:
        information.append(
            Notice(
                "FILING_EXPIRED_DURING_STAY",
                "N§13",
                f"备案 {filing.filing_no} 的有效期已于 {filing.effective_to} 届满（住院期间）："
                "本次住院入院时备案有效，仍可正常直接结算；请提醒职工下次就医前重新备案",
            )
        )
    return DeskNotices(tuple(warnings), tuple(information))
