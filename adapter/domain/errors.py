"""The adapter's one exception hierarchy.

Lower-level errors (httpx, SQLAlchemy, hl7apy) are translated into these at the edge that
meets them, so callers catch by meaning, not by library::

    AdapterError
    ├── DomainError                  a rule of the domain was broken by the request
    │   ├── EligibilityRefused       the worker may not be settled directly (carries every reason)
    │   │   └── ConfirmationRequired  settles only once the counter confirms what it was warned of
    │   ├── InvalidTransition        the encounter cannot move to that state from where it is
    │   │   └── StayOverlaps         (services.stay_overlaps) its days overlap a stay settled or
    │   │                            claimed by hand (N§33, N§38)
    │   ├── Conflict                 someone else changed or settled it first (retry after refresh)
    │   │   └── OpenStayExists       (services.admission) the worker already has an open stay
    │   ├── PricingError             a fee line cannot be priced (bad amounts, unknown original)
    │   ├── NotFound                 the thing named does not exist
    │   ├── TimeOutOfWindow          (domain.stay_times) a time the stay or the clock rules out
    │   │   └── FittingInFuture, FittingTooOld, FittingBeforeFiling  (domain.device_times)
    │   │                            a device fitting dated outside its window (N§16, N§34)
    │   └── RevocationNotAcknowledged  (services.unacknowledged_revocation) a manual
    │                                claim after a revocation upstream has not acknowledged
    ├── UpstreamError                talking to the provincial/national system failed
    │   ├── UpstreamUnavailable      transient: time-out, connection error, 5xx, 429 — retry later
    │   │   ├── UpstreamDownAtDesk          (services.upstream_outage) outage at a desk:
    │   │   │   │                           retry or a manual-claim case (N§38, B§27)
    │   │   │   ├── UpstreamDownAtAdmission     (services.admission) at the admission desk
    │   │   │   └── UpstreamDownAtDeviceCounter (services.device_outage) at the device counter
    │   │   └── UpstreamDownAtDischarge     (services.discharge_waits) outage at discharge:
    │   │                                   wait or manual claim (N§38)
    │   ├── UpstreamRejected         permanent: infcode -1 or 4xx — upstream's message kept
    │   │   └── UpstreamRefused      infcode ≠ 0 in upstream's own reply: it read the message
    │   │       │                    and did not act on it (a 4xx may come from a gateway)
    │   │       └── SignExpired      (connectors.upstream.translate) the request's signature aged
    │   └── UpstreamMalformed        the reply was not the dialect's envelope
    ├── InvalidMessage               inbound HL7 or JSON that cannot be understood
    │   ├── Hl7Error                 (connectors.hl7.errors) an HL7 segment or field is wrong
    │   └── CatalogueFileRefused     (services.catalogue_import) a catalogue file is unreadable
    ├── SettingsError                (adapter.settings) a setting is missing or wrong
    ├── AuditKeyError                (store.audit_keys) the audit signing key is missing or wrong
    ├── CardError                    (connectors.cards) the card reader or card failed
    │   ├── ReaderUnavailable, NoCardPresent, CardUnreadable, CardLost
    │   └── TokenExpired, TokenInvalid   a card token handed to the browser is stale or forged
    ├── ResendRefused                (connectors.upstream.call_log) a logged call may not be resent
    ├── ReprocessRefused             (connectors.hl7.reprocess) a stored HL7 message may not be
    │                                processed again
    ├── SiteProfileError             (connectors.hl7.profile) the HIS site profile is wrong
    └── SlipFontMissing              (web.slip_pdf) the slip PDF cannot be drawn without its font

Each error has a machine-readable ``code``, the ``article`` it enforces (``N§33``, ``B§32``)
where one applies, the ``field`` of the request it is about (``lines.3.amount``) where one
does, and a Chinese ``message`` a clerk can read to the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapter.domain.rules import Finding


class AdapterError(Exception):
    """Base of every error the adapter raises on purpose."""

    code: str = "ADAPTER_ERROR"
    article: str = ""
    field: str = ""  # where in the request: ``PID-3``, ``lines.2.amount``; '' for the whole

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        article: str | None = None,
        field: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if article is not None:
            self.article = article
        if field is not None:
            self.field = field


class DomainError(AdapterError):
    code = "DOMAIN_ERROR"


class EligibilityRefused(DomainError):
    """Direct settlement is refused; ``reasons`` lists every failed rule."""

    code = "ELIGIBILITY_REFUSED"

    def __init__(self, reasons: Sequence[Finding]):
        self.reasons = tuple(reasons)
        text = "；".join(reason.message for reason in self.reasons) or "不符合直接结算条件"
        first = self.reasons[0] if self.reasons else None
        super().__init__(
            text,
            code=first.code if first else None,
            article=first.article if first else None,
        )


class ConfirmationRequired(EligibilityRefused):
    """The request may go on only when the clerk confirms: ``reasons`` are the warnings to
    confirm (a device replaced inside its minimum years that the worker would pay, 附表2)."""

    code = "CONFIRMATION_REQUIRED"


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


class Conflict(DomainError):
    """A concurrent change won: a stale version, a duplicate admission or settlement."""

    code = "CONFLICT"


class PricingError(DomainError):
    code = "PRICING_ERROR"


class NotFound(DomainError):
    code = "NOT_FOUND"


class UpstreamError(AdapterError):
    """Upstream failed; ``upstream_message`` keeps upstream's own words (err_msg)."""

    code = "UPSTREAM_ERROR"

    def __init__(
        self,
        message: str,
        *,
        infno: str = "",
        msgid: str = "",
        upstream_message: str = "",
        code: str | None = None,
    ):
        super().__init__(message, code=code)
        self.infno = infno
        self.msgid = msgid
        self.upstream_message = upstream_message


class UpstreamUnavailable(UpstreamError):
    code = "UPSTREAM_UNAVAILABLE"


class UpstreamRejected(UpstreamError):
    code = "UPSTREAM_REJECTED"


class UpstreamRefused(UpstreamRejected):
    """A business refusal: upstream's own well-formed reply with ``infcode`` ≠ 0. The write
    certainly took no effect there (the upload queue records the attempt as ``refused``)."""


class UpstreamMalformed(UpstreamError):
    code = "UPSTREAM_MALFORMED"


class InvalidMessage(AdapterError):
    """Inbound data that cannot be understood; ``field`` says where (``PID-3``, ``lines.2``)."""

    code = "INVALID_MESSAGE"

    def __init__(self, message: str, *, field: str = "", code: str | None = None):
        super().__init__(message, code=code, field=field)


SQLITE_FULL = 13  # sqlite3's extended error codes keep the primary code in the low byte
PG_DISK_FULL = "53100"  # SQLSTATE disk_full


def is_storage_full(exc: BaseException) -> bool:
    """Did the database refuse a write because its disk (or size limit) is full?

    SQLite says SQLITE_FULL ("database or disk is full"); PostgreSQL SQLSTATE 53100
    (``psycopg.errors.DiskFull``). Both entry points (REST and HL7) must tell it apart from
    other database errors, because IT's remedy differs (free disk space, not restart), and the
    domain is the one place both may import; it reads attributes and imports no driver.
    """
    original = getattr(exc, "orig", None) or exc
    if getattr(original, "sqlstate", None) == PG_DISK_FULL:
        return True
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
        return True
    return "database or disk is full" in str(original)
