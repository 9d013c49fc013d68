"""The IT upload-queue monitor, one screen for the state: at the top a row of counts that fits
above the fold of a 1366×768 screen — backlog, at risk, missed deadlines, failed (dead), and
settlements at risk of missing clearing — each linking to its list below: waiting jobs by time
left to their deadline (at-risk ones highlighted), the settlements at risk of missing clearing
with their cutoff and days left (N§35, B§33, B§37; N§40, N§43), dead letters with upstream's
message and a re-send with an edited payload; then the chart of backlog and latency, and the
upstream call log and the HL7 log, paged and filtered.

Wherever a row names a stay (就诊) it shows the stay's HIS visit number linked to the stay's
page (``/web/stays/{id}``), whether the row holds the encounter id or the HIS number.

The live block (``/web/monitor/live``) is re-fetched every few seconds by ``monitor.js``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapter.api.deps import (
    get_monthly,
    get_settings,
    optional_operations,
    optional_services,
)
from adapter.api.routes.common import RowId
from adapter.domain.errors import AdapterError
from adapter.domain.upstream import UPLOAD_STATUS_LABELS
from adapter.web.auth import Csrf, PageForbidden
from adapter.web.chart import history_svg
from adapter.web.config import web_config
from adapter.web.forms import problem as problem_of
from adapter.web.monitor_logs import SCAN, paged, stay_links
from adapter.web.ops import AtRiskRow, OperationsConsole, OpsConsole
from adapter.web.pages.common import ItDesk
from adapter.web.payloads import masked, restored
from adapter.web.render import call_purpose, page

router = APIRouter(prefix="/web/monitor", include_in_schema=False)
WAITING = ("in_flight", "pending")


def ops_of(request: Request) -> OpsConsole:
    """The console :func:`adapter.web.install` was given, else the operator use cases."""
    configured = web_config(request).ops
    if configured is not None:
        return configured
    operations = optional_operations(request)
    if operations is None:
        raise PageForbidden("本实例未启用上传队列（无运行时组件），请联系信息科")
    margin = timedelta(minutes=get_settings(request).queue.at_risk_minutes)
    return OperationsConsole(operations, get_monthly(request), margin, get_settings(request).zone)


Ops = Annotated[OpsConsole, Depends(ops_of)]


def time_left(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return f"已超时 {-seconds // 60} 分"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} 小时 {rest // 60} 分" if hours else f"{rest // 60} 分 {rest % 60} 秒"


def _live(
    request: Request, ops: OpsConsole, clearing: list[AtRiskRow] | None = None
) -> dict[str, Any]:
    counts = ops.counts()
    clearing = ops.clearing() if clearing is None else clearing
    now = datetime.now(UTC)
    waiting = sorted(
        (job for status in WAITING for job in ops.jobs(status, 200)), key=lambda j: j.deadline
    )
    rows = [
        {
            "job": job,
            "left": time_left(job.deadline - now),
            "missed": job.deadline <= now,
            "at_risk": job.deadline - now < counts.at_risk_margin,
        }
        for job in waiting
    ]
    services = optional_services(request)
    return {
        "counts": counts,
        "clearing_count": len(clearing),
        "waiting": rows,
        "labels": UPLOAD_STATUS_LABELS,
        "checked_at": now,
        "live_stays": stay_links(services, [j.ordering_key for j in waiting]),
    }


def _shown(payload: dict[str, Any]) -> str:
    return json.dumps(masked(payload), ensure_ascii=False, indent=2)


@router.get("", response_class=HTMLResponse)
def monitor(request: Request, _: ItDesk, ops: Ops) -> Response:
    return _page(request, ops)


def _page(
    request: Request,
    ops: OpsConsole,
    status: int = 200,
    typed: dict[int, tuple[str, str]] | None = None,
    **extra: Any,
) -> Response:
    """The IT page; a refused resend's job shows what was typed (``typed``: payload, note)."""
    typed = typed or {}
    zone = web_config(request).zone
    dead = ops.jobs("dead", 100)
    withdrawn = ops.jobs("withdrawn", 20)
    at_risk = ops.clearing()
    logs = _logs(request, ops)
    services = optional_services(request)
    named = [job.ordering_key for job in dead + withdrawn] + [r.encounter_id for r in at_risk]
    logs["stays"].update(stay_links(services, named))
    live = _live(request, ops, at_risk)
    # the stay's later uploads a dead one holds back: IT sees which to see to first
    holds = Counter(row["job"].waiting_for for row in live["waiting"])
    return page(
        request,
        "monitor.html",
        status_code=status,
        dead=[(job, *typed.get(job.id, (_shown(job.payload), ""))) for job in dead],
        holds=holds,
        withdrawn=withdrawn,
        chart=history_svg(ops.history(datetime.now(UTC)), zone),
        **logs,
        at_risk=at_risk,
        done=request.query_params.get("resent", ""),
        reversed_job=request.query_params.get("reversed", ""),
        reversal=request.query_params.get("reversal", ""),
        withdrawn_job=request.query_params.get("withdrawn", ""),
        **live,
        **extra,
    )


