"""Control characters in a request's path, query or body are refused with 422 naming the field.

A NUL cannot be stored by PostgreSQL (the driver raises ``DataError``), and no control
character belongs in an identifier, a code or a line of text (:mod:`adapter.domain.text`).
The request models refuse them field by field (``Strict`` in
:mod:`adapter.api.routes.common`, with the free-text exceptions); this pure ASGI middleware
is the net under every route, including those whose parameters are plain strings:

* a path parameter or query parameter with any control character (C0 or DEL): 422 naming
  the parameter (``encounter_id``, ``q``);
* a JSON or form body with a C0 character other than TAB, LF and CR, or DEL, in any string
  (or key): 422 naming its path (``lines.3.item_code``). TAB, LF and CR are left to the
  models, which allow them in free text only.

The body is looked at only when it could hold one: the raw bytes are searched for DEL and
for the JSON escapes of C0 characters first, and parsed only if one is there, so a clean
5,000-line fee batch costs a scan for a backslash or a DEL. It sits inside :class:`BodyLimit`,
which bounds what it buffers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from adapter.api.buffered_body import read_body
from adapter.api.limits import send_problem
from adapter.domain.text import control_character, control_message

# DEL, a JSON escape of a C0 character, or \b / \f (a preceding escaped backslash only costs
# a parse); raw C0 bytes inside a JSON string are invalid JSON, refused by the parser anyway.
_JSON_SUSPECT = re.compile(rb"\x7f|\\u00[01][0-9a-fA-F]|\\u007[fF]|\\[bf]")
_FORM_SUSPECT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|%[01][0-9a-fA-F]|%7[fF]")


class ControlCharacters:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = _in_path(scope) or _in_query(scope)
        if found is not None:
            await _refuse(send, *found)
            return
        kind = _body_kind(scope)
        if kind is None:
            await self.app(scope, receive, send)
            return
        buffered = await read_body(receive)
        found = _in_json(buffered.body) if kind == "json" else _in_form(buffered.body)
        if found is not None:
            await _refuse(send, *found)
            return
        await self.app(scope, buffered.replay, send)


def _in_path(scope: Scope) -> tuple[str, str] | None:
    path = scope.get("path", "")
    char = control_character(path)
    if char is None:
        return None
    for pattern in _templates(scope.get("app")):
        match = pattern.match(path)
        if match is None:
            continue
        for name, value in match.groupdict().items():
            found = control_character(value)
            if found is not None:
                return name, found
    return "path", char


def _templates(app: Any) -> list[re.Pattern[str]]:
    """The app's path templates (from its OpenAPI document) as patterns naming parameters."""
    cached = getattr(getattr(app, "state", None), "path_patterns", None)
    if cached is not None:
        return list(cached)
    openapi = getattr(app, "openapi", None)
    patterns = []
    for template in openapi().get("paths", {}) if callable(openapi) else ():
        parts = re.split(r"\{(\w+)\}", template)
        regex = "".join(
            f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part)
            for index, part in enumerate(parts)
        )
        patterns.append(re.compile(regex + r"\Z"))
    if app is not None and hasattr(app, "state"):
        app.state.path_patterns = patterns
    return patterns


def _in_query(scope: Scope) -> tuple[str, str] | None:
    query = scope.get("query_string", b"")
    if not query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        for where, text in ((name, value), ("query", name)):
            char = control_character(text)
            if char is not None:
                return where, char
    return None


def _body_kind(scope: Scope) -> str | None:
    if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return None
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type == b"application/json" or content_type.endswith(b"+json"):
        return "json"
    if content_type == b"application/x-www-form-urlencoded":
        return "form"
    return None


def _in_json(body: bytes) -> tuple[str, str] | None:
    # every suspect has a backslash or a DEL: two memchr scans rule most bodies out at a
    # hundredth of the regular expression's cost (5 ms for a 1 MB fee batch)
    if (b"\\" not in body and b"\x7f" not in body) or not _JSON_SUSPECT.search(body):
        return None
    try:
        document = json.loads(body)
    except ValueError:  # the route's own parsing answers it (422 json_invalid)
        return None
    for path, text in _strings(document, ()):
        char = control_character(text, free_text=True)
        if char is not None:
            return ".".join(path) or "body", char
    return None


def _in_form(body: bytes) -> tuple[str, str] | None:
    if not _FORM_SUSPECT.search(body):
        return None
    for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        for where, text in ((name, value), ("body", name)):
            char = control_character(text, free_text=True)
            if char is not None:
                return where, char
    return None


def _strings(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path or ("body",), key
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, str(index)))


async def _refuse(send: Send, field: str, char: str) -> None:
    shown = repr(field)[1:-1] if control_character(field) else field
    message = f"{shown}：{control_message('', char)}"
    await send_problem(send, 422, "请求内容有误", "INVALID_CONTROL_CHARACTER", message, shown)
