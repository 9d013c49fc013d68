"""Is upstream there? The health probe ``/healthz`` shows and the gauge alerts watch."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import REGISTRY, Gauge

from adapter.domain.errors import UpstreamError, UpstreamUnavailable
from adapter.domain.upstream import UpstreamGateway

UPSTREAM_REACHABLE = Gauge(
    "adapter_upstream_reachable",
    "1 when upstream answered the last health probe (WI1301), else 0",
    registry=REGISTRY,
)


class UpstreamHealth:
    """Does upstream answer a cheap read (WI1301, our own agreement status)? A TCP connect
    says nothing through a gateway whose back end is down. Cached for ``cache_s``; never a
    failure of the instance: uploads wait in the queue while upstream is away."""

    def __init__(
        self, gateway: UpstreamGateway, institution_code: str, url: str, cache_s: float = 30
    ) -> None:
        self._gateway = gateway
        self._institution = institution_code
        self._url = url
        self._cache_s = cache_s
        self._last: tuple[float, dict[str, Any]] = (0.0, {})

    def __call__(self) -> dict[str, Any]:
        checked_at, result = self._last
        if time.monotonic() - checked_at < self._cache_s and result:
            return result
        began = time.monotonic()
        try:
            self._gateway.institution_status(self._institution, context="health")
            result = {"ok": True, "reachable": True}
        except UpstreamUnavailable as exc:
            result = {"ok": False, "reachable": False, "error": exc.code}
        except UpstreamError as exc:  # it answered, if not as hoped: reachable
            result = {"ok": True, "reachable": True, "answer": exc.code}
        result["url"] = self._url
        result["probe"] = "WI1301"
        result["latency_ms"] = int((time.monotonic() - began) * 1000)
        UPSTREAM_REACHABLE.set(1 if result["reachable"] else 0)
        self._last = (time.monotonic(), result)
        return result
