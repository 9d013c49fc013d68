"""The rehab plan (康复方案) of an inpatient rehab stay, and the gate it puts on settlement.

N§33 and B§32: the plan is uploaded *before* discharge settlement. Saving a plan stores it
(a new one replaces the old, with the next revision) and queues ``WI2501`` in the same
transaction; the same plan saved again (a second click, a resent PUT) answers the one saved.

**Deadline rule.** Discharge is not known when the plan is written, so the upload is due at
the earlier of the expected discharge (admission + ``expected_days``) and
``Policy.rehab_plan_upload_within`` (24 h) after saving — but never sooner than
``Policy.upload_within`` (30 min) from now, so a plan written on the last day is not born
late. Jobs of one encounter are delivered in order, so the plan always reaches upstream
before the discharge record queued after it.

**Gate.** Settling a rehab stay needs its plan acknowledged by upstream: the current revision,
or an earlier one (a plan revised after upstream had it: the revision, queued first, reaches
upstream before the discharge record). Without any plan, settlement is refused outright
(upstream would refuse the discharge record too). With no revision acknowledged yet, it is
refused unless a billing supervisor overrides with a reason — N§33 says "原则上", in
principle — and the override is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.errors import DomainError, InvalidMessage, InvalidTransition
from adapter.domain.ports import QueuedUpload
from adapter.domain.rehab_plans import check_plan
from adapter.domain.text import control_character, control_message
from adapter.domain.upstream import Infno
from adapter.services import payloads
from adapter.services.context import ServiceContext
from adapter.services.fees import OPEN
from adapter.services.locks import lock_encounter
from adapter.services.uploads import queue_upload, uploads_for
from adapter.store.repositories import RehabPlan
from adapter.store.uow import UnitOfWork

ARTICLE = "N§33, B§32"
# the gate's refusals (check_gate): the stay may be settled once its plan is through
GATE_CODES = frozenset({"REHAB_PLAN_MISSING", "REHAB_PLAN_NOT_ACKNOWLEDGED", "REHAB_PLAN_REFUSED"})
# a supervisor's reason to settle before the plan is acknowledged: a word, not a keystroke
OVERRIDE_REASON_MIN = 2


@dataclass(frozen=True)
class PlanSaved:
    plan: RehabPlan
    upload: QueuedUpload
    replayed: bool = False  # the same plan again: the one saved, no new revision or upload


def plan_deadline(ctx: ServiceContext, encounter: Encounter, expected_days: int) -> datetime:
    """The rule in the module docstring."""
    now = ctx.now()
    expected_discharge = encounter.admitted_at + timedelta(days=max(expected_days, 0))
    due = min(now + ctx.policy.rehab_plan_upload_within, expected_discharge)
    return max(due, now + ctx.policy.upload_within)


def current_plan(uow: UnitOfWork, encounter_id: str) -> RehabPlan | None:
    return uow.rehab_plans.get(encounter_id)


def plan_on_upstream(ctx: ServiceContext, uow: UnitOfWork, plan: RehabPlan) -> str:
    """``"acknowledged"`` when upstream acknowledged the current plan;
    ``"earlier_revision_acknowledged"`` when it has an earlier revision of it (the current one
    queued behind it reaches upstream before the discharge record queued after it) and no
    revision was refused; else ``""``.
    """
    if ctx.outbox.delivered(uow.session, plan.msgid):
        return "acknowledged"
    earlier = (
        u.msgid
        for u in uploads_for(uow, plan.encounter_id)
        if u.infno == Infno.REHAB_PLAN.value and u.msgid != plan.msgid
    )
    # a refused revision would hold the discharge record back behind it
    if any(ctx.outbox.delivered(uow.session, msgid) for msgid in earlier) and (
        refused_plan_upload(ctx, uow, plan.encounter_id) is None
    ):
        return "earlier_revision_acknowledged"
    return ""


def refused_plan_upload(ctx: ServiceContext, uow: UnitOfWork, encounter_id: str) -> str | None:
    """Upstream's reason for refusing a plan upload of the stay that is still dead (the
    queue keeps the stay's uploads in order, so later revisions wait behind it), else None."""
    for upload in uploads_for(uow, encounter_id):
        if upload.infno != Infno.REHAB_PLAN.value:
            continue
        state = ctx.outbox.job_state(uow.session, upload.msgid)
        if state is not None and state[0] == "dead":
            return (state[1] or "").split(": ", 1)[-1] or "（上级系统未说明原因）"
    return None


