"""How a message's outcome is answered: its ACK bytes and the log's ``Result``.

Outcomes: ``accepted`` (AA), ``refused`` (AE, a business rule), ``rejected`` (AR, malformed or
unsupported), ``transient`` (AE, upstream unavailable, or the visit not admitted yet: resend
later), ``failed`` (AE, an unexpected error: an operator re-processes it after the fix). Only
``accepted`` and ``refused`` are final; the others let the same MSH-10 be processed again when
resent.

A **full disk** under the database (SQLite SQLITE_FULL, PostgreSQL SQLSTATE 53100) is answered
``AE`` with an ERR that says so (``DATABASE_FULL``), in the message's own version and charset,
so the HIS operator reads why rather than a dropped connection. Its outcome is ``transient``:
never ``AA``, and never final, since what the disk refused rolled back whole and the sender
resends once IT has freed space.

Each result's ``detail`` is the JSON the operator CLI and REST show: the errors (code, article,
field, message), or for an accepted message what the use case returned.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from adapter.domain.commands import Outcome
from adapter.domain.errors import AdapterError
from connectors.hl7 import message_log as log_
from connectors.hl7.ack import HL7_CODES, AckError, AckIdentity, build_ack
from connectors.hl7.errors import APPLICATION_INTERNAL_ERROR, Hl7Error
from connectors.hl7.fieldmap import field_name
from connectors.hl7.header import RawHeader

logger = logging.getLogger("connectors.hl7")


DATABASE_FULL = "DATABASE_FULL"
DATABASE_FULL_MESSAGE = "适配器数据库所在磁盘已满，本报文未保存，请信息科清理磁盘后重发"
DATABASE_BUSY = "DATABASE_BUSY"
DATABASE_BUSY_MESSAGE = "适配器当前繁忙（数据库连接已全部占用），本报文未处理完成，请稍后重发"


@dataclass(frozen=True)
class Answers:
    """Builds each outcome's ACK as ``identity``, timestamped with ``now`` (local time)."""

    identity: AckIdentity
    now: Callable[[], datetime]

    def result(
        self, header: RawHeader | None, code: str, outcome: str, errors: list[AckError], detail: str
    ) -> log_.Result:
        ack = build_ack(header, code, errors, identity=self.identity, now=self.now())
        return log_.Result(ack_code=code, outcome=outcome, ack=ack, detail=detail)

    def failed(self, header: RawHeader, exc: Exception) -> log_.Result:
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
        return self.result(
            header,
            "AE",
            log_.FAILED,
            errors,
            json.dumps(
                {"error": type(exc).__name__, "message": str(exc)[:500]}, ensure_ascii=False
            ),
        )

    def busy(self, header: RawHeader, step: str) -> log_.Result:
        """AE when every pooled database connection stayed busy: nothing written; resend."""
        logger.error("hl7.database_busy", extra={"control_id": header.control_id, "step": step})
        error = AckError(DATABASE_BUSY, DATABASE_BUSY_MESSAGE)
        detail = json.dumps(
            {"errors": [{"code": DATABASE_BUSY, "message": DATABASE_BUSY_MESSAGE}]},
            ensure_ascii=False,
        )
        return self.result(header, "AE", log_.TRANSIENT, [error], detail)

    def disk_full(self, header: RawHeader, step: str) -> log_.Result:
        """AE for a write the database's full disk refused (rolled back whole): resend later."""
        logger.error("hl7.database_full", extra={"control_id": header.control_id, "step": step})
        error = AckError(DATABASE_FULL, DATABASE_FULL_MESSAGE)
        detail = json.dumps(
            {"errors": [{"code": DATABASE_FULL, "message": DATABASE_FULL_MESSAGE}]},
            ensure_ascii=False,
        )
        return self.result(header, "AE", log_.TRANSIENT, [error], detail)


def ack_error(error: Hl7Error, header: RawHeader | None) -> AckError:
    """The ERR segment for an AR: HL7 table 0357 code, location and the field's name."""
    version = header.version if header and header.version_supported else "2.5"
    return AckError(
        error.hl7_code,
        error.message,
        coding_system=HL7_CODES,
        location=error.location,
        application_code=error.code,
        diagnostic=field_name(error.location, version) if error.location else "",
    )


def errors_detail(exc: AdapterError) -> str:
    """The logged detail of a refusal or rejection: every reason, or the error itself."""
    reasons = getattr(exc, "reasons", ())
    items = [
        {"code": r.code, "article": r.article, "field": r.field, "message": r.message}
        for r in reasons
    ] or [
        {
            "code": exc.code,
            "article": exc.article,
            "field": exc.field,
            "message": exc.message,
        }
    ]
    return json.dumps({"errors": items}, ensure_ascii=False)


def outcome_detail(outcome: Outcome) -> str:
    """The logged detail of an accepted message: what the use case returned."""
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
