"""The running adapter: every real part built from the settings, started and stopped together.

One :class:`Runtime` per process. It owns the database engine, the upstream client with its
call log, the upload queue and its runner, and (when built) the services container and the
HL7 listener. The FastAPI app's lifespan starts and stops it, so ``serve`` and ``demo`` —
and the end-to-end tests — run exactly the same wiring.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Gauge
from sqlalchemy import Engine

from adapter.domain.errors import DomainError, NotFound, UpstreamError, UpstreamUnavailable
from adapter.domain.ports import MsgidSource
from adapter.domain.stay_times import TimeWindow
from adapter.services.container import Services
from adapter.services.context import InstitutionProfile, Policy
from adapter.services.monthly import MonthlyServices
from adapter.settings import Settings
from adapter.store.db import make_engine
from adapter.store.uow import UnitOfWork
from adapter.wiring.audit_anchoring import AuditAnchorer
from adapter.wiring.hl7 import Hl7Runtime
from adapter.wiring.msgids import msgid_source
from adapter.wiring.outbox import QueueOutbox, register_upload_handlers
from adapter.wiring.schedule import MonthlyScheduler, build_monthly_scheduler, monthly_policy
from adapter.wiring.storage import StorageProbe
from adapter.wiring.upstream import upstream_config
from adapter.wiring.upstream_recheck import WaitingRecheck
from connectors.upstream.call_log import CallLog, CallLogMetrics
from connectors.upstream.client import ReferenceClient
from connectors.upstream.clock import SystemClock
from connectors.upstream.masking import restore_masked
from upload_queue import admin
from upload_queue.errors import JobNotFound, JobNotRetryable
from upload_queue.facade import UploadQueue
from upload_queue.jobs import Job
from upload_queue.scheduler import QueueRunner
from upload_queue.wakeup import RecoveryWake

log = logging.getLogger("adapter")
UPSTREAM_REACHABLE = Gauge(
    "adapter_upstream_reachable",
    "1 when upstream answered the last health probe (WI1301), else 0",
    registry=REGISTRY,
)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    gateway: ReferenceClient
    call_log: CallLog
    msgids: MsgidSource
    queue: UploadQueue
    outbox: QueueOutbox
    registry: CollectorRegistry
    services: Services
    monthly: MonthlyServices
    runner: QueueRunner | None = None
    hl7: Hl7Runtime | None = None
    storage: StorageProbe | None = None
    scheduler: MonthlyScheduler | None = None
    recovery: RecoveryWake | None = None
    anchorer: AuditAnchorer | None = None
    recheck: WaitingRecheck | None = None
    _upstream_probe: tuple[float, dict[str, Any]] = (0.0, {})

    def start(self) -> None:
        if self.runner is not None and not self.runner.running:
            self.runner.start()
            log.info("upload_queue_started", extra={"workers": len(self.runner.workers)})
        if self.hl7 is not None:
            self.hl7.start()
        if self.scheduler is not None:
            self.scheduler.start()
        if self.anchorer is not None:
            self.anchorer.start()
        if self.recheck is not None:
            self.recheck.start()

    def stop(self) -> None:
        if self.recheck is not None:
            self.recheck.stop()
        if self.anchorer is not None:
            self.anchorer.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.hl7 is not None:
            self.hl7.stop()  # finish the messages in flight before the queue stops
        if self.runner is not None and self.runner.running:
            self.runner.shutdown(wait=True)
        self.gateway.close()
        if self.recovery is not None:
            self.recovery.close()
        self.call_log.flush()
        close_msgids = getattr(self.msgids, "close", None)
        if close_msgids is not None:
            close_msgids()
        self.engine.dispose()

    def wake(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.wake()

    def upstream_health(self) -> dict[str, Any]:
        """Does upstream answer a cheap read (WI1301, our own agreement status)? A TCP connect
        says nothing through a gateway whose back end is down. Cached for 30 s; never a
        failure of the instance: uploads wait in the queue while upstream is away."""
        checked_at, result = self._upstream_probe
        if time.monotonic() - checked_at < 30 and result:
            return result
        began = time.monotonic()
        try:
            self.gateway.institution_status(self.settings.institution.code, context="health")
            result = {"ok": True, "reachable": True}
        except UpstreamUnavailable as exc:
            result = {"ok": False, "reachable": False, "error": exc.code}
        except UpstreamError as exc:  # it answered, if not as hoped: reachable
            result = {"ok": True, "reachable": True, "answer": exc.code}
        result["url"] = self.settings.upstream.base_url
        result["probe"] = "WI1301"
        result["latency_ms"] = int((time.monotonic() - began) * 1000)
        UPSTREAM_REACHABLE.set(1 if result["reachable"] else 0)
        self._upstream_probe = (time.monotonic(), result)
        return result

    def audit(self, *, actor: str, action: str, **entry: Any) -> None:
        """One audit entry in its own transaction, for operator actions outside a use case."""
        with UnitOfWork(self.engine) as uow:
            uow.audit.append(actor=actor, action=action, role="it", **entry)
            uow.commit()

    def resend_job(
        self,
        job_id: int,
        *,
        actor: str,
        payload: dict[str, Any] | None = None,
        note: str = "",
        via: str = "api",
    ) -> Job:
        """Re-send a dead (or waiting) upload job, audited, and wake the workers.

        A job upstream *refused* (infcode -1) gets a fresh ``msgid``: upstream answers a
        repeated msgid with its first reply, so it would be refused again however corrected,
        and a refused write took no effect. A job that died of time-outs keeps its msgid:
        upstream may have committed it.
        """
        try:
            stored = admin.get_job(self.engine, job_id)
        except JobNotFound as exc:
            raise NotFound(f"上传任务 {job_id} 不存在", code="JOB_NOT_FOUND") from exc
        history = admin.attempts(self.engine, job_id)
        # IT's list shows payloads masked: a mask sent back unchanged keeps the stored value
        sent = restore_masked(payload, stored.payload) if payload is not None else None
        if history and history[-1].outcome == "permanent":
            sent = dict(sent if sent is not None else stored.payload)
            sent["refused_msgids"] = [*sent.get("refused_msgids", []), sent.get("msgid", "")]
            sent["msgid"] = self.msgids.next()
        try:
            job = self.queue.retry(job_id, payload=sent, note=note or None)
        except JobNotFound as exc:
            raise NotFound(f"上传任务 {job_id} 不存在", code="JOB_NOT_FOUND") from exc
        except JobNotRetryable as exc:
            raise DomainError(
                f"上传任务 {job_id} 当前状态不能重发（只能重发失败或等待中的任务）",
                code="JOB_NOT_RETRYABLE",
            ) from exc
        self.audit(
            actor=actor,
            action="queue.retry",
            subject_type="upload_job",
            subject_id=str(job_id),
            details={"payload_corrected": payload is not None, "note": note, "via": via},
        )
        self.wake()
        return job

    def health_probes(self) -> dict[str, Any]:
        """Business state for ``/healthz``: reported, never a reason to restart or reroute."""
        return {
            "upload_queue": self.queue.health,
            "upstream": self.upstream_health,
            "device_funds": self.monthly.device_funds.health,
        }

    def ready_probes(self) -> dict[str, Any]:
        """What ``/readyz`` needs besides the database: the HL7 listener, the disk."""
        probes: dict[str, Any] = {}
        if self.hl7 is not None:
            probes["hl7"] = self.hl7.health
        if self.storage is not None:
            probes["storage"] = self.storage.health
        return probes


def build_runtime(
    settings: Settings,
    *,
    engine: Engine | None = None,
    workers: int | None = None,
    hl7: bool = True,
    scheduled: bool = True,
) -> Runtime:
    database = settings.database
    engine = engine or make_engine(
        database.url,
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
    queue_settings = settings.queue
    queue = UploadQueue(
        engine,
        lease_for=timedelta(seconds=queue_settings.lease_seconds),
        at_risk_margin=timedelta(minutes=queue_settings.at_risk_minutes),
        registry=registry,
        instance_id=queue_settings.instance_id or None,
    )
    register_upload_handlers(queue, gateway)
    recovery = RecoveryWake(engine)
    gateway.on_outcome(lambda outcome: _note_outcome(recovery, outcome))
    count = queue_settings.workers if workers is None else workers
    runner = (
        queue.runner(
            workers=count,
            in_flight=queue_settings.in_flight,
            drain_every=timedelta(seconds=queue_settings.poll_seconds),
        )
        if count > 0
        else None
    )
    runtime = Runtime(
        settings=settings,
        engine=engine,
        gateway=gateway,
        call_log=call_log,
        msgids=msgids,
        queue=queue,
        outbox=QueueOutbox(queue),
        registry=registry,
        services=None,  # type: ignore[arg-type]  # set below: it needs the waking outbox
        monthly=None,  # type: ignore[arg-type]  # set below: it needs the services
        runner=runner,
    )
    CallLogMetrics(call_log).register(registry)
    runtime.storage = StorageProbe.for_engine(engine, settings.database.min_free_mb)
    if runtime.storage is not None:
        runtime.storage.register(registry)
    runtime.outbox = QueueOutbox(queue, wake=runtime.wake)
    recovery.wake = runtime.wake
    runtime.recovery = recovery
    runtime.services = build_services(settings, runtime, clock)
    runtime.monthly = MonthlyServices(runtime.services.context, monthly_policy(settings.schedule))
    if scheduled and settings.schedule.enabled:
        runtime.scheduler = build_monthly_scheduler(
            runtime.monthly, settings.schedule, settings.queue
        )
    if scheduled:
        runtime.recheck = WaitingRecheck(runtime.services.settlements.recheck_waiting)
        runtime.services.watch.on_recovered(runtime.recheck.wake)
    if settings.hl7.enabled and hl7:
        runtime.hl7 = Hl7Runtime.from_settings(settings, engine, runtime.services.commands)
    if settings.audit.anchor_minutes > 0:
        runtime.anchorer = AuditAnchorer(
            engine,
            settings.audit.anchor_path(settings.data_dir),
            settings.audit.anchor_minutes * 60,
        )
    return runtime


def _note_outcome(recovery: RecoveryWake, outcome: str) -> None:
    """Upstream answered (even a refusal): jobs backed off after failures may go now."""
    if outcome == "unavailable":
        recovery.failed()
    elif outcome in ("ok", "rejected"):
        recovery.succeeded()


def build_services(settings: Settings, runtime: Runtime, clock: SystemClock) -> Services:
    institution, policy = settings.institution, settings.policy
    return Services(
        engine=runtime.engine,
        gateway=runtime.gateway,
        outbox=runtime.outbox,
        msgids=runtime.msgids,
        clock=clock,
        institution=InstitutionProfile(
            code=institution.code,
            name=institution.name,
            kinds=frozenset(institution.kinds),
            admdvs=institution.admdvs,
            province=institution.province,
        ),
        time_zone=settings.time_zone,
        policy=Policy(
            upload_within=timedelta(minutes=policy.upload_within_minutes),
            admission_upload_within=timedelta(minutes=policy.upload_within_minutes),
            revocation_upload_within=timedelta(minutes=policy.upload_within_minutes),
            rehab_plan_upload_within=timedelta(hours=policy.rehab_plan_upload_within_hours),
            manual_claim_wait=timedelta(minutes=policy.manual_claim_wait_minutes),
            fee_batch_size=policy.fee_batch_size,
            times=TimeWindow(
                clock_skew=timedelta(minutes=policy.clock_skew_minutes),
                late_registration=timedelta(days=policy.late_registration_days),
            ),
        ),
    )
