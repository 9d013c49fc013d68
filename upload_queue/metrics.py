"""Prometheus metrics for the queue.

All metrics live in one :class:`QueueMetrics` bound to a ``CollectorRegistry``; pass your own
registry (tests do, so they never collide) or take :func:`metrics_for`'s default, the
``prometheus_client`` global registry that ``/metrics`` normally exposes. Names:

==============================================  =========  ==================================
``upload_queue_enqueued_total{kind}``           counter    new jobs, counted when the caller
                                                           commits (a rolled-back one is not)
``upload_queue_attempts_total{kind}``           counter    delivery attempts started
``upload_queue_delivered_total{kind}``          counter    jobs delivered
``upload_queue_failed_total{kind,error_kind}``  counter    failed attempts (transient, permanent)
``upload_queue_dead_total{kind}``               counter    jobs moved to the dead-letter state
``upload_queue_lease_expired_total{kind}``      counter    leases recovered from a lost worker
``upload_queue_deadline_missed_total{kind}``    counter    jobs delivered after their deadline
``upload_queue_delivery_latency_seconds{kind}`` histogram  enqueue to delivery
``upload_queue_time_to_deadline_seconds{kind}`` histogram  deadline minus delivery (0 if missed)
``upload_queue_jobs{status}``                   gauge      jobs per status (the backlog)
``upload_queue_at_risk``                        gauge      undelivered jobs inside the margin
``upload_queue_overdue``                        gauge      undelivered jobs past their deadline
==============================================  =========  ==================================

Gauges are refreshed by the deadline watch and by :func:`upload_queue.health.health`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
_DEADLINE_BUCKETS = (0, 30, 60, 120, 300, 600, 900, 1200, 1500, 1800, 3600, 86400)


@dataclass(frozen=True)
class KindMetrics:
    """The per-kind series a delivery touches, looked up once per kind: ``labels()`` takes a
    lock and validates its arguments, four times per job otherwise."""

    attempts: Any
    delivered: Any
    delivery_latency: Any
    time_to_deadline: Any
    deadline_missed: Any


class QueueMetrics:
    """The queue's metrics on one registry; a registry holds at most one (see
    :func:`metrics_for`, which returns the existing one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.enqueued = Counter(
            "upload_queue_enqueued", "Jobs enqueued", ["kind"], registry=registry
        )
        self.attempts = Counter(
            "upload_queue_attempts", "Delivery attempts started", ["kind"], registry=registry
        )
        self.delivered = Counter(
            "upload_queue_delivered", "Jobs delivered", ["kind"], registry=registry
        )
        self.failed = Counter(
            "upload_queue_failed",
            "Failed delivery attempts",
            ["kind", "error_kind"],
            registry=registry,
        )
        self.dead = Counter(
            "upload_queue_dead", "Jobs moved to the dead-letter state", ["kind"], registry=registry
        )
        self.lease_expired = Counter(
            "upload_queue_lease_expired",
            "Leases recovered after a worker was lost",
            ["kind"],
            registry=registry,
        )
        self.deadline_missed = Counter(
            "upload_queue_deadline_missed",
            "Jobs delivered after their deadline",
            ["kind"],
            registry=registry,
        )
        self.delivery_latency = Histogram(
            "upload_queue_delivery_latency_seconds",
            "Time from enqueue to delivery",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.time_to_deadline = Histogram(
            "upload_queue_time_to_deadline_seconds",
            "Time left before the deadline when a job was delivered (0 when missed)",
            ["kind"],
            buckets=_DEADLINE_BUCKETS,
            registry=registry,
        )
        self.jobs = Gauge("upload_queue_jobs", "Jobs per status", ["status"], registry=registry)
        self.at_risk = Gauge(
            "upload_queue_at_risk",
            "Undelivered jobs whose deadline is within the alert margin",
            registry=registry,
        )
        self.overdue = Gauge(
            "upload_queue_overdue", "Undelivered jobs past their deadline", registry=registry
        )
        self._kinds: dict[str, KindMetrics] = {}
        with _lock:
            _by_registry[id(registry)] = self

    def of_kind(self, kind: str) -> KindMetrics:
        found = self._kinds.get(kind)
        if found is None:
            found = KindMetrics(
                self.attempts.labels(kind=kind),
                self.delivered.labels(kind=kind),
                self.delivery_latency.labels(kind=kind),
                self.time_to_deadline.labels(kind=kind),
                self.deadline_missed.labels(kind=kind),
            )
            self._kinds[kind] = found  # a race builds the same children twice: harmless
        return found


_lock = threading.RLock()
_by_registry: dict[int, QueueMetrics] = {}


def metrics_for(registry: CollectorRegistry | None = None) -> QueueMetrics:
    """The one :class:`QueueMetrics` of ``registry`` (default: prometheus_client's global one)."""
    target = REGISTRY if registry is None else registry
    with _lock:
        found = _by_registry.get(id(target))
        if found is None or found.registry is not target:
            found = QueueMetrics(target)
            _by_registry[id(target)] = found
        return found
