"""The one place where HTTP outcomes become the domain's upstream errors.

===================================  =======================  ===========================
what happened                        raised                   who retries
===================================  =======================  ===========================
time-out, connection error, reset    ``UpstreamUnavailable``  tenacity (reads), queue
HTTP 5xx, HTTP 429                   ``UpstreamUnavailable``  same
HTTP 4xx (other)                     ``UpstreamRejected``     nobody: IT fixes, re-sends
``infcode`` ≠ 0 (a business refusal)  ``UpstreamRefused``      same
``infcode`` ≠ 0 to a write, saying    ``AlreadyReceived``      same (not a refusal: the
it was received already                                       write may have taken effect)
not JSON, not the envelope           ``UpstreamMalformed``    nobody
larger than ``max_reply_bytes``      ``UpstreamMalformed``    nobody
an ``output`` field not readable     ``UpstreamMalformed``    nobody (the field is named)
reply signature or decryption bad    ``UpstreamMalformed``    nobody
===================================  =======================  ===========================

Every error keeps ``infno``, ``msgid`` and upstream's own ``err_msg`` (``upstream_message``);
its ``message`` is a Chinese sentence a clerk can act on, with upstream's words cut to
:data:`SHOWN_ERR_MSG` characters. The body is parsed with ``parse_float=Decimal``: a money
amount sent as a JSON number is read as its own digits, never through a float.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
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
ALREADY_RECEIVED = (
    "工伤保险信息系统答复该报文此前已收到，本次未再受理；是否已生效需信息科核对，"
    "请勿重新结算或重复上传"
)
SHOWN_ERR_MSG = 200  # upstream's words in a clerk's message; IT has them all


class SignExpired(UpstreamRefused):
    """``infcode -1`` saying the day's ``sign_no`` is no longer valid: sign in again."""

    code = "UPSTREAM_SIGN_EXPIRED"


class AlreadyReceived(UpstreamRejected):
    """A write answered ``infcode`` ≠ 0 with words saying upstream has that message already.

    The contract has a repeated ``msgid`` answered with its first reply (interfaces.md §3);
    a receiver that answers it as an error instead may well hold the write, so this is not
    an :class:`UpstreamRefused` (which the upload queue records as certainly without effect,
    and may withdraw on). Nor is it taken as delivered: its first reply is not known. The
    upload goes to IT as a dead letter naming upstream's words."""


@dataclass(frozen=True)
class Reply:
    """A well-formed envelope with ``infcode`` 0."""

    envelope: dict[str, Any]

    @property
    def output(self) -> dict[str, Any]:
        """The ``output`` object (a list of one: that object; absent, null or blank text:
        empty; text holding a JSON object: that object — some provinces' gateways serialise
        ``output`` a second time, and its money is then read from the text's own digits)."""
        output = self.envelope.get("output")
        if isinstance(output, str):
            try:
                output = json.loads(output, parse_float=Decimal) if output.strip() else None
            except RecursionError:  # nested past reading, as a body would be
                raise ValueError("output text is nested too deeply to read") from None
        if isinstance(output, list) and len(output) == 1:
            output = output[0]
        if output is None:
            return {}
        if not isinstance(output, dict):
            raise TypeError(f"output is not an object: {type(output).__name__}")
        return output


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
            return value.strip()
        if isinstance(value, int | float):
            return str(value)
    return ""


def _shown(err_msg: str) -> str:
    """Upstream's words as a clerk reads them: one line, at most :data:`SHOWN_ERR_MSG`."""
    line = " ".join(err_msg.split())
    return line if len(line) <= SHOWN_ERR_MSG else line[: SHOWN_ERR_MSG - 1] + "…"


def interpret(
    status: int,
    body: bytes,
    *,
    infno: str,
    msgid: str,
    sign_expired: re.Pattern[str] | None = None,
    already_received: re.Pattern[str] | None = None,
) -> Reply:
    """The reply envelope, or the error it amounts to.

    ``sign_expired`` is a compiled pattern; an ``infcode -1`` whose ``err_msg`` matches it
    raises :class:`SignExpired` so the client can sign in again. ``already_received`` (given
    for writes only) is one whose match raises :class:`AlreadyReceived`.
    """
    try:
        envelope: Any = json.loads(body, parse_float=Decimal) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
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
            f"{REJECTED}（HTTP {status}）：{_shown(_err_msg(envelope)) or '无说明'}",
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
            f"{MALFORMED}（infcode={_shown(repr(infcode))}）",
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
        if already_received is not None and already_received.search(err_msg):
            raise AlreadyReceived(
                f"{ALREADY_RECEIVED}（{infno}：{_shown(err_msg)}）",
                infno=infno,
                msgid=msgid,
                upstream_message=err_msg,
            )
        raise UpstreamRefused(
            f"{REJECTED}：{_shown(err_msg) or '无说明'}",
            infno=infno,
            msgid=msgid,
            upstream_message=err_msg,
        )
    return Reply(envelope)


def malformed_output(exc: Exception, *, infno: str, msgid: str) -> UpstreamMalformed:
    """A reply whose ``output`` lacks a field or holds a value of the wrong kind; the clerk's
    message names the field when the reader said which (``settlements[2].total``)."""
    field = getattr(exc, "field", "")
    where = f"{infno} 返回的 {field} 无法识别" if field else f"{infno} 返回字段有误"
    return UpstreamMalformed(
        f"{MALFORMED}（{where}）",
        infno=infno,
        msgid=msgid,
        upstream_message=f"{type(exc).__name__}: {exc}",
    )


def too_large(limit: int, *, infno: str, msgid: str) -> UpstreamMalformed:
    """A reply past ``max_reply_bytes``: not read on (it would take the adapter's memory)."""
    return UpstreamMalformed(
        f"{MALFORMED}（{infno} 返回的数据超过 {limit // 1024} KB 上限，未读取）",
        infno=infno,
        msgid=msgid,
        upstream_message=f"reply larger than max_reply_bytes ({limit})",
    )
