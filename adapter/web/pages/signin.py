"""Sign-in, sign-out and the start page (the desks the user's roles open)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

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
from adapter.web.users import authenticate

router = APIRouter(prefix="/web", include_in_schema=False)


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
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/web/",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        return _login_page(request, next, "登录表单已失效，请重新输入后登录。", 403)
    engine = request.app.state.engine
    user = authenticate(engine, name, password)
    if user is None:
        return _login_page(request, next, "用户名或密码错误，或该用户已停用。", 401)
    token = open_session(engine, user, web_config(request).sessions)
    response = RedirectResponse(_local_path(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
        secure=web_config(request).secure_cookies,
    )  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/web/login")
    return response


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        close_session(request.app.state.engine, token)
    response = RedirectResponse("/web/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: Annotated[WebSession, Depends(desk())]) -> Response:
    return page(request, "home.html")
