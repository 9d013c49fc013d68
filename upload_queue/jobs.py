"""What a job is, as callers and handlers see it (frozen dataclasses, no database types).

* :class:`JobSpec` — what a caller enqueues.
* :class:`Job` — a job as stored, for operators (status, attempts, deadline, last error).
* :class:`Delivery` — what a handler receives: enough to make one idempotent upstream call.
* :class:`Attempt`, :class:`PayloadRevision` — the history an operator reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from upload_queue.clock import as_utc

Status = Literal["pending", "in_flight", "delivered", "dead", "withdrawn"]
Outcome = Literal["delivered", "transient", "permanent", "lease_expired", "lease_lost"]


@dataclass(frozen=True)
class JobSpec:
    """A job to enqueue.

    ``ordering_key`` groups jobs that must reach upstream in enqueue order (e.g. one
    encounter: a revocation never overtakes the settlement it revokes); ``None`` means the
    job is ordered only by its deadline. ``idempotency_key`` is unique across the queue and
    is what upstream sees, so a repeated delivery is harmless.
    """

    kind: str
    payload: Mapping[str, Any]
    idempotency_key: str
    deadline: datetime
    ordering_key: str | None = None
    # ``payload`` as JSON text, encoded once by the caller (:func:`encode_payload`): stored as
    # it is, not checked, encoded again nor read back. For a payload of megabytes (a discharge
    # record of 10,000 fee lines) each of those passes cost as much as building it.
    encoded: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.kind or len(self.kind) > 64:
            raise ValueError("job kind must be 1 to 64 characters")
        if not self.idempotency_key or len(self.idempotency_key) > 200:
            raise ValueError("idempotency key must be 1 to 200 characters")
        if self.ordering_key is not None and not 0 < len(self.ordering_key) <= 200:
            raise ValueError("ordering key must be 1 to 200 characters, or None")
        object.__setattr__(self, "deadline", as_utc(self.deadline))
        if self.encoded is None:
            check_json(self.payload)
        elif not isinstance(self.encoded, str) or not self.encoded.startswith("{"):
            raise ValueError("an encoded job payload must be a JSON object's text")


def encode_payload(payload: Mapping[str, Any]) -> str:
    """``payload`` as the JSON text a job stores (:attr:`JobSpec.encoded`), refusing what
    :func:`check_json` refuses: encoding it is checking it."""
    if not isinstance(payload, Mapping):
        raise ValueError("job payload must be a JSON object (a mapping)")
    try:
        return json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"job payload is not plain JSON: {exc}") from exc


def check_json(payload: Mapping[str, Any]) -> None:
    """Refuse a payload that would not survive the round trip through a JSON column."""
    if not isinstance(payload, Mapping):
        raise ValueError("job payload must be a JSON object (a mapping)")
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"job payload is not plain JSON: {exc}") from exc


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: Mapping[str, Any]
    idempotency_key: str
    ordering_key: str | None
    deadline: datetime
    created_at: datetime
    status: Status
    available_at: datetime
    attempts: int
    total_attempts: int
    last_error: str | None = None
    delivered_at: datetime | None = None
    dead_at: datetime | None = None
    leased_by: str | None = None
    lease_expires_at: datetime | None = None
    withdrawn_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Job:
        return cls(**{name: row[name] for name in _JOB_FIELDS})


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt handed to a handler. ``attempt`` counts from 1 over the job's life."""

    job_id: int
    kind: str
    payload: Mapping[str, Any]
    idempotency_key: str
    attempt: int
    deadline: datetime
    ordering_key: str | None = None
    lease_token: str = field(default="", repr=False, compare=False)
    # the job's payload revision it was leased with (0: the original payload), recorded with
    # the attempt; ``None`` for a delivery that did not come from a lease
    payload_revision: int | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Attempt:
    job_id: int
    number: int
    worker: str | None
    started_at: datetime
    finished_at: datetime
    duration_s: float
    outcome: Outcome
    error: str | None
    refused: bool = False  # the receiver refused it: it certainly took no effect
    payload_revision: int | None = None  # the payload it went with (None: recorded before 0019)


@dataclass(frozen=True)
class PayloadRevision:
    job_id: int
    replaced_at: datetime
    payload: Mapping[str, Any]
    note: str | None


_JOB_FIELDS = tuple(Job.__dataclass_fields__)
