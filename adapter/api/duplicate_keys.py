"""A JSON body giving one key twice is refused with 422 naming the key's path.

JSON parsers disagree on ``{"his_visit_id": "ZY1", "his_visit_id": "ZY2"}`` (RFC 8259 §4: the
names "SHOULD be unique"): Python keeps the last value, many others the first, so the HIS and
the adapter could each believe another visit was admitted or another amount billed. Rather
than guess, the request is refused (``INVALID_DUPLICATE_KEY``, ``card.kind：字段重复…``) and
nothing is written.

A pure ASGI middleware, inside :class:`adapter.api.limits.BodyLimit`, which bounds what it
buffers: only JSON bodies are parsed; one that does not parse is left to the route, which
answers it (422 ``json_invalid``).

The body is parsed once: the document parsed here (the same as ``json.loads`` gives when no
key is twice) is handed to the routes of :class:`ParsedOnce`, which take it rather than
parsing the body again — the check then costs a third of a parse, not a parse and a third
(a 5,000-line fee batch).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from adapter.api.buffered_body import read_body
from adapter.api.limits import send_problem

# where the parsed body waits for the route: (the bytes parsed, their document)
PARSED_JSON = "adapter.parsed_json"


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
        parsed = _parse(buffered.body)
        if parsed is None:
            await self.app(scope, buffered.replay, send)
            return
        document, field = parsed
        if field is not None:
            await _refuse(send, field)
            return
        if buffered.complete:
            scope[PARSED_JSON] = (buffered.body, document)
        await self.app(scope, buffered.replay, send)


class ParsedOnce(APIRoute):
    """A route whose JSON body is taken as :class:`DuplicateKeys` parsed it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_parsed(request: Request) -> Response:
            parsed = request.scope.get(PARSED_JSON)
            # only if the route reads the very bytes that were parsed (the same object
            # unless the body came in several chunks)
            if parsed is not None and await request.body() == parsed[0]:
                # FastAPI reads a JSON body through Request.json(), which parses only when
                # _json is not yet set; should Starlette rename it, the body is parsed twice
                # again, as before, nothing worse
                request._json = parsed[1]
            return await handle(request)

        return handle_parsed


def _is_json(scope: Scope) -> bool:
    if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return False
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type == b"application/json" or content_type.endswith(b"+json")


def _parse(body: bytes) -> tuple[Any, str | None] | None:
    """``body``'s document and the path (``card.kind``) of the first key given twice in it
    (``None``: none is), or ``None`` if it does not parse (the route's own parsing answers
    it)."""
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
    except (ValueError, RecursionError):
        return None
    if not found:
        return document, None
    return document, next(_paths(document, ()), None)


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
