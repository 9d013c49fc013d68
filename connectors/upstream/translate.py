"""The one place where HTTP outcomes become the domain's upstream errors.

===================================  =======================  ===========================
what happened                        raised                   who retries
===================================  =======================  ===========================
time-out, connection error, reset    ``UpstreamUnavailable``  tenacity (reads), queue
HTTP 5xx, HTTP 429                   ``UpstreamUnavailable``  same
HTTP 4xx (other)                     ``UpstreamRejected``     nobody: IT fixes, re-sends
``infcode`` ≠ 0 (a business refusal)  ``UpstreamRefused``      same
not JSON, not the envelope           ``UpstreamMalformed``    nobody
reply signature or decryption bad    ``UpstreamMalformed``    nobody
===================================  =======================  ===========================

Every error keeps ``infno``, ``msgid`` and upstream's own ``err_msg`` (``upstream_message``);
its ``message`` is a Chinese sentence a clerk can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from adapter.domain.errors import (
    UpstreamError,
    UpstreamMalformed,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamUnavailable,
)

UNAVAILABLE = "工伤保险信息系统暂时无法连接，请稍后重试；如持续失败请联系信息科"
TIMEOUT = "工伤保险信息系统响应超时，请稍后重试"
MALFORMED = "工伤保险信息系统返回的数据无法识别，请联系信息科"
REJECTED = "工伤保险信息系统拒绝了本次请求"


class SignExpired(UpstreamRefused):
    """``infcode -1`` saying the day's ``sign_no`` is no longer valid: sign in again."""

    code = "UPSTREAM_SIGN_EXPIRED"


@dataclass(frozen=True)
class Reply:
    """A well-formed envelope with ``infcode`` 0."""

    envelope: dict[str, Any]

    @property
    def output(self) -> dict[str, Any]:
        output = self.envelope.get("output")
        return output if isinstance(output, dict) else {}


def from_transport_error(exc: httpx.TransportError, *, infno: str, msgid: str) -> UpstreamError:
    """A time-out or connection failure: transient."""
    message = TIMEOUT if isinstance(exc, httpx.TimeoutException) else UNAVAILABLE
    return UpstreamUnavailable(
        message,
        infno=infno,
        msgid=msgid,
        upstream_message=f"{type(exc).__name__}: {exc}",
        code="UPSTREAM_TIMEOUT" if isinstance(exc, httpx.TimeoutException) else None,
    )


def _err_msg(envelope: Any) -> str:
    if isinstance(envelope, dict):
        value = envelope.get("err_msg")
        if isinstance(value, str):
            return value
    return ""


def interpret(
    status: int,
    body: bytes,
    *,
    infno: str,
    msgid: str,
    sign_expired: Any | None = None,
) -> Reply:
    """The reply envelope, or the error it amounts to.

    ``sign_expired`` is a compiled pattern; an ``infcode -1`` whose ``err_msg`` matches it
    raises :class:`SignExpired` so the client can sign in again.
    """
    try:
        envelope: Any = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        envelope = None
    upstream_message = _err_msg(envelope) or body[:500].decode("utf-8", "replace")
    if status == 429 or status >= 500:
        raise UpstreamUnavailable(
            f"{UNAVAILABLE}（HTTP {status}）",
            infno=infno,
            msgid=msgid,
            upstream_message=upstream_message,
        )
    if status >= 400:
        raise UpstreamRejected(
            f"{REJECTED}（HTTP {status}）：{_err_msg(envelope) or '无说明'}",
            infno=infno,
            msgid=msgid,
            upstream_message=upstream_message,
        )
    if status != 200 or not isinstance(envelope, dict):
        raise UpstreamMalformed(
            MALFORMED, infno=infno, msgid=msgid, upstream_message=upstream_message
        )
    infcode = envelope.get("infcode")
    if isinstance(infcode, bool) or not isinstance(infcode, int | str):
        raise UpstreamMalformed(
            f"{MALFORMED}（缺少 infcode）",
            infno=infno,
            msgid=msgid,
            upstream_message=upstream_message,
        )
    try:
        code = int(infcode)
    except ValueError:
        raise UpstreamMalformed(
            f"{MALFORMED}（infcode={infcode!r}）",
            infno=infno,
            msgid=msgid,
            upstream_message=upstream_message,
        ) from None
    err_msg = _err_msg(envelope)
    if code != 0:
        if sign_expired is not None and sign_expired.search(err_msg):
            raise SignExpired(
                f"{REJECTED}：签到已失效", infno=infno, msgid=msgid, upstream_message=err_msg
            )
        raise UpstreamRefused(
            f"{REJECTED}：{err_msg or '无说明'}",
            infno=infno,
            msgid=msgid,
            upstream_message=err_msg,
        )
    if "output" in envelope and not isinstance(envelope["output"], dict | None):
        raise UpstreamMalformed(
            f"{MALFORMED}（output 不是对象）",
            infno=infno,
            msgid=msgid,
            upstream_message=upstream_message,
        )
    return Reply(envelope)


def malformed_output(exc: Exception, *, infno: str, msgid: str) -> UpstreamMalformed:
    """A reply whose ``output`` lacks a field or holds a value of the wrong kind."""
    return UpstreamMalformed(
        f"{MALFORMED}（{infno} 返回字段有误）",
        infno=infno,
        msgid=msgid,
        upstream_message=f"{type(exc).__name__}: {exc}",
    )
