"""A JSON body giving one key twice is refused with 422 naming the key's path.

JSON parsers disagree on ``{"his_visit_id": "ZY1", "his_visit_id": "ZY2"}`` (RFC 8259 §4: the
names "SHOULD be unique"): Python keeps the last value, many others the first, so the HIS and
the adapter could each believe another visit was admitted or another amount billed. Rather
than guess, the request is refused (``INVALID_DUPLICATE_KEY``, ``card.kind：字段重复…``) and
nothing is written.

A pure ASGI middleware, inside :class:`adapter.api.limits.BodyLimit`, which bounds what it
buffers: only JSON bodies are parsed; one that does not parse is left to the route, which
answers it (422 ``json_invalid``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from adapter.api.buffered_body import read_body
from adapter.api.limits import send_problem


class _Twice(dict[str, Any]):
    """An object of the document that gave ``key`` more than once."""

    key = ""


class DuplicateKeys:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        buffered = await read_body(receive)
        field = _duplicate(buffered.body)
        if field is not None:
            await _refuse(send, field)
            return
        await self.app(scope, buffered.replay, send)


def _is_json(scope: Scope) -> bool:
    if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return False
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type == b"application/json" or content_type.endswith(b"+json")


def _duplicate(body: bytes) -> str | None:
    """The path (``card.kind``) of the first key given twice in ``body``, or ``None``."""
    found = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        document = dict(pairs)
        if len(document) == len(pairs):
            return document
        twice = _Twice(document)
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                twice.key = key
                break
            seen.add(key)
        found = True
        return twice

    if not body:
        return None
    try:
        document = json.loads(body, object_pairs_hook=pairs_hook)
    except (ValueError, RecursionError):  # the route's own parsing answers it
        return None
    if not found:
        return None
    return next(_paths(document, ()), None)


def _paths(value: Any, path: tuple[str, ...]) -> Iterator[str]:
    if isinstance(value, _Twice):
        yield ".".join((*path, value.key))
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, str(index)))


async def _refuse(send: Send, field: str) -> None:
    message = f"{field}：字段重复，同一对象中每个字段只能出现一次，请删除多余的一项后重发"
    await send_problem(send, 422, "请求内容有误", "INVALID_DUPLICATE_KEY", message, field)
