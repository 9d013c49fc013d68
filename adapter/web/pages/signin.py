"""Sign-in, sign-out and the start page (the desks the user's roles open).

Sign-in is throttled per user name and per client address (:mod:`adapter.web.throttle`):
while either is locked the password is not even checked; a lockout is audited when it starts
(``web.signin_locked``). Each sign-in, refusal, lockout and sign-out is also a log line with
the user name and the client address (``web.signin``, ``web.signin_failed``,
``web.signin_locked``, ``web.signout``), for IT asking who used a desk from which PC.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapter.api.deps import EngineDep
from adapter.store.uow import UnitOfWork
from adapter.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Csrf,
    desk,
    session_of,
)
from adapter.web.config import web_config
from adapter.web.render import page
from adapter.web.sessions import WebSession, close_session, open_session
from adapter.web.throttle import address_key, clear, locked_until, record_failure, user_key
from adapter.web.users import authenticate

router = APIRouter(prefix="/web", include_in_schema=False)
log = logging.getLogger("adapter.web")


def _local_path(target: str) -> str:
    """Only a path on this site may follow sign-in (no open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/web/"


def _login_page(request: Request, next_: str, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    notice = ""
    if request.query_params.get("expired"):
        notice = "登录已超时，请重新登录。"
        if request.query_params.get("unsent"):
            notice += "刚才提交的操作未执行，登录后请查看当前状态再重新办理。"
    elif request.query_params.get("bye"):
        notice = "您已退出登录。"
    response = page(
        request,
        "login.html",
        status_code=status,
        login_csrf=token,
        next=_local_path(next_),
        error=error,
        notice=notice,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/web/login",
        secure=web_config(request).secure_cookies,
    )  # fmt: skip
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/web/") -> Response:
    if session_of(request) is not None:
        return RedirectResponse(_local_path(next), status_code=303)
    return _login_page(request, next)


@router.post("/login")
def login(
    request: Request,
    engine: EngineDep,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/web/",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        return _login_page(request, next, "登录表单已失效，请重新输入后登录。", 403)
    config = web_config(request)
    now = datetime.now(UTC)
    address = request.client.host if request.client else ""
    keys = [user_key(name), address_key(address)]
    until = locked_until(engine, keys, now)
    if until is not None:
        log.warning(
            "web.signin_failed",
            extra={"user": name.strip()[:64], "client": address, "reason": "locked"},
        )
        shown = until.astimezone(config.zone).strftime("%H:%M")
        message = f"登录失败次数过多，已暂时锁定至 {shown}；如需提前解锁，请联系信息科。"
        return _login_page(request, next, message, 429)
    user = authenticate(engine, name, password)
    if user is None:
        log.warning(
            "web.signin_failed",
            extra={"user": name.strip()[:64], "client": address, "reason": "password"},
        )
        _count_failure(engine, name, address, config, now)
        return _login_page(request, next, "用户名或密码错误，或该用户已停用。", 401)
    clear(engine, [user_key(name)])
    token = open_session(engine, user, web_config(request).sessions)
    log.info(
        "web.signin", extra={"user": user.name, "roles": sorted(user.roles), "client": address}
    )
    response = RedirectResponse(_local_path(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
        secure=web_config(request).secure_cookies,
    )  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/web/login")
    return response


def _count_failure(engine: Any, name: str, address: str, config: Any, now: datetime) -> None:
    policy = config.throttle
    started = []
    if record_failure(engine, user_key(name), policy.user_failures, policy, now):
        started.append(("web_user", name.strip()[:64], policy.user_failures))
    limit = policy.address_failures
    if limit and record_failure(engine, address_key(address), limit, policy, now):
        started.append(("address", address, limit))
    if not started:
        return
    with UnitOfWork(engine) as uow:
        for kind, subject, failures in started:
            uow.audit.append(
                actor=name.strip()[:64] or "-",
                action="web.signin_locked",
                subject_type=kind,
                subject_id=subject,
                details={
                    "address": address,
                    "failures": failures,
                    "until": (now + policy.lockout).isoformat(),
                },
            )
        uow.commit()
    for kind, _subject, failures in started:
        log.warning(
            "web.signin_locked",
            extra={
                "user": name.strip()[:64],
                "client": address,
                "locked": kind,
                "failures": failures,
                "until": (now + policy.lockout).astimezone(config.zone).isoformat(),
            },
        )


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, engine: EngineDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        ending = session_of(request)
        close_session(engine, token)
        if ending is not None:
            client = request.client.host if request.client else ""
            log.info("web.signout", extra={"user": ending.user.name, "client": client})
    response = RedirectResponse("/web/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: Annotated[WebSession, Depends(desk())]) -> Response:
    return page(request, "home.html")
