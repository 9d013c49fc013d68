"""The reference-dialect client: :class:`ReferenceClient` implements ``UpstreamGateway``.

One POST per transaction to ``{base_url}/{infno}`` with the envelope of interfaces.md §3.
This module is the transactions — which ``infno`` each read sends, with which input, and how
its output is read (:mod:`connectors.upstream.mapping`); every write goes through
:meth:`~ReferenceClient.submit` by its ``infno``. Underneath:

* :mod:`connectors.upstream.session` — sign-in (``WI9001``, again when it expires), reads
  retried within ``read_budget_s``, writes sent once (the upload queue owns re-sends);
* :mod:`connectors.upstream.exchange` — one HTTP attempt: envelope, auth sealing, reply
  interpretation (errors translated in :mod:`connectors.upstream.translate`, the one place),
  and the masked call-log record.

Construct with :meth:`ReferenceClient.from_config` (builds a pooled ``httpx.Client`` with
TLS options), or pass your own ``httpx.Client`` (tests hand in respx or ``MockTransport``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from adapter.domain.catalogue import CatalogueItem, CatalogueKind
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
from connectors.upstream.auth import GatewayAuth
from connectors.upstream.clock import SystemClock
from connectors.upstream.config import UpstreamConfig, build_http_client, make_auth
from connectors.upstream.exchange import Exchange
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.records import CallRecorder, Outcome
from connectors.upstream.session import SignedSession
from connectors.upstream.translate import Reply


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
        clock = clock or SystemClock(config.time_zone)
        auth = auth or make_auth(
            config.auth,
            access_key=config.access_key,
            secret_key=config.secret_key,
            sm4_key=config.sm4_key,
            own_private_key=config.sm2_private_key,
            own_public_key=config.sm2_public_key,
            peer_public_key=config.upstream_sm2_public_key,
        )
        self._exchange = Exchange(config, http, auth, clock, recorder=recorder, monotonic=monotonic)
        self._session = SignedSession(
            self._exchange,
            clock,
            msgids or MsgidSequence(config.institution_code, clock),
            monotonic=monotonic,
            sleep=sleep,
        )

    @classmethod
    def from_config(
        cls, config: UpstreamConfig, *, recorder: CallRecorder | None = None, **kwargs: Any
    ) -> ReferenceClient:
        """The client on its own pooled ``httpx.Client`` (time-outs, CA bundle, client cert)."""
        return cls(config, build_http_client(config), recorder=recorder, **kwargs)

    def close(self) -> None:
        self._exchange.close()

    def __enter__(self) -> ReferenceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def on_outcome(self, listener: Callable[[Outcome], None]) -> None:
        """Call ``listener`` with each HTTP attempt's outcome (``ok``, ``unavailable`` …)."""
        self._exchange.listen(listener)

    @property
    def sign_no(self) -> str:
        return self._session.sign_no

    # --- reads ---------------------------------------------------------------------------

    def sign_in(self, *, context: str = "") -> str:
        return self._session.sign_in(context=context)

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
        return self._session.read(Infno.PERSON, payload, mapping.read_person, context=context)

    def verify_ecard(self, qr_token: str, *, context: str = "") -> PersonRecord:
        return self._session.read(
            Infno.ECARD, {"ecqrcode": qr_token}, mapping.read_person, context=context
        )

    def query_filings(
        self, psn_no: str, *, insuplc_admdvs: str = "", context: str = ""
    ) -> list[Filing]:
        return self._session.read(
            Infno.FILINGS,
            {"psn_no": psn_no},
            mapping.read_filings,
            insuplc_admdvs=insuplc_admdvs,
            context=context,
        )

    def institution_status(self, fixmedins_code: str, *, context: str = "") -> Institution:
        return self._session.read(
            Infno.INSTITUTION,
            {"fixmedins_code": fixmedins_code},
            mapping.read_institution,
            context=context,
        )

    def download_catalogue(
        self, kind: CatalogueKind, region: str, *, since_version: str = "", context: str = ""
    ) -> list[CatalogueItem]:
        payload = {"kind": CatalogueKind(kind).value, "region": region, "ver": since_version}
        return self._session.read(Infno.CATALOGUE, payload, mapping.read_catalogue, context=context)

    def reconciliation(self, month: str, *, context: str = "") -> ReconciliationFigures:
        payload = {"fixmedins_code": self.config.institution_code, "month": month}
        return self._session.read(
            Infno.RECONCILIATION, payload, mapping.read_reconciliation, context=context
        )

    def audit_deductions(self, month: str, *, context: str = "") -> list[AuditDeduction]:
        payload = {"fixmedins_code": self.config.institution_code, "month": month}
        return self._session.read(
            Infno.DEDUCTIONS, payload, mapping.read_deductions, context=context
        )

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
            return {"signinoutb": {"sign_no": self._session.sign_no}}
        return self._session.read(
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
        if parsed is Infno.REVERSAL and not (input.get("omsgid") and input.get("oinfno")):
            raise ValueError("a reversal (WI2601) names the original omsgid and oinfno")

        def ack(reply: Reply) -> WriteAck:
            """infcode 0: taken. An odd ``output`` does not undo that (nothing reads it
            to deliver), so it is kept out of the ack rather than failing the upload, whose
            re-send would get the same reply for ever."""
            try:
                output = reply.output
            except (TypeError, ValueError):
                output = {}
            refmsgid = reply.envelope.get("inf_refmsgid")
            return WriteAck(
                infno=parsed.value,
                msgid=msgid,
                refmsgid=refmsgid if isinstance(refmsgid, str) else str(refmsgid or ""),
                respond_time=str(reply.envelope.get("respond_time") or ""),
                output=output,
            )

        return self._session.write(
            parsed, msgid, dict(input), ack, insuplc_admdvs=insuplc_admdvs, context=context
        )
