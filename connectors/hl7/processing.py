"""A decoded message → a command for the injected ``EncounterCommands`` → its answer.

:func:`process` translates the message into a command (:mod:`connectors.hl7.mapping`), hands it
to the use cases, and turns what they return or raise into the ACK and logged outcome
(:mod:`connectors.hl7.outcomes`): AR for what cannot be understood, AE for a refusal, an
unavailable upstream, a full disk or an unexpected error, AA (with warnings) otherwise. A
message for a visit not admitted yet (it overtook its A01) is an AE that is not final, so the
HIS's resend after the admission is processed. It
never raises: every outcome is an answer. A refusal that names a field (``lines.2.unit_price``)
is located in the message it refuses (:mod:`connectors.hl7.locations`) for the ERR-2.

Commands that only write (A02, A08, DFT^P03, A11, A13) run inside ``writer_turn`` (on SQLite
the pipeline's lock on its one writer, see :mod:`connectors.hl7.inbound`); an admission or a
discharge reads upstream and runs outside it.

An A02, an A08 or a DFT^P03 runs inside ``defer_sync`` too (on SQLite with synced commits: its
commit skips its own sync, :func:`adapter.store.db.deferred_sync`), because nothing leaves the
adapter on the strength of it before the outcome's synced commit carries it to the disk. The
other commands queue uploads (A01, A06, A03, A11, A13): a queue worker may deliver one upstream the
moment it is committed, so those commits keep their own sync.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolExhausted

from adapter.domain.commands import Admit, Discharge, EncounterCommands, RecordFees, UpdateVisit
from adapter.domain.errors import (
    AdapterError,
    DomainError,
    EligibilityRefused,
    InvalidMessage,
    UpstreamMalformed,
    UpstreamUnavailable,
    is_storage_full,
)
from connectors.hl7 import message_log as log_
from connectors.hl7.ack import AckError
from connectors.hl7.decode import Decoded, checked
from connectors.hl7.errors import DATA_TYPE_ERROR, Hl7Error, Location
from connectors.hl7.header import RawHeader
from connectors.hl7.lengths import check_lengths
from connectors.hl7.locations import locate
from connectors.hl7.mapping import dispatch, to_command
from connectors.hl7.outcomes import Answers, ack_error, errors_detail, outcome_detail
from connectors.hl7.profile import SiteProfile

# A message for a visit not admitted (yet): it overtook its A01 (the use cases' code).
VISIT_NOT_FOUND = "VISIT_NOT_FOUND"


def process(
    header: RawHeader,
    decoded: Decoded,
    *,
    commands: EncounterCommands,
    profile: SiteProfile,
    answers: Answers,
    writer_turn: AbstractContextManager[Any],
    defer_sync: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> log_.Result:
    """Process one decoded message and answer it (never raises)."""
    try:
        message = checked(header, decoded, profile.processing_id)
        command = to_command(message, profile)
        check_lengths(message, command)
    except Hl7Error as error:
        return answers.result(
            header, "AR", log_.REJECTED, [ack_error(error, header)], errors_detail(error)
        )

    def where(field: str) -> Location | None:
        return locate(field, message, command)

    try:
        if isinstance(command, Admit | Discharge):  # upstream reads: not in the writers' turn
            outcome = dispatch(command, commands, actor(header))
        else:
            unqueued = isinstance(command, UpdateVisit | RecordFees)
            with writer_turn, defer_sync() if unqueued else nullcontext():
                outcome = dispatch(command, commands, actor(header))
    except EligibilityRefused as exc:
        errors = [_refusal(r.code, r.message, r.article, where(r.field)) for r in exc.reasons]
        errors = errors or [_refusal(exc.code, exc.message, exc.article, where(exc.field))]
        return answers.result(header, "AE", log_.REFUSED, errors, errors_detail(exc))
    except (UpstreamUnavailable, UpstreamMalformed) as exc:
        errors = [AckError(exc.code, f"{exc.message}（请稍后重发）")]
        return answers.result(header, "AE", log_.TRANSIENT, errors, errors_detail(exc))
    except InvalidMessage as exc:
        invalid = Hl7Error(exc.message, where(exc.field), hl7_code=DATA_TYPE_ERROR, code=exc.code)
        return answers.result(
            header, "AR", log_.REJECTED, [ack_error(invalid, header)], errors_detail(exc)
        )
    except (DomainError, AdapterError) as exc:  # refusals, upstream rejections
        if exc.code == VISIT_NOT_FOUND:
            # Not final: the HIS's resend once the A01 is in is processed, not answered
            # this AE again from the log.
            text = f"{exc.message}（请在入院登记后重发）"
            errors = [_refusal(exc.code, text, exc.article, where(exc.field))]
            return answers.result(header, "AE", log_.TRANSIENT, errors, errors_detail(exc))
        errors = [_refusal(exc.code, exc.message, exc.article, where(exc.field))]
        return answers.result(header, "AE", log_.REFUSED, errors, errors_detail(exc))
    except SQLAlchemyError as exc:
        if isinstance(exc, PoolExhausted):
            return answers.busy(header, "process")
        if not is_storage_full(exc):
            return answers.failed(header, exc)
        return answers.disk_full(header, "process")
    except Exception as exc:
        return answers.failed(header, exc)
    warnings = [
        AckError(w.code, w.message, severity="W", location=where(w.field), diagnostic=w.article)
        for w in outcome.warnings
    ]
    return answers.result(header, "AA", log_.ACCEPTED, warnings, outcome_detail(outcome))


def _refusal(code: str, message: str, article: str, location: Location | None) -> AckError:
    return AckError(code, message, location=location, diagnostic=article)


def actor(header: RawHeader) -> str:
    """Who the use cases and the log record the message's actions as: the sending system."""
    return f"hl7:{header.sender}"
