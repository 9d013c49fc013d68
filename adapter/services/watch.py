"""How long upstream has been unreachable, as this process has seen it.

Manual reimbursement for an upstream outage is allowed only once upstream has been down for
the site's ``manual_claim_wait`` (N§38, B§27): a short blip should be waited out, not turned
into paperwork for the worker. Every read a clerk makes reports its outcome here; the
manual-claim use case also probes upstream itself, so the watch never relies on stale news.
"""

from __future__ import annotations

import threading
from datetime import datetime


class UpstreamWatch:
    """Thread-safe: the time of the first failure since the last success, if any."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: datetime | None = None

    def failed(self, at: datetime) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = at

    def succeeded(self) -> None:
        with self._lock:
            self._down_since = None

    @property
    def down_since(self) -> datetime | None:
        with self._lock:
            return self._down_since
