"""Sign-in state for the pages: the session cookie, role checks and CSRF checks.

Pages depend on :func:`desk` (``Depends(desk("billing"))``) and forms also on
:func:`check_csrf`. Failures are exceptions that :func:`install_handlers` turns into what a
person at a browser needs: no or expired session → the sign-in page (saying why, and coming
back afterwards); wrong role or a failed CSRF check → a 403 page in Chinese.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.routing import Match

from adapter.api.deps import get_engine
from adapter.store.tokens import ROLE_LABELS
from adapter.web.config import web_config
from adapter.web.navigation import nav_for
from adapter.web.sessions import WebSession, load_session

SESSION_COOKIE = "wi_session"
LOGIN_CSRF_COOKIE = "wi_login_csrf"


class LoginRequired(Exception):
    def __init__(self, expired: bool = False):
        super().__init__("login required")
        self.expired = expired


class PageForbidden(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def session_of(request: Request) -> WebSession | None:
    """The request's live session, if any (cached on ``request.state``)."""
    if hasattr(request.state, "web_session"):
        return request.state.web_session
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token:
        found = load_session(get_engine(request), token, web_config(request).sessions)
    request.state.web_session = found
    return found


def signed_in(request: Request) -> WebSession:
    found = session_of(request)
    if found is None:
        raise LoginRequired(expired=bool(request.cookies.get(SESSION_COOKIE)))
    return found


def desk(*roles: str) -> Callable[..., WebSession]:
    """A dependency admitting signed-in users holding any of ``roles`` (none: any user)."""

    def dependency(session: Annotated[WebSession, Depends(signed_in)]) -> WebSession:
        if roles and not session.user.roles.intersection(roles):
            wanted = "、".join(ROLE_LABELS.get(r, r) for r in roles)
            raise PageForbidden(
                f"该页面需要以下角色之一：{wanted}。您的角色：{session.user.role_labels}"
            )
        return session

    return dependency


async def check_csrf(request: Request, session: Annotated[WebSession, Depends(signed_in)]) -> None:
    """Every form posts its session's CSRF token back; anything else is refused."""
    form = await request.form()
    sent = str(form.get("csrf_token", ""))
    if not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise PageForbidden("表单已失效或来源不明（CSRF 校验未通过），请刷新页面后重新提交")


Csrf = Depends(check_csrf)


def _page_of(request: Request, path: str) -> str:
    """The page to come back to after signing in again: the form's page (``/web/admission``
    for the answer to its check, ``/web/admission/check``, which only a form may open)."""
    while path.startswith("/web/") and path != "/web/":
        scope = {"type": "http", "path": path, "method": "GET"}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.routes):
            return path
        path = path.rstrip("/").rsplit("/", 1)[0] or "/web/"
    return "/web/"


def install_handlers(app: FastAPI) -> None:
    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = _page_of(request, urlsplit(request.headers.get("referer", "")).path)
        where = f"/web/login?next={quote(target, safe='')}"
        if exc.expired:
            where += "&expired=1"
        if request.method != "GET":
            where += "&unsent=1"  # the sign-in page says the form was not acted on
        response = RedirectResponse(where, status_code=303)
        if exc.expired:
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageForbidden)
        templates = web_config(request).templates
        session = session_of(request)
        context = {
            "title": "无权访问",
            "message": exc.message,
            "session": session,
            # the page keeps its header: the desks this user may open, and a working sign-out
            "nav": nav_for(session.user.roles) if session else [],
            "csrf": session.csrf_token if session else "",
        }
        return templates.TemplateResponse(request, "error.html", context, status_code=403)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageForbidden, forbidden)
