"""One HTTP attempt in the reference dialect, recorded whatever happens.

:class:`Exchange` wraps a payload in the envelope of interfaces.md §3, seals it with the
gateway auth, posts it to ``{base_url}/{infno}``, opens and interprets the reply (errors are
translated in :mod:`connectors.upstream.translate`, the one place) and parses its output.
The reply is read as a stream and no further than ``max_reply_bytes``. Every attempt is
handed, masked, to the injected ``recorder``; an unusable reply is also logged
(``upstream.reply_unusable``, with the msgid and what was wrong) for IT. Sign-in and retries
are the caller's business (:mod:`connectors.upstream.session`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from adapter.domain.errors import UpstreamError, UpstreamMalformed, UpstreamRejected
from adapter.domain.masking import mask_body, mask_text
from adapter.domain.ports import Clock
from adapter.domain.upstream import Infno
from connectors.upstream import metrics
from connectors.upstream.auth import AuthFailure, GatewayAuth
from connectors.upstream.config import UpstreamConfig
from connectors.upstream.records import CallRecord, CallRecorder, Outcome
from connectors.upstream.translate import (
    Reply,
    from_transport_error,
    interpret,
    malformed_output,
    too_large,
)

T = TypeVar("T")
log = logging.getLogger("connectors.upstream")


class Exchange:
    """Envelope, seal, post, open, interpret, parse, record: one attempt. Thread-safe."""

    def __init__(
        self,
        config: UpstreamConfig,
        http: httpx.Client,
        auth: GatewayAuth,
        clock: Clock,
        *,
        recorder: CallRecorder | None,
        monotonic: Callable[[], float],
    ) -> None:
        self.config = config
        self._http = http
        self._auth = auth
        self._clock = clock
        self._recorder = recorder
        self._monotonic = monotonic
        self._sign_expired = re.compile(config.sign_expired_pattern)
        self._already_received = re.compile(config.already_received_pattern, re.IGNORECASE)
        self._listeners: list[Callable[[Outcome], None]] = []

    def listen(self, listener: Callable[[Outcome], None]) -> None:
        """Call ``listener(outcome)`` after every attempt (e.g. to wake the upload queue)."""
        self._listeners.append(listener)

    def close(self) -> None:
        self._http.close()

    def envelope(
        self, infno: str, msgid: str, payload: dict[str, Any], insuplc: str, sign_no: str
    ) -> dict[str, Any]:
        config = self.config
        return {
            "infno": infno,
            "msgid": msgid,
            "mdtrtarea_admvs": config.treatment_admdvs,
            "insuplc_admdvs": insuplc,
            "recer_sys_code": config.recer_sys_code,
            "infver": config.infver,
            "opter_type": config.operator_type,
            "opter": config.operator_code,
            "opter_name": config.operator_name,
            "inf_time": self._clock.now().strftime("%Y-%m-%d %H:%M:%S"),
            "fixmedins_code": config.institution_code,
            "fixmedins_name": config.institution_name,
            "sign_no": "" if infno == Infno.SIGN_IN else sign_no,
            "input": payload,
        }

    def send(
        self,
        infno: str,
        msgid: str,
        payload: dict[str, Any],
        parse: Callable[[Reply], T],
        *,
        sign_no: str,
        insuplc_admdvs: str,
        context: str,
        timeout: httpx.Timeout,
        is_write: bool,
        attempt: int = 1,
        resent_from: int | None = None,
    ) -> T:
        """One HTTP attempt; raises the :class:`UpstreamError` it translated, if any."""
        envelope = self.envelope(infno, msgid, payload, insuplc_admdvs, sign_no)
        body = json.dumps(envelope, ensure_ascii=False).encode()
        started_at = self._clock.now()
        began = self._monotonic()
        status: int | None = None
        reply_bytes = b""
        outcome: Outcome = "ok"
        error: UpstreamError | None = None
        try:
            wire, headers = self._auth.seal_request(body)
            headers["Content-Type"] = "application/json; charset=utf-8"
            request = self._http.build_request(
                "POST", infno, content=wire, headers=headers, timeout=timeout
            )
            try:
                response = self._http.send(request, stream=True)
                try:
                    status = response.status_code
                    reply_bytes = _read_capped(response, self.config.max_reply_bytes)
                finally:
                    response.close()
            except httpx.TransportError as exc:
                raise from_transport_error(exc, infno=infno, msgid=msgid) from exc
            except _TooLarge as exc:
                reply_bytes = exc.head
                raise too_large(self.config.max_reply_bytes, infno=infno, msgid=msgid) from None
            if status == 200:
                try:
                    reply_bytes = self._auth.open_reply(reply_bytes, response.headers)
                except AuthFailure as exc:
                    raise malformed_output(exc, infno=infno, msgid=msgid) from exc
            reply = interpret(
                status,
                reply_bytes,
                infno=infno,
                msgid=msgid,
                sign_expired=self._sign_expired,
                already_received=self._already_received if is_write else None,
            )
            try:
                return parse(reply)
            except (KeyError, ValueError, TypeError) as exc:
                raise malformed_output(exc, infno=infno, msgid=msgid) from exc
        except UpstreamError as exc:
            error = exc
            outcome = _outcome(exc)
            if outcome == "malformed":  # what IT looks for, by msgid, in the call log
                log.warning(
                    "upstream.reply_unusable",
                    extra={"infno": infno, "msgid": msgid, "context": context,
                           "http_status": status, "detail": mask_text(exc.upstream_message[:300])},
                )  # fmt: skip
            raise
        finally:
            metrics.observe(
                infno,
                outcome,
                self._monotonic() - began,
                msgid=msgid,
                context=context,
                http_status=status,
                attempt=attempt,
            )
            if self._recorder is not None:
                self._recorder.record(
                    CallRecord(
                        infno=infno,
                        msgid=msgid,
                        context=context,
                        started_at=started_at,
                        duration_ms=int((self._monotonic() - began) * 1000),
                        outcome=outcome,
                        http_status=status,
                        infcode=_infcode(reply_bytes),
                        err_msg=mask_text((error.upstream_message if error else "")[:1000]),
                        request_body=mask_body(envelope),
                        reply_body=_masked_reply(reply_bytes),
                        is_write=is_write,
                        attempt=attempt,
                        resent_from=resent_from,
                    )
                )
            for listener in self._listeners:
                try:
                    listener(outcome)
                except Exception:  # a listener's fault must not fail the call
                    log.exception("upstream_listener_failed", extra={"infno": infno})


class _TooLarge(Exception):
    def __init__(self, head: bytes) -> None:
        self.head = head


def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body, decoded as sent (gzip undone), or :class:`_TooLarge` once it passes
    ``limit``: a runaway reply must not take the adapter's memory with it."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge(b"")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(b"".join(chunks)[:4000])
        chunks.append(chunk)
    return b"".join(chunks)


def _outcome(exc: UpstreamError) -> Outcome:
    if isinstance(exc, UpstreamRejected):
        return "rejected"
    if isinstance(exc, UpstreamMalformed):
        return "malformed"
    return "unavailable"


def _parsed(reply: bytes) -> Any:
    try:
        return json.loads(reply) if reply else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past reading: as text
        return None


def _infcode(reply: bytes) -> int | None:
    envelope = _parsed(reply)
    if isinstance(envelope, dict):
        try:
            return int(envelope["infcode"])
        except (KeyError, TypeError, ValueError):
            return None
    return None


def _masked_reply(reply: bytes) -> Any:
    envelope = _parsed(reply)
    if envelope is not None:
        try:
            return mask_body(envelope)
        except RecursionError:  # parsed, but nested past masking: kept as text
            pass
    if not reply:
        return None
    return mask_text(reply[:4000].decode("utf-8", "replace"))
