"""The desks' work lists: what a clerk has to do today, one row per stay, names masked.

The billing desk (N§33, B§31, B§32): stays in hospital, ready to settle (the HIS reported the
discharge, HL7 A03; a rehab stay without a delivered plan is flagged, N§33, B§32), waiting for
upstream (N§38), settled with the upload pending, and settled with the upload failed: refused
for good (a dead job) or still undelivered past its 30-minute deadline (N§33, B§31) — listed
whatever day it was settled, until IT has it delivered. The admission desk: today's admissions
and cancellations. Reads only; nothing is written, upstream is not asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.people import mask_name
from adapter.domain.upstream import Infno
from adapter.services.context import ServiceContext
from adapter.services.monthly_clearing import UploadTracker
from adapter.services.views import UploadState, encounter_view
from adapter.store.repositories import EncounterRecord, WaitingStay
from adapter.store.uow import UnitOfWork


class Queue:
    IN_HOSPITAL = "in_hospital"
    READY = "ready"
    WAITING = "waiting"
    UPLOAD = "upload"
    UPLOAD_FAILED = "upload_failed"
    SETTLED = "settled"
    ADMITTED = "admitted"
    CANCELLED = "cancelled"
    CLAIM = "manual_claim"
    FITTED = "fitted"
    FIT_OPEN = "fit_open"


LABELS = {
    Queue.IN_HOSPITAL: "在院",
    Queue.READY: "待出院结算",
    Queue.WAITING: "等待上级系统",
    Queue.UPLOAD: "结算待上传",
    Queue.UPLOAD_FAILED: "结算上传失败或超时",
    Queue.SETTLED: "已结算已上传",
    Queue.ADMITTED: "今日入院",
    Queue.CANCELLED: "今日取消入院",
    Queue.CLAIM: "转手工报销",
    Queue.FITTED: "今日配置已结算",
    Queue.FIT_OPEN: "配置待结算",
}


@dataclass(frozen=True)
class WorkRow:
    encounter_id: str
    his_visit_id: str
    name: str  # masked
    kind: str  # Chinese label
    status: str  # Chinese label
    queue: str  # one of Queue
    admitted_at: datetime
    flag: str = ""  # what the clerk must look at, with its article


def _row(e: Encounter, name: str, queue: str, flag: str = "") -> WorkRow:
    """A stay as a work list shows it: the worker's name masked."""
    return WorkRow(
        e.id, e.his_visit_id, mask_name(name), e.kind.label, e.status.label, queue,
        e.admitted_at, flag,
    )  # fmt: skip


def _start_of_today(ctx: ServiceContext) -> datetime:
    today = ctx.local_date(ctx.now())
    return datetime.combine(today, time(), tzinfo=ctx.zone)


def _stuck_settlements(ctx: ServiceContext, uow: UnitOfWork) -> list[EncounterRecord]:
    """Settled stays of any day whose discharge record (WI2301) is not delivered yet."""
    tracker = ctx.outbox
    if not isinstance(tracker, UploadTracker):
        return []
    msgids = list(tracker.unfinished(uow.session, (Infno.DISCHARGE.value,)))
    if not msgids:
        return []
    found = [uow.encounters.find(i) for i in uow.uploads.encounters_of(msgids)]
    return [r for r in found if r is not None and r.encounter.status is EncounterStatus.SETTLED]


def _upload_trouble(ctx: ServiceContext, pending: list[UploadState]) -> tuple[str, str]:
    """(queue, flag) of a settled stay with undelivered uploads: failed when one is refused
    for good (dead) or past its deadline, else waiting for its upload."""
    with ctx.uow() as uow:
        states = {
            u.upload.msgid: ctx.outbox.job_state(uow.session, u.upload.msgid) for u in pending
        }
    for u in pending:
        status, error = states[u.upload.msgid] or ("pending", "")
        if status == "dead":
            error = re.sub(r"^[A-Za-z]+: ", "", error)  # the error's class name is not for clerks
            said = f"（上级系统：{error}）" if error else ""
            return Queue.UPLOAD_FAILED, (
                f"{u.upload.infno} 上传失败{said}，不会再自动重试；"
                "请信息科在上传队列页面更正后重发（N§33、B§31）"
            )
    late = [u for u in pending if u.upload.deadline < ctx.now()]
    if late:
        return Queue.UPLOAD_FAILED, (
            f"{late[0].upload.infno} 超过30分钟上传期限仍未送达（N§33、B§31），"
            "请信息科在上传队列页面处理"
        )
    return Queue.UPLOAD, "出院结算信息待上传（30分钟内，N§33、B§31）"


