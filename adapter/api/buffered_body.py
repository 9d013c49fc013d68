"""The whole request body, read before the app sees it, for the middlewares that judge a body
first (:mod:`adapter.api.duplicate_keys`, :mod:`adapter.api.control_chars`).

They sit inside :class:`adapter.api.limits.BodyLimit`, which bounds what is buffered here.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Message, Receive


@dataclass(frozen=True)
class Buffered:
    body: bytes
    # every message up to the last chunk arrived: the app will read these bytes, no
    # disconnect (a partial body is still judged, but nothing parsed from it is handed on)
    complete: bool
    replay: Receive


async def read_body(receive: Receive) -> Buffered:
    """The request's body, and a ``receive`` that gives the app the same messages again, then
    whatever follows (the disconnect)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    complete = False
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            complete = True
            break
    pending = iter(messages)

    async def replay() -> Message:
        for message in pending:
            return message
        return await receive()

    return Buffered(b"".join(chunks), complete, replay)
