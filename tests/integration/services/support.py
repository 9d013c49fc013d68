"""Real parts for the use-case tests: the composition root's queue-backed outbox and
delivery handlers, a movable clock, the schema, and the catalogue from the simulator."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.ports import QueuedUpload
from adapter.domain.upstream import UpstreamGateway
from adapter.services.uploads import fee_details
from adapter.store import migrate
from adapter.store.uow import UnitOfWork
from adapter.wiring.outbox import QueueOutbox, register_upload_handlers
from upload_queue import UploadQueue
from upload_queue.tables import metadata as queue_metadata
from upload_queue.tables import upload_job

BEIJING = "110100"


class FailingOutbox(QueueOutbox):
    """Enqueues, then fails: the use case's transaction must leave nothing behind."""

    def enqueue(self, session: Any, **kwargs: Any) -> QueuedUpload:
        super().enqueue(session, **kwargs)
        raise RuntimeError("disk full (simulated) after the job was written")


class MovableClock:
    """The real time plus an offset tests move forward; aware, in UTC."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


def create_schema(engine: Engine) -> None:
    migrate.upgrade(engine)
    queue_metadata.create_all(engine)


def load_catalogue(engine: Engine, gateway: UpstreamGateway) -> int:
    """The treatment place's catalogues and the insured places' device catalogues, as
    upstream (the simulator) publishes them (WI1401)."""
    items = []
    for kind in CatalogueKind:
        if kind is CatalogueKind.DEVICE:
            continue
        items += gateway.download_catalogue(kind, BEIJING)
    for region in ("310100", "130100"):
        items += gateway.download_catalogue(CatalogueKind.DEVICE, region)
    with UnitOfWork(engine) as uow:
        count = uow.catalogue.load(items)
        uow.commit()
    return count


def delivery_queue(engine: Engine, gateway: UpstreamGateway) -> UploadQueue:
    """The queue delivering every write to ``gateway`` (the real client, the simulator),
    with the composition root's own handlers."""
    queue = UploadQueue(engine, registry=CollectorRegistry())
    register_upload_handlers(queue, gateway, fee_details(engine, ZoneInfo("Asia/Shanghai")))
    return queue


def jobs(engine: Engine, **match: Any) -> list[dict[str, Any]]:
    query = select(upload_job).order_by(upload_job.c.id)
    for name, value in match.items():
        query = query.where(upload_job.c[name] == value)
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]
