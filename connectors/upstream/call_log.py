"""The upstream call log: every request and reply, kept durably and searchable by IT.

:class:`CallLog` is a :class:`~connectors.upstream.records.CallRecorder`: hand it to the
client and every HTTP attempt lands in table ``upstream_call`` — infno, msgid, the caller's
context (usually the encounter id), time, duration, HTTP status, infcode, err_msg and both
bodies, masked by the client before they get here.

**Its own transaction.** Each record is written with ``engine.begin()`` on a connection of
its own and committed at once, so it stays when the caller's business transaction rolls
back. On SQLite only one connection writes at a time: a use case that has already written
in its transaction and then calls upstream would make the log wait for it (up to the busy
time-out). Use cases call upstream before they write (the recommended order); a site that
cannot promise that gives the call log its own SQLite file
(``CallLog(make_engine("sqlite:///data/upstream_calls.db"))``). On PostgreSQL share the
adapter's database.

A record that cannot be written (database down, every pooled connection busy) does not fail
the upstream call — the call has happened, and failing it would only make the caller repeat
it — and is not lost either: it waits in memory (``upstream_call_log_deferred`` on the
``connectors.upstream`` logger) and is written with the next record that gets through, or by
:meth:`CallLog.flush` at shutdown. Only beyond ``backlog_limit`` waiting records is the oldest
given up, each one logged as ``upstream_call_log_dropped`` and counted. The counts (written,
waiting, dropped) are Prometheus metrics (:class:`CallLogMetrics`,
``adapter_upstream_call_log_records_total{result=…}``, ``adapter_upstream_call_log_backlog``).

**Re-send.** :meth:`CallLog.resend` sends a logged *read* again (a new msgid, logged with
``resent_from``). Writes are never re-sent from here — the upload queue owns them. Bodies are
masked, so a read whose input held a citizen ID or token needs ``overrides`` with the real
values; without them it is refused with :class:`ResendRefused`.

The table lives on this module's own :data:`metadata`; migrations are generated from it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from adapter.domain.errors import DomainError, NotFound
from adapter.domain.masking import looks_masked
from adapter.domain.upstream import Infno
from connectors.upstream.records import CallRecord

log = logging.getLogger("connectors.upstream")

metadata = MetaData()

upstream_call = Table(
    "upstream_call",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("infno", String(8), nullable=False),
    Column("msgid", String(40), nullable=False),
    Column("context", String(64), nullable=False, default=""),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("infcode", Integer, nullable=True),
    Column("err_msg", Text, nullable=False, default=""),
    Column("request_body", JSON, nullable=False),
    Column("reply_body", JSON, nullable=True),
    Column("is_write", Boolean, nullable=False),
    Column("attempt", Integer, nullable=False, default=1),
    Column("resent_from", Integer, nullable=True),
    Index("ix_upstream_call_msgid", "msgid"),
    Index("ix_upstream_call_context", "context", "started_at"),
    Index("ix_upstream_call_infno", "infno", "started_at"),
    Index("ix_upstream_call_started_at", "started_at"),
)


class ResendRefused(DomainError):
    """This logged call cannot be re-sent (a write, or a read whose input is masked)."""

    code = "RESEND_REFUSED"


@dataclass(frozen=True)
class LoggedCall:
    id: int
    infno: str
    msgid: str
    context: str
    started_at: datetime  # UTC
    duration_ms: int
    outcome: str
    http_status: int | None
    infcode: int | None
    err_msg: str
    request_body: dict[str, Any]
    reply_body: Any
    is_write: bool
    attempt: int
    resent_from: int | None


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:  # SQLite gives naive datetimes back; they were stored as UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class CallLog:
    """Durable call log on ``engine``; thread-safe (one short transaction per record)."""

    def __init__(self, engine: Engine, *, backlog_limit: int = 10_000) -> None:
        self.engine = engine
        self.backlog_limit = backlog_limit
        self._lock = threading.Lock()
        self._backlog: deque[dict[str, Any]] = deque()
        self.written = 0
        self.dropped = 0

    @property
    def waiting(self) -> int:
        """Records not yet written (the database refused them so far)."""
        with self._lock:
            return len(self._backlog)

    def create_tables(self) -> None:
        """Create ``upstream_call`` if missing (tests and the demo; production migrates)."""
        metadata.create_all(self.engine)

    def record(self, call: CallRecord) -> None:
        row = {
            "infno": call.infno,
            "msgid": call.msgid,
            "context": call.context[:64],
            "started_at": _utc(call.started_at),
            "duration_ms": call.duration_ms,
            "outcome": call.outcome,
            "http_status": call.http_status,
            "infcode": call.infcode,
            "err_msg": call.err_msg,
            "request_body": call.request_body,
            "reply_body": call.reply_body,
            "is_write": call.is_write,
            "attempt": call.attempt,
            "resent_from": call.resent_from,
        }
        self._write([row])

    def flush(self) -> int:
        """Write the records still waiting (at shutdown); how many are still waiting after."""
        self._write([])
        return self.waiting

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            batch = [*self._backlog, *rows]
            self._backlog.clear()
        if not batch:
            return
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(upstream_call), batch)
        except SQLAlchemyError as exc:
            self._defer(batch, exc)
            return
        with self._lock:
            self.written += len(batch)

    def _defer(self, batch: list[dict[str, Any]], exc: SQLAlchemyError) -> None:
        with self._lock:
            self._backlog.extendleft(reversed(batch))  # oldest first, ahead of newer arrivals
            lost = []
            while len(self._backlog) > self.backlog_limit:
                lost.append(self._backlog.popleft())
            self.dropped += len(lost)
            waiting = len(self._backlog)
        newest = batch[-1]
        log.warning(
            "upstream_call_log_deferred",
            extra={
                "infno": newest["infno"],
                "msgid": newest["msgid"],
                "context": newest["context"],
                "waiting": waiting,
                "error": type(exc).__name__,
            },
        )
        for row in lost:
            log.error(
                "upstream_call_log_dropped",
                extra={"infno": row["infno"], "msgid": row["msgid"], "context": row["context"]},
            )

    def search(
        self,
        *,
        context: str | None = None,
        msgid: str | None = None,
        infno: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        outcome: str | None = None,
        limit: int = 200,
    ) -> list[LoggedCall]:
        """Calls matching every filter given, newest first. ``until`` is exclusive."""
        query = select(upstream_call)
        if context is not None:
            query = query.where(upstream_call.c.context == context)
        if msgid is not None:
            query = query.where(upstream_call.c.msgid == msgid)
        if infno is not None:
            query = query.where(upstream_call.c.infno == infno)
        if since is not None:
            query = query.where(upstream_call.c.started_at >= _utc(since))
        if until is not None:
            query = query.where(upstream_call.c.started_at < _utc(until))
        if outcome is not None:
            query = query.where(upstream_call.c.outcome == outcome)
        query = query.order_by(upstream_call.c.started_at.desc(), upstream_call.c.id.desc())
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).mappings().all()
        return [self._logged(row) for row in rows]

    def get(self, call_id: int) -> LoggedCall:
        with self.engine.connect() as connection:
            row = (
                connection.execute(select(upstream_call).where(upstream_call.c.id == call_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"调用记录 {call_id} 不存在")
        return self._logged(row)

    def resend(
        self, call_id: int, client: Any, *, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send logged read ``call_id`` again through ``client``; upstream's ``output``.

        ``client`` is a :class:`connectors.upstream.client.ReferenceClient` (or anything with
        its ``resend_read``). ``overrides`` replaces input fields that the log holds masked.
        """
        call = self.get(call_id)
        if call.is_write or Infno(call.infno).is_write:
            raise ResendRefused(
                f"{call.infno} 是写交易，不能从调用日志重发；请在上传队列中重发该任务"
            )
        payload = dict(call.request_body.get("input") or {})
        payload.update(overrides or {})
        if looks_masked(payload):
            raise ResendRefused(
                "该请求中的个人信息已脱敏保存，重发前请补充原值（如证件号码、二维码）"
            )
        result: dict[str, Any] = client.resend_read(
            call.infno,
            payload,
            insuplc_admdvs=str(call.request_body.get("insuplc_admdvs") or ""),
            context=call.context,
            resent_from=call.id,
        )
        return result

    @staticmethod
    def _logged(row: Any) -> LoggedCall:
        return LoggedCall(
            id=row["id"],
            infno=row["infno"],
            msgid=row["msgid"],
            context=row["context"],
            started_at=_utc(row["started_at"]),
            duration_ms=row["duration_ms"],
            outcome=row["outcome"],
            http_status=row["http_status"],
            infcode=row["infcode"],
            err_msg=row["err_msg"],
            request_body=row["request_body"],
            reply_body=row["reply_body"],
            is_write=row["is_write"],
            attempt=row["attempt"],
            resent_from=row["resent_from"],
        )


class CallLogMetrics(Collector):
    """The call log's own health as Prometheus metrics: nothing may vanish unseen."""

    def __init__(self, call_log: CallLog) -> None:
        self.call_log = call_log

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(self)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        records = CounterMetricFamily(
            "adapter_upstream_call_log_records",
            "Upstream call-log records written, and given up (backlog full)",
            labels=["result"],
        )
        records.add_metric(["written"], self.call_log.written)
        records.add_metric(["dropped"], self.call_log.dropped)
        yield records
        yield GaugeMetricFamily(
            "adapter_upstream_call_log_backlog",
            "Upstream call-log records waiting for the database to accept them",
            value=self.call_log.waiting,
        )
