"""Fixtures for the queue's integration tests: its tables on a fresh database, a hand clock,
a private metrics registry, and a recording upstream that behaves like one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from upload_queue.clock import ManualClock
from upload_queue.jobs import Delivery
from upload_queue.metrics import QueueMetrics
from upload_queue.tables import metadata

START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def queue_engine(engine: Engine) -> Iterator[Engine]:
    metadata.create_all(engine)
    yield engine


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> QueueMetrics:
    return QueueMetrics(registry)


class RecordingUpstream:
    """Accepts deliveries, remembers them in order, dedupes by idempotency key like upstream."""

    def __init__(self) -> None:
        self.received: list[Delivery] = []
        self.effects: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, delivery: Delivery) -> None:
        with self._lock:
            self.received.append(delivery)
            self.effects[delivery.idempotency_key] = (
                self.effects.get(delivery.idempotency_key, 0) + 1
            )

    @property
    def keys(self) -> list[str]:
        return [delivery.idempotency_key for delivery in self.received]


@pytest.fixture
def upstream() -> RecordingUpstream:
    return RecordingUpstream()
