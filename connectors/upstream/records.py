"""What the client hands to the call log after every HTTP attempt.

The client masks both bodies (:mod:`adapter.domain.masking`) *before* building a
:class:`CallRecord`, so no recorder ever sees a citizen ID, card number, phone or name in
full. :class:`CallRecorder` is the port; :class:`connectors.upstream.call_log.CallLog` stores
records durably, :class:`MemoryRecorder` keeps them in a list for tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

Outcome = Literal["ok", "rejected", "unavailable", "malformed"]


@dataclass(frozen=True)
class CallRecord:
    infno: str
    msgid: str
    context: str  # encounter or other id the caller named; "" when none
    started_at: datetime  # timezone-aware
    duration_ms: int
    outcome: Outcome
    http_status: int | None  # None when no reply came (time-out, connection error)
    infcode: int | None
    err_msg: str
    request_body: dict[str, Any]  # the envelope, masked
    reply_body: Any  # the reply envelope masked, or masked text when it was not JSON
    is_write: bool
    attempt: int = 1  # 1-based, counting tenacity's retries of a read
    resent_from: int | None = None  # call log id this call re-sends


class CallRecorder(Protocol):
    def record(self, call: CallRecord) -> None:
        """Store ``call``; must not raise for reasons of the caller's own transaction."""
        ...


class MemoryRecorder:
    """Keeps records in memory, in order (tests, and a site without a call log)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[CallRecord] = []

    def record(self, call: CallRecord) -> None:
        with self._lock:
            self.calls.append(call)
