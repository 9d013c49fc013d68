"""Who holds a lease: one identity per running process, never shared, never reused.

A worker's id is ``<instance_id>:<pid>.<start>.<host tag>:<index>`` — the configured instance
id, this process's id, when the process (its queue) started (base 36 of Unix nanoseconds)
and a short tag of the host name. Two processes configured with one instance id (the
default is the host name, so two containers built alike share it) therefore never hold a
lease under the same name, and a restart never mistakes another process's live leases for
its own.

At start-up a process takes back the leases its *dead predecessors* held without waiting for
them to expire (:func:`dead_predecessors`): holders with the same instance id on the same host
whose process is gone (or whose pid is now this process's own, as after a container restart: the
holder started before this process). Holders it cannot judge — another host, a live pid — keep
their leases until they expire; when one of them holds an unexpired lease under this instance
id, another live instance reports the same id, and :func:`shared_instance_holders` names it for
a warning. Lease holders written before this scheme (``<instance_id>:<index>``) count as
predecessors.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from upload_queue.tables import upload_job

# Before any identity of this process was made: a holder with this pid that started earlier
# was a previous process that had the same pid (a restarted container), so it is gone.
_PROCESS_STARTED = time.time_ns()


def host_tag(host: str | None = None) -> str:
    return hashlib.sha256((host or socket.gethostname()).encode()).hexdigest()[:6]


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
    return out or "0"


@dataclass(frozen=True)
class ProcessIdentity:
    """This process's name among lease holders (see the module docstring)."""

    instance_id: str
    pid: int
    started: str
    host: str

    @classmethod
    def current(cls, instance_id: str) -> ProcessIdentity:
        return cls(instance_id, os.getpid(), _base36(time.time_ns()), host_tag())

    @property
    def process(self) -> str:
        return f"{self.instance_id}:{self.pid}.{self.started}.{self.host}"

    def worker_id(self, index: int) -> str:
        return f"{self.process}:{index}"


@dataclass(frozen=True)
class Holder:
    """A lease holder's id taken apart; ``pid`` is ``None`` for the pre-identity format."""

    instance_id: str
    process: str
    pid: int | None = None
    host: str = ""
    started: int = 0


def parse_holder(worker_id: str) -> Holder | None:
    head, sep, index = worker_id.rpartition(":")
    if not sep or not index.isdigit():
        return None
    instance, sep, process = head.rpartition(":")
    parts = process.split(".")
    if sep and len(parts) == 3 and parts[0].isdigit() and parts[1].isalnum():
        return Holder(instance, head, int(parts[0]), parts[2], int(parts[1], 36))
    return Holder(head, head)  # "<instance_id>:<index>": written before process identities


def _gone(holder: Holder, me: ProcessIdentity) -> bool:
    if holder.pid == me.pid:  # this pid: an earlier process with it, or a queue of this one
        return holder.started < _PROCESS_STARTED
    return holder.pid is not None and not _alive(holder.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except OSError:
        return True  # cannot tell: assume alive (the lease then simply expires)
    return True


def _holders(engine: Engine, instance_id: str) -> list[tuple[str, datetime | None]]:
    prefix = instance_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":"
    with engine.connect() as connection:
        rows = connection.execute(
            select(upload_job.c.leased_by, upload_job.c.lease_expires_at)
            .where(upload_job.c.status == "in_flight")
            .where(upload_job.c.leased_by.like(prefix + "%", escape="\\"))
            .distinct()
        ).all()
    return [(str(r.leased_by), r.lease_expires_at) for r in rows]


def dead_predecessors(engine: Engine, me: ProcessIdentity) -> list[str]:
    """Worker ids holding leases for ``me.instance_id`` whose process is known to be gone."""
    owners = []
    for worker_id, _ in _holders(engine, me.instance_id):
        holder = parse_holder(worker_id)
        if holder is None or holder.instance_id != me.instance_id or holder.process == me.process:
            continue
        if holder.pid is None or (holder.host == me.host and _gone(holder, me)):
            owners.append(worker_id)
    return owners


def shared_instance_holders(engine: Engine, me: ProcessIdentity, now: datetime) -> list[str]:
    """Processes other than ``me`` holding unexpired leases under ``me.instance_id`` and not
    known to be dead: another live instance is configured with the same instance id."""
    dead = set(dead_predecessors(engine, me))
    others = set()
    for worker_id, expires in _holders(engine, me.instance_id):
        holder = parse_holder(worker_id)
        if holder is None or holder.instance_id != me.instance_id:
            continue
        live = expires is None or _aware(expires) > now
        if holder.process != me.process and worker_id not in dead and live:
            others.add(holder.process)
    return sorted(others)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