def billing_list(ctx: ServiceContext, waiting: list[WaitingStay]) -> list[WorkRow]:
    """Today's stays for the billing desk (medical and rehab), most urgent first; and the
    settlements of earlier days whose upload has not got through."""
    waiting_ids = {w.encounter_id for w in waiting}
    rows: list[WorkRow] = []
    with ctx.uow() as uow:
        records = uow.encounters.list_for_desk(ctx.institution.code, _start_of_today(ctx))
        listed = {r.encounter.id for r in records}
        records += [r for r in _stuck_settlements(ctx, uow) if r.encounter.id not in listed]
        names = {
            r.encounter.psn_no: (p.name if (p := uow.persons.get(r.encounter.psn_no)) else "")
            for r in records
        }
    for record in records:
        e = record.encounter
        if e.kind is EncounterKind.DEVICE:
            continue
        flag = ""
        if e.id in waiting_ids:
            queue = Queue.WAITING
        elif e.status in (EncounterStatus.ADMITTED, EncounterStatus.REVOKED):
            queue = Queue.READY if record.ready_to_settle else Queue.IN_HOSPITAL
            if queue == Queue.READY and e.kind is EncounterKind.REHAB:
                view = encounter_view(ctx, e.id)
                if not view.rehab_plan_gate_open:
                    flag = "康复方案尚未送达上级系统（N§33、B§32）"
        elif e.status is EncounterStatus.SETTLED:
            view = encounter_view(ctx, e.id)
            pending = [u for u in view.uploads if not u.delivered]
            queue, flag = _upload_trouble(ctx, pending) if pending else (Queue.SETTLED, "")
        elif e.status is EncounterStatus.MANUAL_CLAIM:
            queue = Queue.CLAIM
        else:
            continue
        rows.append(_row(e, names.get(e.psn_no, ""), queue, flag))
    order = [
        Queue.UPLOAD_FAILED,
        Queue.WAITING,
        Queue.READY,
        Queue.UPLOAD,
        Queue.IN_HOSPITAL,
        Queue.CLAIM,
    ]
    rank = {q: i for i, q in enumerate(order)}
    rows.sort(key=lambda r: (rank.get(r.queue, len(order)), r.admitted_at))
    return rows


def admission_list(ctx: ServiceContext) -> list[WorkRow]:
    """Today's admissions and cancellations at the admission desk."""
    since = _start_of_today(ctx)
    rows: list[WorkRow] = []
    with ctx.uow() as uow:
        for record in uow.encounters.list_for_desk(ctx.institution.code, since):
            e = record.encounter
            if e.kind is EncounterKind.DEVICE:
                continue
            if e.status is EncounterStatus.CANCELLED:
                queue = Queue.CANCELLED
            elif e.admitted_at >= since:
                queue = Queue.ADMITTED
            else:
                continue
            person = uow.persons.get(e.psn_no)
            rows.append(_row(e, person.name if person else "", queue))
    return rows


def device_list(ctx: ServiceContext) -> list[WorkRow]:
    """The device counter's fittings of today: settled, and any still open (revoked, to be
    settled again). A fitting is settled when it is recorded, so there is no other queue."""
    rows: list[WorkRow] = []
    with ctx.uow() as uow:
        for record in uow.encounters.list_for_desk(ctx.institution.code, _start_of_today(ctx)):
            e = record.encounter
            if e.kind is not EncounterKind.DEVICE:
                continue
            if e.status in (EncounterStatus.ADMITTED, EncounterStatus.REVOKED):
                queue = Queue.FIT_OPEN
            elif e.status is EncounterStatus.SETTLED:
                queue = Queue.FITTED
            else:
                queue = Queue.CLAIM
            person = uow.persons.get(e.psn_no)
            rows.append(_row(e, person.name if person else "", queue))
    return rows
