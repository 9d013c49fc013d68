"""Upstream calls counted by transaction and outcome, with their latency, and logged.

One observation per HTTP attempt (:class:`connectors.upstream.exchange.Exchange` calls
:func:`observe` when the attempt ends): ``upstream_calls_total{infno,outcome}`` and
``upstream_call_duration_seconds{infno,outcome}``, and an ``upstream.call`` log line with the
msgid and the encounter (the call's context) so a settlement can be followed to upstream.
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, Counter, Histogram

log = logging.getLogger("connectors.upstream")

CALLS = Counter(
    "upstream_calls",
    "Upstream HTTP attempts, by transaction (infno) and outcome (ok, rejected, malformed, "
    "unavailable)",
    ["infno", "outcome"],
    registry=REGISTRY,
)
SECONDS = Histogram(
    "upstream_call_duration_seconds",
    "Upstream HTTP attempt latency, by transaction (infno) and outcome",
    ["infno", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)


def observe(
    infno: str,
    outcome: str,
    seconds: float,
    *,
    msgid: str,
    context: str,
    http_status: int | None,
    attempt: int,
) -> None:
    seconds = max(seconds, 0.0)
    CALLS.labels(infno=infno, outcome=outcome).inc()
    SECONDS.labels(infno=infno, outcome=outcome).observe(seconds)
    log.log(
        logging.INFO if outcome == "ok" else logging.WARNING,
        "upstream.call",
        extra={
            "infno": infno,
            "msgid": msgid,
            "encounter": context,
            "outcome": outcome,
            "http_status": http_status,
            "attempt": attempt,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
