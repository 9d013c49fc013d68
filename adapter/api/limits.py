"""A request body larger than the limit is refused with 413 before it is read into memory.

The HIS sends a day's fees in one request at most (5,000 lines is well under a megabyte);
anything far larger is a mistake or an attack, and reading it whole would cost memory that the
clerks' requests need.
"""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM = "application/problem+json"


class BodyLimit:
    """Pure ASGI middleware: checks ``Content-Length`` first, then counts streamed bytes."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        started = refused = False

        async def counted() -> Message:
            # The app may catch what we raise here (FastAPI turns a failed body read into a
            # 400), so the 413 is sent from here and whatever the app answers is dropped.
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if not started and not refused:
                        refused = True
                        await self._refuse(send)
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):  # already answered with 413
            await self.app(scope, counted, tracked)

    async def _refuse(self, send: Send) -> None:
        message = f"请求内容超过 {self.max_bytes // 1024} KB 的上限，请分批发送"
        await send_problem(send, 413, "请求内容过大", "REQUEST_TOO_LARGE", message)


def problem_body(status: int, title: str, code: str, message: str, field: str = "") -> bytes:
    """A problem+json body, for answers sent below FastAPI's exception handlers."""
    problem = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": message,
        "errors": [{"code": code, "article": "", "field": field, "message": message}],
    }
    return json.dumps(problem, ensure_ascii=False).encode("utf-8")


async def send_problem(
    send: Send, status: int, title: str, code: str, message: str, field: str = ""
) -> None:
    """Answer with a problem+json body from an ASGI middleware."""
    body = problem_body(status, title, code, message, field)
    headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
