"""One inbound message, end to end: store → process → store outcome → ACK bytes.

:class:`Hl7Inbound` is what the MLLP listener calls (from a worker thread) for each frame:

1. read the MSH header from the raw bytes (MSH-18 says how to decode the rest);
2. store the message in :mod:`connectors.hl7.message_log`, committed, **before** anything else.
   If the same sender's MSH-10 is already logged with a final outcome, log the repeat and
   return the first ACK unchanged, without processing (a repeat arriving while the first is
   still being processed waits for the first's ACK);
3. translate it into a command (:mod:`connectors.hl7.mapping`) and hand that to the injected
   :class:`~adapter.domain.commands.EncounterCommands`;
4. store the outcome and the exact ACK bytes, committed, and only then return the ACK.

If the database fails at step 2 or 4, the exception propagates and the listener closes the
connection without an ACK: the sender resends, and nothing was acknowledged that is not stored.
One database failure is answered instead: a **full disk** (SQLite SQLITE_FULL, PostgreSQL
SQLSTATE 53100), at any step, gets an ``AE`` whose ERR says so (``DATABASE_FULL``), in the
message's own version and charset, so the HIS operator reads why rather than a dropped
connection. It is never ``AA``: what the disk refused rolled back whole, the message's
dedupe key is given up (when the disk still allows that), and the sender resends once IT has
freed space. That ``AE`` may not be in the log (the disk would not take it); it is not final.

**SQLite has one writer.** When several listener threads wait for its write lock, SQLite's
busy handler makes each sleep 1, 2, 5, 10 … ms between tries, so under load messages wait
far longer than the lock is held. On SQLite the steps that only write (2, 4, and processing
commands that call nothing upstream: A08, DFT^P03, A11, A13) therefore take turns on a lock
in this process instead; an admission or a discharge (upstream reads) runs outside it.

Outcomes: ``accepted`` (AA), ``refused`` (AE, a business rule), ``rejected`` (AR, malformed or
unsupported), ``transient`` (AE, upstream unavailable: resend later), ``failed`` (AE, an
unexpected error: an operator re-processes it after the fix). Only ``accepted`` and
``refused`` are final; the others let the same MSH-10 be processed again when resent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from adapter.domain.commands import Admit, Discharge, EncounterCommands, Outcome
from adapter.domain.errors import (
    AdapterError,
    DomainError,
    EligibilityRefused,
    InvalidMessage,
    NotFound,
    UpstreamMalformed,
    UpstreamUnavailable,
    is_storage_full,
)
from connectors.hl7 import message_log as log_
from connectors.hl7.ack import HL7_CODES, AckError, AckIdentity, build_ack
from connectors.hl7.errors import (
    APPLICATION_INTERNAL_ERROR,
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    SEGMENT_SEQUENCE_ERROR,
    TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_VERSION_ID,
    Hl7Error,
    Location,
)
from connectors.hl7.fieldmap import field_name
from connectors.hl7.header import HeaderUnreadable, RawHeader, read_header
from connectors.hl7.mapping import dispatch, to_command, visit_number
from connectors.hl7.profile import SiteProfile
from connectors.hl7.reader import Hl7Message

logger = logging.getLogger("connectors.hl7")


DATABASE_FULL = "DATABASE_FULL"
DATABASE_FULL_MESSAGE = "适配器数据库所在磁盘已满，本报文未保存，请信息科清理磁盘后重发"


class ReprocessRefused(AdapterError):
    code = "HL7_REPROCESS_REFUSED"


@dataclass(frozen=True)
class _Decoded:
    message: Hl7Message | None
    error: Hl7Error | None


class Hl7Inbound:
    """Receive, store, process and acknowledge inbound HL7 messages (thread-safe)."""

    def __init__(
        self,
        log: log_.MessageLog,
        commands: EncounterCommands,
        profile: SiteProfile,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        stale_after_s: float = 60.0,
        poll_interval_s: float = 0.02,
    ) -> None:
        self.log = log
        self.commands = commands
        self.profile = profile
        self.identity = AckIdentity(profile.sending_application, profile.sending_facility)
        self.clock = clock
        self.stale_after_s = stale_after_s
        self.poll_interval_s = poll_interval_s
        engine = getattr(log, "engine", None)
        sqlite = engine is not None and engine.dialect.name == "sqlite"
        self._writer_turn = threading.Lock() if sqlite else contextlib.nullcontext()

    # -- the listener's entry points ---------------------------------------------------------

    def handle(self, raw: bytes, peer: str) -> bytes:
        """The ACK for one framed message (stored before it is returned)."""
        received_at = self.clock()
        try:
            header = read_header(raw)
        except HeaderUnreadable:
            error = Hl7Error(
                "报文缺少MSH段", Location("MSH"), hl7_code=SEGMENT_SEQUENCE_ERROR, code="HL7_NO_MSH"
            )
            return self._reject_unkeyed(raw, peer, received_at, None, error)
        decoded = self._decode(raw, header)
        receipt = log_.Receipt(
            raw=raw,
            peer=peer,
            received_at=received_at,
            sender_application=header.sending_application,
            sender_facility=header.sending_facility,
            control_id=header.control_id or None,
            message_type=header.message_type,
            version=header.version,
            charset=header.charset_label,
            visit_number=_visit_or_none(decoded.message),
        )
        try:
            stored = self._receive(receipt)
        except SQLAlchemyError as exc:
            if not is_storage_full(exc):
                raise
            return self._disk_full(header, "receive").ack  # nothing stored
        if isinstance(stored, log_.LoggedMessage):
            try:
                with self._writer_turn:
                    self.log.record_duplicate(receipt, stored)
            except SQLAlchemyError as exc:
                # The first message and its ACK are stored: only the repeat's own log row
                # is missing, so the repeat still gets the first ACK.
                if not is_storage_full(exc):
                    raise
                logger.error("hl7.duplicate_not_logged", extra={"first": stored.id})
            logger.info(
                "hl7.duplicate", extra={"first": stored.id, "control_id": receipt.control_id}
            )
            assert stored.ack is not None
            return stored.ack
        result = self._process(header, decoded)
        try:
            with self._writer_turn:
                self.log.record(
                    stored,
                    result,
                    started_at=received_at,
                    actor=_actor(header),
                    keep_key=result.outcome in log_.FINAL_OUTCOMES,
                )
        except SQLAlchemyError as exc:
            if not is_storage_full(exc):
                raise
            # The outcome could not be stored, so it cannot be the answer. Give the key up so
            # the resend is processed at once (the use cases replay what they committed); if
            # the disk refuses even that, the resend takes over after ``stale_after_s``.
            with contextlib.suppress(SQLAlchemyError), self._writer_turn:
                self.log.release(stored, only_unanswered=True)
            return self._disk_full(header, "record").ack
        return result.ack

    def handle_oversize(self, head: bytes, size: int, peer: str) -> bytes | None:
        """An AR for a message over the size limit, or ``None`` (close) if its MSH is unreadable."""
        try:
            header = read_header(head)
        except HeaderUnreadable:
            logger.warning("hl7.oversize_unreadable", extra={"peer": peer, "size": size})
            return None
        error = Hl7Error(
            f"报文长度{size}字节超过上限，请拆分后重发",
            Location("MSH"),
            hl7_code=APPLICATION_INTERNAL_ERROR,
            code="HL7_TOO_LARGE",
        )
        return self._reject_unkeyed(head, peer, self.clock(), header, error, size=size)

    def reprocess(self, message_id: int, *, actor: str = "operator") -> log_.LoggedMessage:
        """Process a stored message again (after a fix); a new attempt, history kept."""
        stored = self.log.get(message_id)
        if stored is None:
            raise NotFound(f"HL7报文{message_id}不存在")
        if stored.duplicate_of is not None:
            raise ReprocessRefused(
                f"HL7报文{message_id}是报文{stored.duplicate_of}的重复，请重新处理原报文"
            )
        started_at = self.clock()
        try:
            header = read_header(stored.raw)
        except HeaderUnreadable:
            header = None
        if header is None or stored.size != len(stored.raw):
            raise ReprocessRefused(f"HL7报文{message_id}缺少MSH段或超长，无法重新处理")
        result = self._process(header, self._decode(stored.raw, header))
        final = result.outcome in log_.FINAL_OUTCOMES
        self.log.record(message_id, result, started_at=started_at, actor=actor, keep_key=final)
        key = log_.Receipt(
            raw=b"",
            peer="",
            received_at=started_at,
            sender_application=header.sending_application,
            sender_facility=header.sending_facility,
            control_id=header.control_id or None,
        ).dedupe_key
        if final and key:
            self.log.claim_key(message_id, key)
        refreshed = self.log.get(message_id)
        assert refreshed is not None
        return refreshed

    # -- steps ---------------------------------------------------------------------------------

    def _receive(self, receipt: log_.Receipt) -> int | log_.LoggedMessage:
        """Insert the row (its id), or the first message with this MSH-10 once it is answered."""
        key = receipt.dedupe_key
        while True:
            with self._writer_turn:
                message_id = self.log.receive(receipt)
            if message_id is not None:
                return message_id
            assert key is not None
            holder = self.log.holder(key)
            if holder is None:
                continue  # released meanwhile: try again
            if holder.ack is not None:
                return holder
            age = (self.clock() - holder.received_at).total_seconds()
            if age > self.stale_after_s:  # its processing died without an answer: take over
                self.log.release(holder.id, only_unanswered=True)
                continue
            time.sleep(self.poll_interval_s)

    def _decode(self, raw: bytes, header: RawHeader) -> _Decoded:
        codec = header.codec
        if codec is None:
            return _Decoded(
                None,
                Hl7Error(
                    f"不支持的字符集（MSH-18）：{header.charset_label}",
                    Location("MSH", 1, 18),
                    hl7_code=TABLE_VALUE_NOT_FOUND,
                    code="HL7_UNKNOWN_CHARSET",
                ),
            )
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            return _Decoded(
                None,
                Hl7Error(
                    f"报文内容与字符集{header.charset_label or 'UNICODE UTF-8'}（MSH-18）不符",
                    Location("MSH", 1, 18),
                    hl7_code=DATA_TYPE_ERROR,
                    code="HL7_BAD_ENCODING",
                ),
            )
        try:
            return _Decoded(Hl7Message(text), None)
        except Hl7Error as error:
            return _Decoded(None, error)

    def _process(self, header: RawHeader, decoded: _Decoded) -> log_.Result:
        try:
            message = _checked(header, decoded)
            command = to_command(message, self.profile)
        except Hl7Error as error:
            return self._result(header, "AR", log_.REJECTED, [_ar(error, header)], _errors(error))
        try:
            if isinstance(command, Admit | Discharge):  # upstream reads: not in the writers' turn
                outcome = dispatch(command, self.commands, _actor(header))
            else:
                with self._writer_turn:
                    outcome = dispatch(command, self.commands, _actor(header))
        except EligibilityRefused as exc:
            errors = [AckError(r.code, r.message, diagnostic=r.article) for r in exc.reasons]
            errors = errors or [AckError(exc.code, exc.message, diagnostic=exc.article)]
            return self._result(header, "AE", log_.REFUSED, errors, _errors(exc))
        except (UpstreamUnavailable, UpstreamMalformed) as exc:
            errors = [AckError(exc.code, f"{exc.message}（请稍后重发）")]
            return self._result(header, "AE", log_.TRANSIENT, errors, _errors(exc))
        except InvalidMessage as exc:
            error = Hl7Error(exc.message, None, hl7_code=DATA_TYPE_ERROR, code=exc.code)
            ack_error = _ar(error, header)
            return self._result(header, "AR", log_.REJECTED, [ack_error], _errors(exc))
        except (DomainError, AdapterError) as exc:  # refusals, upstream rejections
            errors = [AckError(exc.code, exc.message, diagnostic=exc.article)]
            return self._result(header, "AE", log_.REFUSED, errors, _errors(exc))
        except SQLAlchemyError as exc:
            if not is_storage_full(exc):
                return self._failed(header, exc)
            return self._disk_full(header, "process")
        except Exception as exc:
            return self._failed(header, exc)
        warnings = [
            AckError(w.code, w.message, severity="W", diagnostic=w.article)
            for w in outcome.warnings
        ]
        return self._result(header, "AA", log_.ACCEPTED, warnings, _outcome_detail(outcome))

    def _failed(self, header: RawHeader, exc: Exception) -> log_.Result:
        """An unexpected error: AE, and an operator re-processes the message after the fix."""
        logger.exception(
            "hl7.processing_failed", extra={"control_id": header.control_id}, exc_info=exc
        )
        errors = [
            AckError(
                APPLICATION_INTERNAL_ERROR,
                "适配器内部错误，请联系信息科处理",
                coding_system=HL7_CODES,
                diagnostic=type(exc).__name__,
            )
        ]
        return self._result(
            header,
            "AE",
            log_.FAILED,
            errors,
            json.dumps(
                {"error": type(exc).__name__, "message": str(exc)[:500]}, ensure_ascii=False
            ),
        )

    def _disk_full(self, header: RawHeader, step: str) -> log_.Result:
        """AE for a write the database's full disk refused (rolled back whole): resend later."""
        logger.error("hl7.database_full", extra={"control_id": header.control_id, "step": step})
        error = AckError(DATABASE_FULL, DATABASE_FULL_MESSAGE)
        detail = json.dumps(
            {"errors": [{"code": DATABASE_FULL, "message": DATABASE_FULL_MESSAGE}]},
            ensure_ascii=False,
        )
        return self._result(header, "AE", log_.TRANSIENT, [error], detail)

    def _result(
        self, header: RawHeader | None, code: str, outcome: str, errors: list[AckError], detail: str
    ) -> log_.Result:
        ack = build_ack(header, code, errors, identity=self.identity, now=self._now_local())
        return log_.Result(ack_code=code, outcome=outcome, ack=ack, detail=detail)

    def _reject_unkeyed(
        self,
        raw: bytes,
        peer: str,
        received_at: datetime,
        header: RawHeader | None,
        error: Hl7Error,
        *,
        size: int | None = None,
    ) -> bytes:
        """Store and answer AR for a message that can take no part in duplicate detection."""
        receipt = log_.Receipt(
            raw=raw,
            peer=peer,
            received_at=received_at,
            sender_application=header.sending_application if header else "",
            sender_facility=header.sending_facility if header else "",
            control_id=(header.control_id or None) if header else None,
            message_type=header.message_type if header else "",
            version=header.version if header else "",
            charset=header.charset_label if header else "",
        )
        extra = {"size": size} if size is not None else {}
        message_id = self.log.receive(receipt, keyed=False, **extra)
        assert message_id is not None
        result = self._result(header, "AR", log_.REJECTED, [_ar(error, header)], _errors(error))
        self.log.record(
            message_id,
            result,
            started_at=received_at,
            actor=_actor(header) if header else "hl7:?",
            keep_key=False,
        )
        return result.ack

    def _now_local(self) -> datetime:
        return self.clock().astimezone(self.profile.zone)


