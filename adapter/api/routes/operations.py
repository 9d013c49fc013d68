"""IT's REST surface: metrics here; the upload queue (:mod:`adapter.api.routes.queue`) and
the upstream call and HL7 message logs (:mod:`adapter.api.routes.logs`) in their modules,
all served by :data:`router`.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
)

from adapter.api.deps import MonthlyDep, OperationsDep, RegistryDep
from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.routes import logs, queue
from adapter.api.routes.common import It
from adapter.services.monthly_clearing import ClearingReport

router = APIRouter(route_class=ParsedOnce)


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics (queue, HTTP, HL7, upstream, process)",
    response_class=Response,
)
def metrics(_: It, ops: OperationsDep, monthly: MonthlyDep, registry: RegistryDep) -> Response:
    """The runtime's own registry (the upload queue's gauges and counters, disk space) and
    the process-wide one: process and Python collectors, HTTP requests, HL7 messages,
    upstream calls."""
    ops.jobs.health()  # refresh the backlog and deadline gauges before a scrape
    body = generate_latest(REGISTRY)
    if registry is not None:
        _clearing_gauge(registry).refresh(monthly.clearing.at_risk())
        body = generate_latest(registry) + body
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class ClearingGauge:
    """``clearing_settlements_at_risk{cutoff, cutoff_kind, reason}``: settlement uploads at
    risk of missing the clearing cutoff named (N§35, B§33, B§37; N§40, N§43, B§44), and
    ``clearing_cutoff_days_left{cutoff, cutoff_kind}`` for each of those cutoffs; refreshed
    at each scrape, so a cutoff whose uploads were all delivered drops out."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gauge = Gauge(
            "clearing_settlements_at_risk",
            "Settlement uploads (WI2301, WI2701, WI2305) pending, dead or late, by the "
            "clearing cutoff they must meet",
            ["cutoff", "cutoff_kind", "reason"],
            registry=registry,
        )
        self.days_left = Gauge(
            "clearing_cutoff_days_left",
            "Days from today to each clearing cutoff that has settlement uploads at risk "
            "(negative once passed)",
            ["cutoff", "cutoff_kind"],
            registry=registry,
        )

    def refresh(self, report: ClearingReport) -> None:
        counts: dict[tuple[str, str, str], int] = {}
        left: dict[tuple[str, str], int] = {}
        for item in report.items:
            key = (item.cutoff.on.isoformat(), item.cutoff.kind.value, item.reason.value)
            counts[key] = counts.get(key, 0) + 1
            left[key[:2]] = item.days_left
        with _gauges_lock:
            self.gauge.clear()
            self.days_left.clear()
            for (cutoff, kind, reason), count in counts.items():
                self.gauge.labels(cutoff=cutoff, cutoff_kind=kind, reason=reason).set(count)
            for (cutoff, kind), days in left.items():
                self.days_left.labels(cutoff=cutoff, cutoff_kind=kind).set(days)


_gauges: dict[int, ClearingGauge] = {}
_gauges_lock = threading.Lock()


def _clearing_gauge(registry: CollectorRegistry) -> ClearingGauge:
    with _gauges_lock:
        found = _gauges.get(id(registry))
        if found is None:
            found = _gauges[id(registry)] = ClearingGauge(registry)
        return found


# after /metrics, so the OpenAPI document keeps its order: metrics, queue, logs
router.include_router(queue.router)
router.include_router(logs.router)