# How an upstream call ended, as IT reads it (the log stores the code; both find a row).
CALL_OUTCOMES = {
    "ok": "成功",
    "rejected": "上级系统拒绝",
    "unavailable": "无法访问上级系统",
    "malformed": "答复格式错误",
}
# How an HL7 message ended (connectors.hl7.message_log), with what IT does about it; None is
# a message still being processed, or whose processing stopped midway.
HL7_OUTCOMES = {
    "accepted": "已处理",
    "refused": "业务规则拒绝",
    "rejected": "格式有误或不支持（HIS 改正后重发）",
    "transient": "暂不能处理（待 HIS 重发）",  # upstream down, stay not admitted yet, disk full
    "failed": "适配器内部错误（修复后重新处理）",
    "duplicate": "重复消息（已按首条答复）",
    None: "未完成",
}


def _logs(request: Request, ops: OpsConsole) -> dict[str, Any]:
    """The call log and the HL7 log, paged and filtered, with the stays their rows name."""
    params = request.query_params
    services = optional_services(request)

    def aliases(q: str) -> tuple[str, ...]:
        stay = stay_links(services, [q]).get(q)
        return (stay.encounter_id, stay.his_visit_id) if stay else ()

    calls = paged(
        ops.calls(SCAN),
        lambda c: (
            c.infno,
            c.msgid,
            c.context,
            call_purpose(c.context),
            c.outcome,
            CALL_OUTCOMES.get(c.outcome),
            c.infcode,
            c.err_msg,
        ),
        params,
        "calls",
        aliases=aliases,
    )
    found = ops.hl7_messages(SCAN)
    messages = None
    if found is not None:
        messages = paged(
            found,
            lambda m: (
                m.message_type,
                m.control_id,
                m.visit_number,
                m.peer,
                m.ack_code,
                m.outcome,
                HL7_OUTCOMES.get(m.outcome),
                m.detail,
            ),
            params,
            "hl7",
            aliases=aliases,
        )
    keys = [c.context for c in calls.rows]
    keys += [m.visit_number or "" for m in (messages.rows if messages else [])]
    stays = stay_links(services, keys)
    return {
        "calls": calls,
        "messages": messages,
        "stays": stays,
        "call_outcomes": CALL_OUTCOMES,
        "hl7_outcomes": HL7_OUTCOMES,
    }


@router.get("/live", response_class=HTMLResponse)
def live(request: Request, _: ItDesk, ops: Ops) -> Response:
    return page(request, "_monitor_live.html", **_live(request, ops))


@router.post("/jobs/{job_id}/resend", dependencies=[Csrf])
def resend(
    request: Request,
    job_id: RowId,
    session: ItDesk,
    ops: Ops,
    payload: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    original = ops.job(job_id)
    corrected: dict[str, Any] | None = None
    try:
        if original is not None and payload.strip():
            edited = json.loads(payload)
            if not isinstance(edited, dict):
                raise ValueError("not an object")
            corrected = restored(edited, original.payload)
            if corrected == original.payload:
                corrected = None  # unchanged: re-send as stored
    except ValueError:
        error = f"任务 {job_id} 的报文不是有效的 JSON 对象，未重发"
        return _page(request, ops, 422, error=error, typed={job_id: (payload, note)})
    try:
        ops.resend(job_id, corrected, note.strip(), session.user.name)
    except AdapterError as exc:
        return _page(request, ops, 422, typed={job_id: (payload, note)}, **problem_of(exc))
    return RedirectResponse(f"/web/monitor?resent={job_id}", status_code=303)


@router.post("/jobs/{job_id}/reverse", dependencies=[Csrf])
def reverse(
    request: Request,
    job_id: RowId,
    session: ItDesk,
    ops: Ops,
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        reversal = ops.reverse(job_id, note.strip(), session.user.name)
    except AdapterError as exc:
        return _page(request, ops, 422, **problem_of(exc))
    return RedirectResponse(f"/web/monitor?reversed={job_id}&reversal={reversal}", status_code=303)


@router.post("/jobs/{job_id}/withdraw", dependencies=[Csrf])
def withdraw(request: Request, job_id: RowId, session: ItDesk, ops: Ops) -> Response:
    try:
        ops.withdraw(job_id, session.user.name)
    except AdapterError as exc:
        return _page(request, ops, 422, **problem_of(exc))
    return RedirectResponse(f"/web/monitor?withdrawn={job_id}", status_code=303)
