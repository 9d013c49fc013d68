"""Errors on the desk pages, as pages. What the API answers as problem+json — an address that
does not exist, a form's address opened in the address bar, the database busy or down, an
unexpected error — a clerk's browser shows as the desk's error page, in Chinese, with the
header and where to go next; the API's clients keep their problem+json."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from adapter.web.auth import session_of
from adapter.web.config import web_config
from adapter.web.navigation import nav_for

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]

# Starlette's own answers are English ("Not Found"): what the clerk reads instead.
HTTP_PAGES = {
    404: ("页面不存在", "该页面不存在：地址可能输入有误，或链接已过期。请从工作台重新进入。"),
    405: (
        "该地址不能直接打开",
        "该地址只用于提交表单，不能在地址栏打开或刷新；请从工作台重新进入，刚才的操作如未看到结果，请先查看该就诊的当前状态再决定是否重做。",
    ),
}


def install_error_pages(app: FastAPI) -> None:
    """Wrap the handlers the app has so far: a desk page's error becomes a page."""
    for key, original in list(app.exception_handlers.items()):
        app.add_exception_handler(key, _as_page(original))


def _as_page(original: Handler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        response = original(request, exc)
        if inspect.isawaitable(response):
            response = await response
        if not (_is_page(request) and isinstance(response, JSONResponse)):
            return response
        return _page(request, response, exc)

    return handler


def _is_page(request: Request) -> bool:
    path = request.url.path
    wants_html = "text/html" in request.headers.get("accept", "")
    return path.startswith("/web/") and not path.startswith("/web/static/") and wants_html


def _page(request: Request, problem: JSONResponse, exc: Exception) -> Response:
    body: dict[str, Any] = json.loads(bytes(problem.body))
    errors = body.get("errors") or [{}]
    title, message = str(body.get("title", "")), str(errors[0].get("message", ""))
    if isinstance(exc, HTTPException) and exc.status_code in HTTP_PAGES:
        title, message = HTTP_PAGES[exc.status_code]
    try:  # the database may be what failed: then the page goes without the header's desks
        session = session_of(request)
    except Exception:  # whatever it was, the page is still shown, without the desks
        session = None
    parts = request.url.path.split("/")
    context = {
        "title": title,
        "message": message,
        "session": session,
        "nav": nav_for(session.user.roles) if session else [],
        "csrf": session.csrf_token if session else "",
        "desk": "/".join(parts[:3]) if len(parts) > 3 else "",
        "server_error": problem.status_code >= 500,
    }
    page = web_config(request).templates.TemplateResponse(
        request, "error.html", context, status_code=problem.status_code
    )
    if "retry-after" in problem.headers:
        page.headers["Retry-After"] = problem.headers["retry-after"]
    return page
