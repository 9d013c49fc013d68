"""The running adapter: every real part built from the settings, started and stopped together.

One :class:`Runtime` per process, built in one go by :func:`build_runtime`: the database
engine, the upstream client with its call log, the upload queue and its runner, the services
and the operator use cases, the HL7 listener and the background loops. The FastAPI app's
lifespan starts and stops it, so ``serve`` and ``demo`` — and the end-to-end tests — run
exactly the same wiring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from adapter.domain.ports import Clock, MsgidSource
from adapter.scheduling.jobs import PurgeUploads, monthly_policy
from adapter.scheduling.scheduler import MonthlyScheduler, build_monthly_scheduler
from adapter.services.audit_anchoring import AuditAnchorer
from adapter.services.configured import institution_profile, workflow_policy
from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from adapter.services.operations import Operations
from adapter.services.uploads import fee_details
from adapter.services.upstream_health import UpstreamHealth
from adapter.services.upstream_recheck import WaitingRecheck
from adapter.settings import Settings, SettingsError
from adapter.store.db import make_engine
from adapter.store.msgids import shared_sequence
from adapter.store.storage import StorageProbe
from adapter.web.sessions import purge_expired
from adapter.wiring.hl7 import build_hl7
from adapter.wiring.outbox import QueueJobs, QueueOutbox, register_upload_handlers
from adapter.wiring.upstream import LoggedCalls, upstream_config
from connectors.hl7.service import Hl7Service
from connectors.upstream.call_log import CallLog, CallLogMetrics
from connectors.upstream.client import ReferenceClient
from connectors.upstream.clock import SystemClock
from connectors.upstream.msgid_file import FileMsgidSequence, state_path
from connectors.upstream.msgids import MsgidSequence
from upload_queue import admin, ledger
from upload_queue.facade import UploadQueue
from upload_queue.scheduler import QueueRunner
from upload_queue.wakeup import RecoveryWake
from upload_queue.worker import MARGIN

log = logging.getLogger("adapter")


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    gateway: ReferenceClient
    call_log: CallLog
    msgids: MsgidSource
    queue: UploadQueue
    outbox: QueueOutbox
    wake: Callable[[], None]  # the queue's workers: deliver now
    registry: CollectorRegistry
    services: Services
    monthly: MonthlyServices
    operations: Operations
    upstream_health: UpstreamHealth
    recovery: RecoveryWake
    runner: QueueRunner | None = None
    hl7: Hl7Service | None = None
    storage: StorageProbe | None = None
    scheduler: MonthlyScheduler | None = None
    anchorer: AuditAnchorer | None = None
    recheck: WaitingRecheck | None = None

    def start(self) -> None:
        if self.runner is not None and not self.runner.running:
            self.runner.start()
            log.info("upload_queue_started", extra={"workers": len(self.runner.workers)})
        for part in (self.hl7, self.scheduler, self.anchorer, self.recheck):
            if part is not None:
                part.start()

    def stop(self) -> None:
        # the HL7 listener finishes the messages in flight before the queue stops
        for part in (self.recheck, self.anchorer, self.scheduler, self.hl7):
            if part is not None:
                part.stop()
        if self.runner is not None and self.runner.running:
            self.runner.shutdown(wait=True)
        self.gateway.close()
        self.recovery.close()
        self.call_log.flush()
        close_msgids = getattr(self.msgids, "close", None)  # the shared sequence's own pool
        if close_msgids is not None:
            close_msgids()
        self.engine.dispose()

    def health_probes(self) -> dict[str, Any]:
        """Business state for ``/healthz``: reported, never a reason to restart or reroute."""
        return {
            "upload_queue": self.queue.health,
            "upstream": self.upstream_health,
            "device_funds": self.monthly.device_funds.health,
        }

    def ready_probes(self) -> dict[str, Any]:
        """What ``/readyz`` needs besides the database: the HL7 listener, the disk."""
        parts = {"hl7": self.hl7, "storage": self.storage}
        return {name: part.health for name, part in parts.items() if part is not None}


def build_runtime(
    settings: Settings,
    *,
    engine: Engine | None = None,
    workers: int | None = None,
    hl7: bool = True,
    scheduled: bool = True,
) -> Runtime:
    database, queue_settings = settings.database, settings.queue
    engine = engine or make_engine(
        database.url,
        sqlite_synchronous=database.sqlite_synchronous,
        pg_dead_peer_s=database.pg_dead_peer_s,
        pool_size=database.pool_size,
        max_overflow=database.max_overflow,
        pool_timeout=database.pool_timeout_s,
    )
    clock = SystemClock(settings.time_zone)
    msgids = msgid_source(engine, settings.institution.code, clock)
    call_log = CallLog(engine)
    gateway = ReferenceClient.from_config(
        upstream_config(settings), recorder=call_log, msgids=msgids
    )
    registry = CollectorRegistry(auto_describe=True)
    CallLogMetrics(call_log).register(registry)
    queue = UploadQueue(
        engine,
        lease_for=timedelta(seconds=queue_settings.lease_seconds),
        call_timeout=delivery_timeout(settings),
        at_risk_margin=timedelta(minutes=queue_settings.at_risk_minutes),
        registry=registry,
        instance_id=queue_settings.instance_id or None,
    )
    register_upload_handlers(
        queue,
        gateway,
        fee_details(engine, ZoneInfo(settings.time_zone)),
        # ``services`` is made below; the workers that call this start only after that
        lambda msgid, stay: services.revocations.after_refusal(msgid, stay),
        lambda job_id, stay: services.revocations.after_reversal(job_id, stay),
    )
    count = queue_settings.workers if workers is None else workers
    runner = None
    if count > 0:
        runner = queue.runner(
            workers=count,
            in_flight=queue_settings.in_flight,
            drain_every=timedelta(seconds=queue_settings.poll_seconds),
        )

    def wake() -> None:
        if runner is not None and runner.running:
            runner.wake()

    recovery = RecoveryWake(engine, wake=wake)
    gateway.on_outcome(lambda outcome: _note_outcome(recovery, outcome))
    storage = StorageProbe.for_engine(engine, database.min_free_mb)
    if storage is not None:
        storage.register(registry)
    outbox = QueueOutbox(queue, wake)
    services = Services(
        engine=engine,
        gateway=gateway,
        outbox=outbox,
        msgids=msgids,
        clock=clock,
        institution=institution_profile(settings.institution),
        time_zone=settings.time_zone,
        policy=workflow_policy(settings.policy, settings.devices),
    )
    monthly = MonthlyServices(services.context, monthly_policy(settings.schedule))
    scheduler = recheck = listener = anchorer = None
    if scheduled and settings.schedule.enabled:
        scheduler = build_monthly_scheduler(
            monthly,
            settings.schedule,
            queue_settings,
            purge_sessions=lambda: purge_expired(engine),
            purge_uploads=queue_purge(engine),
        )
    if scheduled:
        recheck = WaitingRecheck(services.discharge_waits.recheck)
        services.watch.on_recovered(recheck.wake)
    if settings.hl7.enabled and hl7:
        listener = build_hl7(settings, engine, services.commands)
    audit = settings.audit
    if audit.anchor_minutes > 0:
        anchor_file = audit.anchor_path(settings.data_dir)
        anchorer = AuditAnchorer(engine, anchor_file, audit.anchor_minutes * 60)
    operations = Operations(
        engine,
        jobs=QueueJobs(queue, wake),
        msgids=msgids,
        calls=LoggedCalls(call_log, gateway),
        hl7=listener,
        outbox=outbox,
        now=clock.now,
    )
    return Runtime(
        settings=settings,
        engine=engine,
        gateway=gateway,
        call_log=call_log,
        msgids=msgids,
        queue=queue,
        outbox=outbox,
        wake=wake,
        registry=registry,
        services=services,
        monthly=monthly,
        operations=operations,
        upstream_health=UpstreamHealth(
            gateway, settings.institution.code, settings.upstream.base_url
        ),
        recovery=recovery,
        runner=runner,
        hl7=listener,
        storage=storage,
        scheduler=scheduler,
        anchorer=anchorer,
        recheck=recheck,
    )


def delivery_timeout(settings: Settings) -> timedelta:
    """The longest one upload's delivery may take: connecting, then up to the write timeout for
    the answer. A worker starts a job only with this and its margin left on the lease, so a
    lease not longer than that is refused at start-up, naming the settings."""
    upstream = settings.upstream
    call = timedelta(seconds=upstream.connect_timeout_s + upstream.write_timeout_s)
    need = call * (1 + MARGIN)
    if timedelta(seconds=settings.queue.lease_seconds) <= need:
        raise SettingsError(
            f"queue.lease_seconds ({settings.queue.lease_seconds}) must exceed"
            f" {need.total_seconds():g} s: (upstream.connect_timeout_s +"
            f" upstream.write_timeout_s) × {1 + MARGIN:g}, so a job's lease outlasts its"
            " delivery; set it in the config file or with ADAPTER_QUEUE__LEASE_SECONDS"
        )
    return call


def msgid_source(engine: Engine, institution_code: str, clock: Clock) -> MsgidSource:
    """Unique across every process drawing for the database: the instances sharing
    PostgreSQL (a database sequence), or the server and the operator's commands on one SQLite
    file (a locked state file beside it). An in-memory SQLite database belongs to one process
    alone: the in-process sequence."""
    shared = shared_sequence(engine, institution_code, clock)
    if shared is not None:
        return shared
    database = sqlite_file(engine)
    if database is not None:
        return FileMsgidSequence(state_path(database), institution_code, clock)
    return MsgidSequence(institution_code, clock)


def sqlite_file(engine: Engine) -> str | None:
    """The SQLite database's file, or None (another database, or SQLite in memory)."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    in_memory = url.query.get("mode") == "memory" or "mode=memory" in database
    if not database or database == ":memory:" or database.startswith("file::memory:") or in_memory:
        return None
    if database.startswith("file:"):  # a URI filename: the path, without its query
        database = database.removeprefix("file:").split("?", 1)[0]
    return database


def queue_purge(engine: Engine) -> PurgeUploads:
    """The housekeeping's clean-up of the upload queue: delivered jobs, then old ledger entries."""

    def purge(retention: timedelta, ledger_months: int, now: datetime) -> tuple[int, int]:
        return admin.purge(engine, retention, now), ledger.trim(engine, ledger_months, now)

    return purge


def _note_outcome(recovery: RecoveryWake, outcome: str) -> None:
    """Upstream answered (even a refusal): jobs backed off after failures may go now."""
    if outcome == "unavailable":
        recovery.failed()
    elif outcome in ("ok", "rejected"):
        recovery.succeeded()
