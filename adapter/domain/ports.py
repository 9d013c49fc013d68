"""What the domain needs from the outside world, as protocols.

``connectors/`` implements them and the composition root wires them; tests hand in fakes
that really behave. The upstream gateway's port lives in :mod:`adapter.domain.upstream`.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    ) -> QueuedUpload: ...

    def delivered(self, session: Any, idempotency_key: str) -> bool:
        """True once upstream has acknowledged the job with that key."""
        ...

    def job_state(self, session: Any, idempotency_key: str) -> tuple[str, str] | None:
        """The job's status (``pending``, ``leased``, ``delivered``, ``dead``…) and its last
        error (upstream's reason for a refused job), or None when there is no such job."""
        ...


class MsgidSource(Protocol):
    """Hands out ``msgid`` values (the upstream idempotency key); never the same one twice."""

    def next(self) -> str: ...
