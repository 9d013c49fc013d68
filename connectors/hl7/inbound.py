"""One inbound message, end to end: store → process → store outcome → ACK bytes.

:class:`Hl7Inbound` is what the MLLP listener calls (from a worker thread) for each frame:

1. read the MSH header from the raw bytes (MSH-18 says how to decode the rest,
   :mod:`connectors.hl7.decode`);
2. store the message in :mod:`connectors.hl7.message_log`, committed (the process may crash,
   the message stays), **before** anything else.
   If the same sender's MSH-10 is already logged with a final outcome, log the repeat and
   return the first ACK unchanged, without processing (a repeat arriving while the first is
   still being processed waits for the first's ACK) — if it is the same message
   (:func:`~connectors.hl7.header.same_message`: MSH-7 may differ). Another message under
   that MSH-10 (an HIS whose counter restarted) is answered AR at MSH-10 and logged without
   a key: given the first's AA, its fees or discharge would be lost while the HIS took them
   as recorded;
3. translate it into a command and hand that to the injected
   :class:`~adapter.domain.commands.EncounterCommands` (:mod:`connectors.hl7.processing`);
4. store the outcome and the exact ACK bytes, committed, and only then return the ACK.

A control character (C0 or DEL) anywhere in the MSH segment is answered at step 1 with an AR
naming the field; when it is in MSH-10 the ACK's MSA-2 is left empty (the control id cannot
be echoed), and the message is logged without a dedupe key. In any other segment it is
refused at step 3 (:mod:`connectors.hl7.controls`). Every such frame gets an ACK.

If the database fails at step 2 or 4, the exception propagates and the listener closes the
connection without an ACK: the sender resends, and nothing was acknowledged that is not stored.
One database failure is answered instead: a **full disk** (SQLite SQLITE_FULL, PostgreSQL
SQLSTATE 53100), at any step, gets an ``AE`` whose ERR says so (``DATABASE_FULL``, built in
:mod:`connectors.hl7.outcomes`). It is never ``AA``: what the disk refused rolled back whole,
the message's dedupe key is given up (when the disk still allows that), and the sender
resends once IT has freed space. That ``AE`` may not be in the log (the disk would not take
it); it is not final.

**SQLite has one writer.** When several listener threads wait for its write lock, SQLite's
busy handler makes each sleep 1, 2, 5, 10 … ms between tries, so under load messages wait
far longer than the lock is held. On SQLite the steps that only write (2, 4, and processing
commands that call nothing upstream: A08, DFT^P03, A11, A13) therefore take turns on a lock
in this process instead; an admission or a discharge (upstream reads) runs outside it.

**One sync per A08 or DFT^P03.** ``defer_sync`` (from the composition root: on SQLite with
synced commits, :func:`adapter.store.db.deferred_sync`) marks the commits of steps 2 and 3
(step 3 only for A08 and DFT^P03, see :mod:`connectors.hl7.processing`) to skip their own
sync; step 4's commit is synced as configured, and in WAL mode that puts every earlier commit
on the disk too. A power cut before it loses at most a message that was never acknowledged:
the HIS resends it, and the log's dedupe and the use cases' replay take the resend. Only this
thread's steps are marked; a repeat's own log row and a released key sync as configured.

**Several senders' A08s, one commit.** On SQLite, ``group_transaction`` (from the composition
root: :func:`adapter.store.db.one_transaction`) runs the ADT^A08s that arrive together in one
transaction: steps 2 to 4 of each, one message after another (its use case in a savepoint), the
writer turn held, one synced commit for all, and only then their ACKs
(:mod:`connectors.hl7.group_commit`). A repeat, and every message of a group that failed, is
answered alone as above.

What each outcome is answered with, and which outcomes are final, is in
:mod:`connectors.hl7.outcomes`; an operator's re-process of a stored message in
:mod:`connectors.hl7.reprocess`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolExhausted

from adapter.domain.commands import EncounterCommands
from adapter.domain.errors import is_storage_full
from connectors.hl7 import message_log as log_
from connectors.hl7.ack import AckIdentity
from connectors.hl7.decode import Decoded, control_in_header, decode, visit_or_none
from connectors.hl7.errors import (
    APPLICATION_INTERNAL_ERROR,
    DUPLICATE_KEY,
    SEGMENT_SEQUENCE_ERROR,
    Hl7Error,
    Location,
)
from connectors.hl7.group_commit import GroupCommit
from connectors.hl7.header import HeaderUnreadable, RawHeader, read_header, same_message
from connectors.hl7.outcomes import Answers, ack_error, errors_detail
from connectors.hl7.processing import actor as _actor
from connectors.hl7.processing import process
from connectors.hl7.profile import SiteProfile
from connectors.hl7.reprocess import reprocess

logger = logging.getLogger("connectors.hl7")

__all__ = ["GROUPED", "Hl7Inbound"]

# What a group commit takes: messages that only write and are answered from what they wrote
# (an A08's use case reads nothing outside its own unit of work). A DFT^P03 reads prices and
# totals through other connections, and the other ADT events queue uploads or call upstream.
GROUPED = frozenset({"ADT^A08"})


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
        defer_sync: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
        group_transaction: Callable[[], AbstractContextManager[Any]] | None = None,
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
        self._answers = Answers(self.identity, self._now_local)
        self._defer_sync = defer_sync
        self._group: GroupCommit[bytes] | None = (
            GroupCommit(group_transaction, turn=self._writer_turn)
            if group_transaction is not None and sqlite
            else None
        )

    @property
    def group_commit(self) -> bool:
        """Do A08s arriving together share one commit (SQLite, when wired with a group)?"""
        return self._group is not None

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
        if header.control_field:  # answered AR naming the field, without its control chars
            error = control_in_header(header)
            return self._reject_unkeyed(raw, peer, received_at, header, error)
        decoded = decode(raw, header)
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
            visit_number=visit_or_none(decoded.message),
        )
        if self._group is not None and header.message_type in GROUPED:
            answered = self._group.run(lambda: self._answer_in_group(receipt, header, decoded))
            if answered is not None:
                return answered
        try:
            with self._defer_sync():  # step 4's synced commit carries it to the disk
                stored = self._receive(receipt)
        except PoolExhausted:
            return self._answers.busy(header, "receive").ack  # nothing stored: resend later
        except SQLAlchemyError as exc:
            if not is_storage_full(exc):
                raise
            return self._answers.disk_full(header, "receive").ack  # nothing stored
        if isinstance(stored, log_.LoggedMessage):
            if not same_message(stored.raw, raw):
                error = _reused(stored, stored.received_at.astimezone(self.profile.zone))
                return self._reject_unkeyed(raw, peer, received_at, header, error)
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
            return self._answers.disk_full(header, "record").ack
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
        return reprocess(self.log, message_id, actor=actor, clock=self.clock, process=self._process)

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

    def _answer_in_group(
        self, receipt: log_.Receipt, header: RawHeader, decoded: Decoded
    ) -> bytes | None:
        """Steps 2–4 inside a group's transaction (its writer turn held); ``None`` for a
        repeat, answered alone from the first message's ACK (nothing of it written here)."""
        message_id = self.log.receive(receipt)
        if message_id is None:
            return None
        result = self._process(header, decoded, writer_turn=contextlib.nullcontext())
        self.log.record(
            message_id,
            result,
            started_at=receipt.received_at,
            actor=_actor(header),
            keep_key=result.outcome in log_.FINAL_OUTCOMES,
        )
        return result.ack

    def _process(
        self,
        header: RawHeader,
        decoded: Decoded,
        writer_turn: AbstractContextManager[Any] | None = None,
    ) -> log_.Result:
        return process(
            header,
            decoded,
            commands=self.commands,
            profile=self.profile,
            answers=self._answers,
            writer_turn=self._writer_turn if writer_turn is None else writer_turn,
            defer_sync=self._defer_sync,
        )

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
        with self._defer_sync():
            message_id = self.log.receive(receipt, keyed=False, **extra)
        assert message_id is not None
        result = self._answers.result(
            header, "AR", log_.REJECTED, [ack_error(error, header)], errors_detail(error)
        )
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


def _reused(first: log_.LoggedMessage, received: datetime) -> Hl7Error:
    """The AR's error for another message under ``first``'s MSH-10 (``received``: local)."""
    return Hl7Error(
        f"消息控制ID（MSH-10）{first.control_id}已用于本系统于"
        f"{received:%Y-%m-%d %H:%M:%S}收到的另一条消息（消息记录{first.id}），"
        "本消息未处理；请以新的控制ID发送",
        Location("MSH", 1, 10),
        hl7_code=DUPLICATE_KEY,
        code="HL7_CONTROL_ID_REUSED",
    )
