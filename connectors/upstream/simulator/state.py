"""The simulator's memory: seeded data, sign-ins, received writes and faults.

Everything is kept in plain dicts in the dialect's field names, guarded by one lock; the
FastAPI app (:mod:`.app`) and the transactions (:mod:`.transactions`) work on it.

Idempotency (interfaces.md §3): a write is stored under its ``msgid`` with the first reply;
the same ``msgid`` again gets that reply back, its count goes up, and nothing else changes.
A message refused before it is looked at — gateway authentication, an unknown or expired
``sign_no``, an injected fault — is not stored, so it can be sent again with the same ``msgid``.
"""

from __future__ import annotations

import copy
import random
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from adapter.domain.ports import Clock

SEED_LISTS = ("people", "filings", "suspensions", "institutions", "catalogue", "figures",
              "deductions")  # fmt: skip


def _key(kind: str, row: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a seeded row "the same row" (a later seed replaces it)."""
    if kind == "people":
        return (row["psn_no"],)
    if kind == "filings":
        return (row["filing_no"],)
    if kind == "suspensions":
        return (row["psn_no"], row["since"])
    if kind == "institutions":
        return (row["fixmedins_code"],)
    if kind == "catalogue":
        return (row["kind"], row["region"], row["code"], row.get("version", ""))
    if kind == "figures":
        return (row["fixmedins_code"], row["month"])
    return (row["deduction_no"],)


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    outage: bool = False
    drop_reply_after_commit_rate: float = 0.0


@dataclass
class ReceivedWrite:
    infno: str
    msgid: str
    fixmedins_code: str
    input: dict[str, Any]
    reply: dict[str, Any]
    received_at: datetime
    times_received: int = 1
    reversed_by: str = ""

    @property
    def took_effect(self) -> bool:
        return self.reply.get("infcode") == 0 and not self.reversed_by

    def public(self) -> dict[str, Any]:
        return {
            "infno": self.infno,
            "msgid": self.msgid,
            "fixmedins_code": self.fixmedins_code,
            "input": self.input,
            "reply": self.reply,
            "received_at": self.received_at.isoformat(),
            "times_received": self.times_received,
            "took_effect": self.took_effect,
            "reversed_by": self.reversed_by,
        }


@dataclass
class SimState:
    """The simulator's state; ``base_seed`` is what :meth:`reset` returns to."""

    clock: Clock
    base_seed: dict[str, Any] = field(default_factory=dict)
    random_seed: int | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.sign_counter = 0  # not reset: a sign_no is never issued twice
        self.reset()

    def reset(self) -> None:
        """Back to the base seed; received writes, sign-ins and faults forgotten; the random
        source restarted, so a run with a ``random_seed`` injects the same faults again."""
        with self.lock:
            self.rng = random.Random(self.random_seed)
            self.data: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {
                kind: {} for kind in SEED_LISTS
            }
            self.received: dict[str, ReceivedWrite] = {}
            self.faults = Faults()
            self.shapes: dict[str, dict[str, Any]] = {}  # infno → how its next reply looks
            self.sign_ins: dict[str, date] = {}  # sign_no → day it was issued
            self.seq = 0
            self.requests = 0  # every POST /{infno} that reached the simulator
            self.seed(copy.deepcopy(self.base_seed))

    def count_request(self) -> None:
        with self.lock:
            self.requests += 1

    def seed(self, body: dict[str, Any]) -> dict[str, int]:
        """Add or replace rows; returns how many of each list were taken."""
        counts: dict[str, int] = {}
        with self.lock:
            for kind in SEED_LISTS:
                rows = body.get(kind) or []
                for row in rows:
                    self.data[kind][_key(kind, row)] = dict(row)
                counts[kind] = len(rows)
        return counts

    def rows(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(row) for row in self.data[kind].values()]

    def find(self, table: str, /, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.rows(table) if all(r.get(k) == v for k, v in match.items())]

    def today(self) -> date:
        return self.clock.now().date()

    def next_ref(self) -> str:
        with self.lock:
            self.seq += 1
            return f"SIM{self.clock.now():%Y%m%d%H%M%S}{self.seq:06d}"

    def sign_in(self) -> str:
        with self.lock:
            self.sign_counter += 1
            sign_no = f"SN{self.clock.now():%Y%m%d}{self.sign_counter:06d}"
            self.sign_ins[sign_no] = self.today()
            return sign_no

    def sign_no_valid(self, sign_no: str) -> bool:
        with self.lock:
            return self.sign_ins.get(sign_no) == self.today()

    def writes(self, infno: str = "", msgid: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [
                w.public()
                for w in self.received.values()
                if (not infno or w.infno == infno) and (not msgid or w.msgid == msgid)
            ]

    def effective(self, infno: str) -> list[ReceivedWrite]:
        with self.lock:
            return [w for w in self.received.values() if w.infno == infno and w.took_effect]

    def shape_next(self, infno: str, shape: dict[str, Any]) -> None:
        with self.lock:
            self.shapes[infno] = shape

    def take_shape(self, infno: str) -> dict[str, Any] | None:
        """The shape set for ``infno``'s next reply, once (``/_sim/next_reply``)."""
        with self.lock:
            return self.shapes.pop(infno, None)

    def roll(self, rate: float) -> bool:
        with self.lock:
            return rate > 0 and self.rng.random() < rate