def _checked(header: RawHeader, decoded: _Decoded) -> Hl7Message:
    """The decoded message, once the header says it is one we can take."""
    if decoded.error is not None and decoded.error.code in ("HL7_UNKNOWN_CHARSET",):
        raise decoded.error
    if not header.version_supported:
        raise Hl7Error(
            f"不支持的HL7版本（MSH-12）：{header.version or '（空）'}",
            Location("MSH", 1, 12),
            hl7_code=UNSUPPORTED_VERSION_ID,
            code="HL7_UNSUPPORTED_VERSION",
        )
    if not header.control_id:
        raise Hl7Error(
            "缺少消息控制号（MSH-10）",
            Location("MSH", 1, 10),
            hl7_code=REQUIRED_FIELD_MISSING,
            code="HL7_REQUIRED",
        )
    if decoded.error is not None:
        raise decoded.error
    assert decoded.message is not None
    return decoded.message


def _ar(error: Hl7Error, header: RawHeader | None) -> AckError:
    version = header.version if header and header.version_supported else "2.5"
    return AckError(
        error.hl7_code,
        error.message,
        coding_system=HL7_CODES,
        location=error.location,
        application_code=error.code,
        diagnostic=field_name(error.location, version) if error.location else "",
    )


def _visit_or_none(message: Hl7Message | None) -> str | None:
    if message is None:
        return None
    try:
        return visit_number(message)
    except Hl7Error:
        return None


def _actor(header: RawHeader) -> str:
    return f"hl7:{header.sender}"


def _errors(exc: AdapterError) -> str:
    reasons = getattr(exc, "reasons", ())
    items = [
        {"code": r.code, "article": r.article, "field": r.field, "message": r.message}
        for r in reasons
    ] or [
        {
            "code": exc.code,
            "article": exc.article,
            "field": getattr(exc, "field", ""),
            "message": exc.message,
        }
    ]
    return json.dumps({"errors": items}, ensure_ascii=False)


def _outcome_detail(outcome: Outcome) -> str:
    return json.dumps(
        {
            "encounter_id": outcome.encounter_id,
            "status": outcome.status,
            "settlement_id": outcome.settlement_id,
            "slip_no": outcome.slip_no,
            "replayed": outcome.replayed,
            "ignored_line_ids": list(outcome.ignored_line_ids),
            "warnings": [w.code for w in outcome.warnings],
        },
        ensure_ascii=False,
    )
