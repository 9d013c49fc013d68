"""``GET /api/v1/settlements/{id}/slip``: the settlement slip, for any role.

``Accept: text/html`` → the printable page (A4; ``?layout=receipt`` for an 80 mm printer);
``Accept: application/pdf`` → the PDF with its embedded Chinese font. ``?format=pdf|html``
overrides the header (a download link cannot set one). A bearer token (the API's) or a
signed-in session (the desks') admits the caller. Each rendering is audited: the slip shows
the worker's name.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from adapter.api.deps import EngineDep
from adapter.api.problems import error_item, problem
from adapter.store.tokens import DUTIES, ROLE_LABELS, authenticate
from adapter.store.uow import UnitOfWork
from adapter.web.auth import LoginRequired, session_of
from adapter.web.config import web_config
from adapter.web.pages.common import services
from adapter.web.render import page
from adapter.web.slip import build_slip
from adapter.web.slip_pdf import FONT_PACKAGE, SlipFontMissing, find_font, render_pdf

router = APIRouter(tags=["settlements"])

HTML, PDF = "text/html", "application/pdf"


def negotiate(accept: str, override: str | None) -> str | None:
    """``text/html`` or ``application/pdf``, whichever the client prefers (q-values
    honoured; HTML on a tie or ``*/*``); ``None`` when it accepts neither."""
    if override in ("pdf", "html"):
        return PDF if override == "pdf" else HTML
    best: tuple[float, int, str] | None = None
    for part in (accept or "*/*").split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        for offered, rank in ((HTML, 1), (PDF, 0)):
            if q > 0 and media in (offered, offered.split("/")[0] + "/*", "*/*"):
                candidate = (q, rank, offered)
                best = max(best, candidate) if best else candidate
    return best[2] if best else None


def _caller(request: Request, engine: Engine, wants_html: bool) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        principal = authenticate(engine, header[7:].strip())
        if principal is None:
            raise HTTPException(401, "访问令牌无效或已吊销")
        return _with_a_duty(principal.name, principal.roles)
    session = session_of(request)
    if session is not None:
        return _with_a_duty(session.user.name, session.user.roles)
    if wants_html:
        raise LoginRequired()
    raise HTTPException(401, "请提供访问令牌（Authorization: Bearer <令牌>）或先登录")


def _with_a_duty(name: str, roles: frozenset[str]) -> str:
    """Any role reads the slip, as any role reads the settlement — not the supervisor alone,
    which only adds the rehab override to a billing clerk (or the HIS)."""
    if not roles.intersection(DUTIES):
        wanted = "、".join(ROLE_LABELS[r] for r in DUTIES)
        raise HTTPException(403, f"该操作需要以下角色之一：{wanted}")
    return name


@router.get(
    "/api/v1/settlements/{settlement_id}/slip",
    summary="The settlement slip: printable HTML or PDF (Accept header)",
    response_class=Response,
    responses={
        200: {
            "description": "the slip as a printable page or a PDF with an embedded Chinese font",
            "content": {
                HTML: {"schema": {"type": "string"}},
                PDF: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        503: {
            "description": "PDF only: the Chinese font is missing (SLIP_FONT_MISSING); the "
            "problem names the package to install and links the HTML slip (html_slip)"
        },
    },
)
def slip(
    request: Request,
    engine: EngineDep,
    settlement_id: str,
    format: str | None = None,
    layout: str = "a4",
) -> Response:
    accept = request.headers.get("accept", "")
    # The caller first, so that a stranger learns nothing (not even which formats there are);
    # only a browser, which names text/html, is sent to sign in: curl's */* gets the 401.
    actor = _caller(request, engine, HTML in accept.lower())
    media = negotiate(accept, format)
    if media is None:
        raise HTTPException(406, "结算单可提供 text/html 或 application/pdf")
    found = build_slip(services(request), settlement_id)
    config = web_config(request)
    now = datetime.now(UTC)
    _audit(engine, actor, settlement_id, media)
    if media == HTML:
        return page(
            request,
            "slip.html",
            slip=found,
            layout="receipt" if layout == "receipt" else "a4",
            printed_at=now,
        )
    try:
        font = find_font(config.font_path)
    except SlipFontMissing as exc:
        return _font_missing(request, exc)
    body = render_pdf(found, font, config.zone, now)
    name = f"slip-{found.slip_no}.pdf"
    return Response(
        body, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


def _font_missing(request: Request, exc: SlipFontMissing) -> Response:
    """503: the PDF cannot be made here until IT installs the font; the HTML slip prints the
    same settlement now, so the answer links it (body and ``Link`` header)."""
    html = str(request.url.include_query_params(format="html"))
    message = (
        f"{exc.message}。现在可打开网页版结算单打印（内容相同）：{html}；"
        f"请信息科安装字体包 {FONT_PACKAGE} 后再生成 PDF"
    )
    answer = problem(
        503,
        "结算单 PDF 暂不可用：缺少中文字体",
        [error_item(exc.code, message)],
        html_slip=html,
        install=FONT_PACKAGE,
    )
    answer.headers["Link"] = f'<{html}>; rel="alternate"; type="text/html"'
    answer.headers["Retry-After"] = "3600"
    return answer


def _audit(engine: Engine, actor: str, settlement_id: str, media: str) -> None:
    with UnitOfWork(engine) as uow:
        uow.audit.append(
            actor=actor,
            action="settlement.slip",
            subject_type="settlement",
            subject_id=settlement_id,
            details={"format": "pdf" if media == PDF else "html"},
        )
        uow.commit()
