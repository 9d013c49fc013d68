"""Real parts for the use-case tests: the queue-backed outbox, a movable clock, the schema,
the catalogue from the simulator, and a queue drain that delivers to the simulator.

``QueueOutbox`` is the production adapter's shape (the lead moves it to the composition
root): ``upload_queue.enqueue`` in the caller's session, ``delivered`` read from the job row.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import adapter.services.tables as service_tables
from adapter.domain.catalogue import CatalogueKind
from adapter.domain.errors import UpstreamRejected, UpstreamUnavailable
from adapter.domain.ports import QueuedUpload
from adapter.domain.upstream import Infno, UpstreamGateway, write_infnos
from adapter.store import migrate
from adapter.store.uow import UnitOfWork
from upload_queue import JobSpec, UploadQueue, enqueue
from upload_queue.tables import metadata as queue_metadata
from upload_queue.tables import upload_job

BEIJING = "110100"


class QueueOutbox:
    """:class:`adapter.domain.ports.Outbox` on top of :mod:`upload_queue`."""

    def enqueue(
        self,
        session: Any,
        *,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
        ordering_key: str,
        deadline: datetime,
    ) -> QueuedUpload:
        job = enqueue(
            session,
            JobSpec(
                kind=kind,
                payload=payload,
                idempotency_key=idempotency_key,
                deadline=deadline,
                ordering_key=ordering_key,
            ),
        )
        return QueuedUpload(job.id, job.kind, job.idempotency_key, job.deadline)

    def delivered(self, session: Any, idempotency_key: str) -> bool:
        connection = session.connection() if isinstance(session, Session) else session
        status = connection.execute(
            select(upload_job.c.status).where(upload_job.c.idempotency_key == idempotency_key)
        ).scalar_one_or_none()
        return status == "delivered"


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
    service_tables.metadata.create_all(engine)


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
    """The queue delivering every write to ``gateway`` (the real client, the simulator)."""
    queue = UploadQueue(engine, registry=CollectorRegistry())

    def classify(exc: BaseException) -> Any:
        if isinstance(exc, UpstreamRejected):
            return "permanent"
        if isinstance(exc, UpstreamUnavailable):
            return "transient"
        return None

    def handler(delivery: Any) -> None:
        payload = delivery.payload
        gateway.submit(
            Infno(payload["infno"]),
            delivery.idempotency_key,
            payload["input"],
            insuplc_admdvs=payload["insuplc_admdvs"],
            context=payload["context"],
        )

    for infno in write_infnos():
        queue.register(infno.value, handler, classify=classify)
    return queue


def jobs(engine: Engine, **match: Any) -> list[dict[str, Any]]:
    query = select(upload_job).order_by(upload_job.c.id)
    for name, value in match.items():
        query = query.where(upload_job.c[name] == value)
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]