def check_gate(
    ctx: ServiceContext, uow: UnitOfWork, encounter: Encounter, override_reason: str
) -> str:
    """Refuse settling a rehab stay whose plan has not reached upstream (see module doc).

    Returns ``"acknowledged"``, ``"earlier_revision_acknowledged"`` (:func:`plan_on_upstream`),
    ``"overridden"`` or ``"not_rehab"`` for the audit entry.
    """
    if encounter.kind is not EncounterKind.REHAB:
        return "not_rehab"
    plan = current_plan(uow, encounter.id)
    if plan is None:
        raise DomainError(
            "住院康复须在出院结算前上传康复方案（N§33、B§32），该就诊尚未录入康复方案，"
            "请先录入并上传康复方案",
            code="REHAB_PLAN_MISSING",
            article=ARTICLE,
        )
    on_upstream = plan_on_upstream(ctx, uow, plan)
    if on_upstream:
        return on_upstream
    reason = override_reason.strip()
    char = control_character(reason, free_text=True)
    if char is not None:  # kept with the settlement and its audit entry: refused as REST does
        raise InvalidMessage(
            control_message("强制结算的原因", char, free_text=True),
            code="REHAB_OVERRIDE_REASON_INVALID",
            field="rehab_override_reason",
        )
    if len(reason) >= OVERRIDE_REASON_MIN:
        return "overridden"
    if reason:  # every caller (REST, the desk, HL7's supervisor) meets the same minimum
        raise DomainError(
            f"强制结算的原因至少{OVERRIDE_REASON_MIN}个字符（现为{len(reason)}个），"
            "请写明为何须在康复方案得到确认前结算（N§33、B§32）",
            code="REHAB_OVERRIDE_REASON_SHORT",
            article=ARTICLE,
        )
    refused = refused_plan_upload(ctx, uow, encounter.id)
    if refused is not None:
        raise DomainError(
            f"上级系统拒收了本次住院的康复方案：{refused}。康复方案须在出院结算前上传"
            "（N§33、B§32），被拒收的方案不会自动重发，之后保存的新版本也排在它之后："
            "请信息科在上传队列页面处理（更正后重新发送）；确需先行结算的，须由结算主管"
            "填写理由后强制结算，出院结算信息将在康复方案送达后上传",
            code="REHAB_PLAN_REFUSED",
            article=ARTICLE,
        )
    raise DomainError(
        "康复方案已提交但尚未得到上级系统确认接收，原则上须在出院结算前上传（N§33、B§32）。"
        "请稍后重试；确需先行结算的，须由结算主管填写理由后强制结算",
        code="REHAB_PLAN_NOT_ACKNOWLEDGED",
        article=ARTICLE,
    )


def _require_open(encounter: Encounter) -> None:
    """The plan goes up before discharge settlement (N§33, B§32): once settled, it is the
    plan the settlement went up with, changed only after the settlement is revoked."""
    if encounter.status not in OPEN:
        settled = encounter.status is EncounterStatus.SETTLED
        raise InvalidTransition(
            f"就诊状态为“{encounter.status.label}”，不能再修改康复方案"
            + ("：康复方案须在出院结算前上传，如需更正请先撤销结算后再修改" if settled else ""),
            code="ENCOUNTER_NOT_OPEN",
            article=ARTICLE,
        )


class RehabPlans:
    def __init__(self, ctx: ServiceContext):
        self._ctx = ctx

    def save(self, encounter_id: str, plan: Mapping[str, Any], *, actor: str) -> PlanSaved:
        ctx = self._ctx
        check_plan(plan)
        with ctx.uow(immediate=True) as uow:
            lock_encounter(uow, encounter_id)
            record = uow.encounters.get(encounter_id)
            encounter = record.encounter
            if encounter.kind is not EncounterKind.REHAB:
                raise InvalidTransition(
                    f"康复方案仅适用于住院康复，本次就诊为{encounter.kind.label}",
                    code="NOT_A_REHAB_STAY",
                )
            _require_open(encounter)
            previous = current_plan(uow, encounter_id)
            if previous is not None and dict(previous.plan) == dict(plan):
                sent = next(u for u in uploads_for(uow, encounter_id) if u.msgid == previous.msgid)
                upload = QueuedUpload(sent.job_id, sent.infno, sent.msgid, sent.deadline)
                return PlanSaved(previous, upload, replayed=True)
            revision = previous.revision + 1 if previous else 1
            upload = queue_upload(
                ctx,
                uow,
                infno=Infno.REHAB_PLAN,
                input=payloads.rehab_plan_input(encounter, plan, revision),
                encounter_id=encounter_id,
                insuplc_admdvs=encounter.insured_admdvs,
                deadline=plan_deadline(ctx, encounter, int(plan.get("expected_days") or 0)),
            )
            saved = RehabPlan(encounter_id, revision, dict(plan), upload.msgid, ctx.now(), actor)
            uow.rehab_plans.save(saved)
            uow.encounters.update(encounter, expected_version=record.version)
            uow.audit.append(
                actor=actor,
                action="rehab_plan.save",
                subject_type="encounter",
                subject_id=encounter_id,
                details={"revision": revision, "msgid": upload.msgid},
            )
            uow.commit()
        return PlanSaved(saved, upload)

    def get(self, encounter_id: str) -> RehabPlan | None:
        with self._ctx.uow() as uow:
            uow.encounters.get(encounter_id)
            return current_plan(uow, encounter_id)

    def acknowledged(self, plan: RehabPlan) -> bool:
        with self._ctx.uow() as uow:
            return self._ctx.outbox.delivered(uow.session, plan.msgid)
