"""How long upstream has been unreachable, as this process has seen it.

Manual reimbursement for an upstream outage is allowed only once upstream has been down for
the site's ``manual_claim_wait`` (N§38, B§27): a short blip should be waited out, not turned
into paperwork for the worker. Every read a clerk makes reports its outcome here; the
manual-claim use case also probes upstream itself, so the watch never relies on stale news.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime


class UpstreamWatch:
    """Thread-safe: the time of the first failure since the last success, if any."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: datetime | None = None
        self._on_recovered: list[Callable[[], None]] = []

    def on_recovered(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when upstream answers again after a failure (e.g. to re-check
        the stays waiting for upstream at once, N§38)."""
        self._on_recovered.append(listener)

    def failed(self, at: datetime) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = at

    def succeeded(self) -> None:
        with self._lock:
            recovered = self._down_since is not None
            self._down_since = None
        if recovered:
            for listener in self._on_recovered:
                listener()

    @property
    def down_since(self) -> datetime | None:
        with self._lock:
            return self._down_since
