"""The signed-in user's own password change (``/web/password``); IT resets with the CLI."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from adapter.api.deps import EngineDep
from adapter.domain.errors import DomainError
from adapter.store.uow import UnitOfWork
from adapter.web.auth import SESSION_COOKIE, Csrf, desk
from adapter.web.render import page
from adapter.web.sessions import WebSession, end_other_sessions
from adapter.web.users import change_password

router = APIRouter(prefix="/web", include_in_schema=False)


@router.get("/password", response_class=HTMLResponse)
def password_form(request: Request, session: Annotated[WebSession, Depends(desk())]) -> Response:
    return page(request, "password.html", title="修改密码")


@router.post("/password", dependencies=[Csrf])
def password_change(
    request: Request,
    session: Annotated[WebSession, Depends(desk())],
    engine: EngineDep,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    repeat: Annotated[str, Form()] = "",
) -> Response:
    if new != repeat:
        return page(request, "password.html", 422, title="修改密码", error="两次输入的新密码不一致")
    try:
        change_password(engine, session.user.id, current, new)
    except DomainError as exc:
        return page(request, "password.html", 422, title="修改密码", error=exc.message)
    end_other_sessions(engine, session.user.id, request.cookies.get(SESSION_COOKIE, ""))
    with UnitOfWork(engine) as uow:
        uow.audit.append(
            actor=session.user.name,
            action="user.password_changed",
            subject_type="web_user",
            subject_id=session.user.name,
            details={"by": "self"},
        )
        uow.commit()
    return page(
        request, "password.html", title="修改密码", notice="密码已修改；其他已登录的会话已退出。"
    )
