"""The reference-dialect client: :class:`ReferenceClient` implements ``UpstreamGateway``.

One POST per transaction to ``{base_url}/{infno}`` with the envelope of interfaces.md §3.

* **Sign-in.** The first call of the day signs in (``WI9001``) and keeps ``sign_no``; when
  upstream answers that it expired (``err_msg`` matching ``sign_expired_pattern``) the
  client signs in again and re-sends that one message once, with the same ``msgid``.
* **Reads** retry transient failures (:class:`UpstreamUnavailable`) with tenacity, with
  short exponential waits, and stop when the next attempt would start past
  ``read_budget_s`` from the first; each attempt's time-out is cut to what is left of the
  budget, so a clerk never waits longer than the budget (plus the connect time-out at most).
* **Writes** are sent once. A time-out or 5xx raises :class:`UpstreamUnavailable` and the
  upload queue re-sends the *same* ``msgid`` later; the client itself never does.
* **Errors** are translated in :mod:`connectors.upstream.translate`, the one place.
* **Call log.** Every HTTP attempt is handed, masked, to the injected ``recorder``.

Construct with :meth:`ReferenceClient.from_config` (builds a pooled ``httpx.Client`` with
TLS options), or pass your own ``httpx.Client`` (tests hand in respx or ``MockTransport``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from adapter.domain.catalogue import CatalogueItem, CatalogueKind
from adapter.domain.errors import (
    UpstreamError,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamUnavailable,
)
from adapter.domain.filings import Filing
from adapter.domain.institutions import Institution
from adapter.domain.ports import Clock, MsgidSource
from adapter.domain.upstream import (
    AuditDeduction,
    CertType,
    Infno,
    PersonRecord,
    ReconciliationFigures,
    WriteAck,
    require_write,
)
from connectors.upstream import mapping
from connectors.upstream.auth import AuthFailure, GatewayAuth, make_auth
from connectors.upstream.clock import SystemClock
from connectors.upstream.config import UpstreamConfig, build_http_client
from connectors.upstream.masking import mask_body, mask_text
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.records import CallRecord, CallRecorder, Outcome
from connectors.upstream.translate import (
    Reply,
    SignExpired,
    from_transport_error,
    interpret,
    malformed_output,
)

T = TypeVar("T")

MIN_ATTEMPT_S = 0.05  # an attempt with less time than this left is not worth starting


class ReferenceClient:
    """The reference dialect over HTTP(S). Thread-safe; share one per process."""

    def __init__(
        self,
        config: UpstreamConfig,
        http: httpx.Client,
        *,
        recorder: CallRecorder | None = None,
        clock: Clock | None = None,
        msgids: MsgidSource | None = None,
        auth: GatewayAuth | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._http = http
        self._recorder = recorder
        self._clock = clock or SystemClock(config.time_zone)
        self._msgids: MsgidSource = msgids or MsgidSequence(config.institution_code, self._clock)
        self._auth = auth or make_auth(
            config.auth,
            access_key=config.access_key,
            secret_key=config.secret_key,
            sm4_key=config.sm4_key,
            own_private_key=config.sm2_private_key,
            own_public_key=config.sm2_public_key,
            peer_public_key=config.upstream_sm2_public_key,
        )
        self._monotonic = monotonic
        self._sleep = sleep
        self._sign_expired = re.compile(config.sign_expired_pattern)
        self._sign_lock = threading.Lock()
        self._sign_no = ""
        self._signed_on: date | None = None

    @classmethod
    def from_config(
        cls, config: UpstreamConfig, *, recorder: CallRecorder | None = None, **kwargs: Any
    ) -> ReferenceClient:
        """The client on its own pooled ``httpx.Client`` (time-outs, CA bundle, client cert)."""
        return cls(config, build_http_client(config), recorder=recorder, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ReferenceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def sign_no(self) -> str:
        return self._sign_no

    # --- reads ---------------------------------------------------------------------------

    def sign_in(self, *, context: str = "") -> str:
        with self._sign_lock:
            return self._sign_in_locked(context)

    def query_person(
        self,
        cert_type: CertType,
        cert_no: str,
        *,
        card_sn: str = "",
        name: str = "",
        context: str = "",
    ) -> PersonRecord:
        payload = {
            "mdtrt_cert_type": CertType(cert_type).value,
            "mdtrt_cert_no": cert_no,
            "card_sn": card_sn,
            "psn_name": name,
        }
        return self._read(Infno.PERSON, payload, mapping.read_person, context=context)

    def verify_ecard(self, qr_token: str, *, context: str = "") -> PersonRecord:
        return self._read(Infno.ECARD, {"ecqrcode": qr_token}, mapping.read_person, context=context)

    def query_filings(
        self, psn_no: str, *, insuplc_admdvs: str = "", context: str = ""
    ) -> list[Filing]:
        return self._read(
            Infno.FILINGS,
            {"psn_no": psn_no},
            mapping.read_filings,
            insuplc_admdvs=insuplc_admdvs,
            context=context,
        )

    def institution_status(self, fixmedins_code: str, *, context: str = "") -> Institution:
        return self._read(
            Infno.INSTITUTION,
            {"fixmedins_code": fixmedins_code},
            mapping.read_institution,
            context=context,
        )

    def download_catalogue(
        self, kind: CatalogueKind, region: str, *, since_version: str = "", context: str = ""
    ) -> list[CatalogueItem]:
        payload = {"kind": CatalogueKind(kind).value, "region": region, "ver": since_version}
        return self._read(Infno.CATALOGUE, payload, mapping.read_catalogue, context=context)

    def reconciliation(self, month: str, *, context: str = "") -> ReconciliationFigures:
        payload = {"fixmedins_code": self.config.institution_code, "month": month}
        return self._read(
            Infno.RECONCILIATION, payload, mapping.read_reconciliation, context=context
        )

    def audit_deductions(self, month: str, *, context: str = "") -> list[AuditDeduction]:
        payload = {"fixmedins_code": self.config.institution_code, "month": month}
        return self._read(Infno.DEDUCTIONS, payload, mapping.read_deductions, context=context)

    def resend_read(
        self,
        infno: str,
        payload: Mapping[str, Any],
        *,
        insuplc_admdvs: str = "",
        context: str = "",
        resent_from: int | None = None,
    ) -> dict[str, Any]:
        """Send a read again (the call log's "re-send"); returns upstream's raw ``output``."""
        parsed = Infno(infno)
        if parsed.is_write:
            raise ValueError(f"{infno} is a write: writes are re-sent by the upload queue")
        if parsed is Infno.SIGN_IN:
            self.sign_in(context=context)
            return {"signinoutb": {"sign_no": self._sign_no}}
        return self._read(
            parsed,
            dict(payload),
            lambda output: output,
            insuplc_admdvs=insuplc_admdvs,
            context=context,
            resent_from=resent_from,
        )

    # --- writes --------------------------------------------------------------------------

    def submit(
        self,
        infno: Infno,
        msgid: str,
        input: Mapping[str, Any],
        *,
        insuplc_admdvs: str = "",
        context: str = "",
    ) -> WriteAck:
        parsed = require_write(infno)
        self._ensure_signed_in(context)
        timeout = httpx.Timeout(self.config.write_timeout_s, connect=self.config.connect_timeout_s)

        def ack(reply: Reply) -> WriteAck:
            return WriteAck(
                infno=parsed.value,
                msgid=msgid,
                refmsgid=str(reply.envelope.get("inf_refmsgid") or ""),
                respond_time=str(reply.envelope.get("respond_time") or ""),
                output=reply.output,
            )

        return self._signed(
            lambda: self._exchange(
                parsed.value,
                msgid,
                dict(input),
                ack,
                insuplc_admdvs=insuplc_admdvs,
                context=context,
                timeout=timeout,
                is_write=True,
            ),
            context,
        )

    def register_admission(
        self, msgid: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", context: str = ""
    ) -> WriteAck:
        return self.submit(
            Infno.ADMISSION, msgid, input, insuplc_admdvs=insuplc_admdvs, context=context
        )

    def revoke_admission(
        self, msgid: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", context: str = ""
    ) -> WriteAck:
        return self.submit(
            Infno.ADMISSION_REVOKE, msgid, input, insuplc_admdvs=insuplc_admdvs, context=context
        )

    def upload_rehab_plan(
        self, msgid: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", context: str = ""
    ) -> WriteAck:
        return self.submit(
            Infno.REHAB_PLAN, msgid, input, insuplc_admdvs=insuplc_admdvs, context=context
        )

    def upload_discharge(
        self, msgid: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", context: str = ""
    ) -> WriteAck:
        return self.submit(
            Infno.DISCHARGE, msgid, input, insuplc_admdvs=insuplc_admdvs, context=context
        )

    def revoke_settlement(
        self, msgid: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", context: str = ""
    ) -> WriteAck:
        return self.submit(
            Infno.SETTLEMENT_REVOKE, msgid, input, insuplc_admdvs=insuplc_admdvs, context=context
        )

    def reverse(
        self, msgid: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", context: str = ""
    ) -> WriteAck:
        if not input.get("omsgid") or not input.get("oinfno"):
            raise ValueError("a reversal (WI2601) names the original omsgid and oinfno")
        return self.submit(
            Infno.REVERSAL, msgid, input, insuplc_admdvs=insuplc_admdvs, context=context
        )

    def upload_device_settlement(
        self, msgid: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", context: str = ""
    ) -> WriteAck:
        return self.submit(
            Infno.DEVICE_SETTLEMENT, msgid, input, insuplc_admdvs=insuplc_admdvs, context=context
        )

    def confirm_device_funds(
        self, msgid: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", context: str = ""
    ) -> WriteAck:
        return self.submit(
            Infno.DEVICE_FUNDS_CONFIRM,
            msgid,
            input,
            insuplc_admdvs=insuplc_admdvs,
            context=context,
        )

    # --- the machinery -------------------------------------------------------------------

    def _read(
        self,
        infno: Infno,
        payload: dict[str, Any],
        parse: Callable[[dict[str, Any]], T],
        *,
        insuplc_admdvs: str = "",
        context: str = "",
        resent_from: int | None = None,
        deadline: float | None = None,
    ) -> T:
        """A read: retried while transient, within the budget (or the caller's ``deadline``)."""
        if deadline is None:
            deadline = self._monotonic() + self.config.read_budget_s
        if infno is not Infno.SIGN_IN:
            self._ensure_signed_in(context, deadline=deadline)
        msgid = self._msgids.next()
        attempt = 0

        def once() -> T:
            nonlocal attempt
            attempt += 1
            timeout = self._attempt_timeout(deadline, infno.value, msgid)
            return self._exchange(
                infno.value,
                msgid,
                payload,
                lambda reply: parse(reply.output),
                insuplc_admdvs=insuplc_admdvs,
                context=context,
                timeout=timeout,
                is_write=False,
                attempt=attempt,
                resent_from=resent_from,
            )

        def out_of_budget(state: RetryCallState) -> bool:
            upcoming = state.upcoming_sleep or 0.0
            return self._monotonic() + upcoming + MIN_ATTEMPT_S >= deadline

        retrying = Retrying(
            retry=retry_if_exception_type(UpstreamUnavailable),
            stop=out_of_budget,
            wait=wait_exponential(multiplier=0.2, max=1.0),
            sleep=self._sleep,
            reraise=True,
        )
        if infno is Infno.SIGN_IN:
            return retrying(once)
        return self._signed(lambda: retrying(once), context, deadline=deadline)

    def _attempt_timeout(self, deadline: float, infno: str, msgid: str) -> httpx.Timeout:
        remaining = deadline - self._monotonic()
        if remaining < MIN_ATTEMPT_S:
            raise UpstreamUnavailable(
                "工伤保险信息系统响应超时，请稍后重试",
                infno=infno,
                msgid=msgid,
                upstream_message=f"read budget of {self.config.read_budget_s}s spent",
                code="UPSTREAM_TIMEOUT",
            )
        return httpx.Timeout(
            min(self.config.read_timeout_s, remaining),
            connect=min(self.config.connect_timeout_s, remaining),
        )

    def _signed(self, send: Callable[[], T], context: str, *, deadline: float | None = None) -> T:
        """Run ``send``; on an expired sign-in, sign in again and run it once more."""
        try:
            return send()
        except SignExpired:
            with self._sign_lock:
                self._sign_no = ""
                self._sign_in_locked(context, deadline=deadline)
            return send()

    def _ensure_signed_in(self, context: str, *, deadline: float | None = None) -> None:
        today = self._clock.now().date()
        if self._sign_no and self._signed_on == today:
            return
        with self._sign_lock:
            if self._sign_no and self._signed_on == today:
                return
            self._sign_in_locked(context, deadline=deadline)

    def _sign_in_locked(self, context: str, *, deadline: float | None = None) -> str:
        payload = {"opter_no": self.config.operator_code, "mac": "", "ip": ""}
        self._sign_no = ""
        sign_no = self._read(
            Infno.SIGN_IN, payload, mapping.read_sign_no, context=context, deadline=deadline
        )
        self._sign_no = sign_no
        self._signed_on = self._clock.now().date()
        return sign_no

    def _envelope(
        self, infno: str, msgid: str, payload: dict[str, Any], insuplc: str
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
            "sign_no": "" if infno == Infno.SIGN_IN else self._sign_no,
            "input": payload,
        }

    def _exchange(
        self,
        infno: str,
        msgid: str,
        payload: dict[str, Any],
        parse: Callable[[Reply], T],
        *,
        insuplc_admdvs: str,
        context: str,
        timeout: httpx.Timeout,
        is_write: bool,
        attempt: int = 1,
        resent_from: int | None = None,
    ) -> T:
        """One HTTP attempt: seal, post, open, interpret, parse; recorded whatever happens."""
        envelope = self._envelope(infno, msgid, payload, insuplc_admdvs)
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
            try:
                response = self._http.post(infno, content=wire, headers=headers, timeout=timeout)
            except httpx.TransportError as exc:
                raise from_transport_error(exc, infno=infno, msgid=msgid) from exc
            status = response.status_code
            reply_bytes = response.content
            if status == 200:
                try:
                    reply_bytes = self._auth.open_reply(reply_bytes, response.headers)
                except AuthFailure as exc:
                    raise malformed_output(exc, infno=infno, msgid=msgid) from exc
            reply = interpret(
                status, reply_bytes, infno=infno, msgid=msgid, sign_expired=self._sign_expired
            )
            try:
                return parse(reply)
            except (KeyError, ValueError, TypeError) as exc:
                raise malformed_output(exc, infno=infno, msgid=msgid) from exc
        except UpstreamError as exc:
            error = exc
            outcome = _outcome(exc)
            raise
        finally:
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
                        err_msg=(error.upstream_message if error else "")[:1000],
                        request_body=mask_body(envelope),
                        reply_body=_masked_reply(reply_bytes),
                        is_write=is_write,
                        attempt=attempt,
                        resent_from=resent_from,
                    )
                )


def _outcome(exc: UpstreamError) -> Outcome:
    if isinstance(exc, UpstreamRejected):
        return "rejected"
    if isinstance(exc, UpstreamMalformed):
        return "malformed"
    return "unavailable"


def _parsed(reply: bytes) -> Any:
    try:
        return json.loads(reply) if reply else None
    except (ValueError, UnicodeDecodeError):
        return None


def _infcode(reply: bytes) -> int | None:
    envelope = _parsed(reply)
    if isinstance(envelope, dict):
        try:
            return int(envelope.get("infcode"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    return None


def _masked_reply(reply: bytes) -> Any:
    envelope = _parsed(reply)
    if envelope is not None:
        return mask_body(envelope)
    if not reply:
        return None
    return mask_text(reply[:4000].decode("utf-8", "replace"))
