"""What the domain needs from the outside world, as protocols.

``connectors/`` implements them and the composition root wires them; tests hand in fakes
that really behave. The upstream gateway's port lives in :mod:`adapter.domain.upstream`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from adapter.domain.people import CardData


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class CardReader(Protocol):
    """A social-security card reader: physical (vendor bridge), electronic, or simulated."""

    def read(self) -> CardData:
        """Read the card presented now; raises an ``AdapterError`` if no card can be read."""
        ...


@dataclass(frozen=True)
class QueuedUpload:
    """A write handed to the upload queue: what the clerk and the HIS are told about it."""

    job_id: int
    kind: str  # the infno, e.g. WI2301
    msgid: str  # the idempotency key upstream sees
    deadline: datetime


@dataclass(frozen=True)
class UploadWithdrawal:
    """What :meth:`Outbox.withdraw_refused` found about a dead upload: ``refused`` when every
    attempt was upstream's own refusal (it holds nothing of it), ``undone`` when every other
    attempt was made under a msgid upstream has reversed since (WI2601 delivered),
    ``uncertain`` when an attempt may have reached it (a time-out, a transport error, a
    5xx…) and stands, ``never_sent`` when none was made, ``not_dead`` when it is not a dead
    job (or no job at all); the keys withdrawn, the attempts made, how many of them may have
    taken effect and how many were reversed."""

    certainty: str
    withdrawn: tuple[str, ...] = ()
    attempts: int = 0
    uncertain: int = 0
    reversed: int = 0


@dataclass(frozen=True)
class UploadProgress:
    """Where a queued upload stands (:meth:`Outbox.progress`): ``status`` one of
    ``pending``, ``in_flight``, ``delivered``, ``dead``, ``withdrawn``; ``msgid`` what it was
    (or is to be) sent under; ``held_back_by`` the earlier undelivered job of its stay that a
    pending one waits behind."""

    job_id: int
    status: str
    msgid: str
    attempts: int = 0
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str = ""
    held_back_by: int | None = None


class Outbox(Protocol):
    """The transactional outbox, as the use cases see it.

    ``enqueue`` writes the upload job with the use case's own database session, inside its
    open transaction: the job exists if and only if the use case commits. The composition
    root implements it with :mod:`upload_queue`; ``adapter`` imports that package nowhere else.
    """

    def enqueue(
        self,
        session: Any,
        *,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
        ordering_key: str,
        deadline: datetime,
        encoded: str | None = None,
    ) -> QueuedUpload:
        """``encoded``: ``payload`` as JSON text, encoded once by the use case; stored as it
        is (a discharge record of 10,000 lines is megabytes: not encoded twice)."""
        ...

    def delivered(self, session: Any, idempotency_key: str) -> bool:
        """True once upstream has acknowledged the job with that key."""
        ...

    def due_by(self, session: Any, idempotency_keys: Iterable[str]) -> Mapping[str, datetime]:
        """The queue's deadline of each key's job still queued: it may be sooner than the one
        it was queued with (a later upload of its stay, due sooner, cannot go before it)."""
        ...

    def job_state(self, session: Any, idempotency_key: str) -> tuple[str, str] | None:
        """The job's status (``pending``, ``leased``, ``delivered``, ``dead``…) and its last
        error (upstream's reason for a refused job), or None when there is no such job."""
        ...

    def job_states(
        self, session: Any, idempotency_keys: Iterable[str]
    ) -> Mapping[str, tuple[str, str]]:
        """:meth:`job_state` of each key that names a job (keys naming none are left out)."""
        ...

    def progress(
        self, session: Any, idempotency_keys: Iterable[str]
    ) -> Mapping[str, UploadProgress]:
        """:class:`UploadProgress` of each key that names a job, delivered and purged ones
        included (keys naming none are left out), in a few statements whatever their number."""
        ...

    def sent_msgid(self, session: Any, idempotency_key: str) -> str:
        """The msgid upstream holds the job with that key under: the key (its first msgid)
        unless a re-send after a refusal gave it a fresh one. What a later write that names
        the upload (WI2305's ``omsgid``) must name."""
        ...

    def withdraw_refused(
        self,
        session: Any,
        idempotency_key: str,
        undoing: Iterable[str],
        *,
        reason: str | Callable[[str], str],
    ) -> UploadWithdrawal:
        """In the session's transaction: withdraw the dead job with that key and the jobs of
        ``undoing`` (queued only to undo it) — never sent, holding nothing back — if and only
        if upstream certainly holds nothing of it: every attempt of it was upstream's own
        refusal, or made under a msgid whose reversal (WI2601) upstream acknowledged; else
        change nothing. ``reason``, or ``reason(certainty)``, is recorded as why."""
        ...


class MsgidSource(Protocol):
    """Hands out ``msgid`` values (the upstream idempotency key); never the same one twice."""

    def next(self) -> str: ...


class UploadJob(Protocol):
    """An upload job as IT's use cases see it (the queue's own record satisfies it)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...
    @property
    def deadline(self) -> datetime: ...
    @property
    def ordering_key(self) -> str | None: ...


class UploadJobs(Protocol):
    """IT's hand on the upload queue: look at jobs, re-send one, wake the workers.

    The composition root adapts :mod:`upload_queue` to it; the services never import that
    package. ``get`` and ``retry`` raise ``NotFound`` (``JOB_NOT_FOUND``); ``retry`` raises a
    ``DomainError`` (``JOB_NOT_RETRYABLE``) for a job that is neither dead nor waiting, and a
    ``Conflict`` (``JOB_CHANGED``) for one attempted again since the caller looked.
    """

    def get(self, job_id: int) -> UploadJob: ...

    def outcomes(self, job_id: int) -> Sequence[str]:
        """How each delivery attempt ended, oldest first (``permanent``: upstream refused it;
        ``transient``, ``lease_expired``…: it may or may not have reached upstream)."""
        ...

    def retry(
        self,
        job_id: int,
        *,
        payload: Mapping[str, Any] | None,
        note: str | None,
        seen_attempts: int | None = None,
    ) -> UploadJob:
        """``seen_attempts``: the number of attempts the caller decided on; a ``Conflict``
        (``JOB_CHANGED``) if the job was attempted again since."""
        ...

    def wake(self) -> None:
        """Deliver now rather than at the next poll (no-op without workers here)."""
        ...

    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        ordering_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[UploadJob]: ...

    def held_back_by(self, job_ids: Iterable[int]) -> dict[int, int]:
        """Of ``job_ids``, those held back behind an earlier undelivered job of the same stay
        (uploads of a stay go in order): the earliest such job's id."""
        ...

    def summary(self, *, since: datetime | None = None) -> Any:
        """Counts by status and kind, the next deadline, those at risk or missed; with
        ``since``, also the deadlines since then that were missed (late deliveries too)."""
        ...

    def health(self) -> dict[str, Any]: ...

    def hourly(self, now: datetime, hours: int = 24) -> Sequence[Any]:
        """Per hour up to ``now``: the peak backlog, jobs delivered and their latency
        (``at``, ``backlog``, ``delivered``, ``latency_p50_s``, ``latency_max_s``)."""
        ...


class UpstreamCalls(Protocol):
    """The upstream call log: IT searches it and re-sends a logged read."""

    def search(self, **filters: Any) -> list[Any]: ...

    def resend(self, call_id: int, *, overrides: Mapping[str, Any] | None) -> Any: ...


class Hl7Messages(Protocol):
    """The inbound HL7 message log: IT searches it and processes a stored message again."""

    def search(self, **filters: Any) -> list[Any]: ...

    def reprocess(self, message_id: int, *, actor: str) -> Any:
        """The message after a new attempt; a ``DomainError`` when it may not be reprocessed."""
        ...
