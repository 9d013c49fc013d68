"""The hospital side of the load soak (:mod:`scripts.soak.load`): the REST billing desks
and the HIS sending HL7 over MLLP, and what they saw, counted across their threads.

Each desk or sender works as its people would under upstream faults: a stay refused for
upstream (503 at a desk, AE to the HIS) is retried later; anything else that is not success
is a problem the soak reports.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import httpx

from benchmarks.hl7_traffic import CITIZEN_ID, NAME, SHANGHAI, Client, ack_code, admit_message
from benchmarks.hl7_traffic import dft_message as fees_message
from tests.reliability.support import Desk
from tests.support.workers import seeded_worker


@dataclass
class Tally:
    """What the hospital side saw, across threads."""

    acked: dict[str, Decimal] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # anything a clerk should never see
    seconds: list[float] = field(default_factory=list)  # a REST stay, admission to slip
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def settled(self) -> int:
        with self.lock:
            return len(self.acked) + self.outcomes["hl7 settled"]

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def _unavailable(reply: httpx.Response) -> bool:
    """The clear 503 a clerk gets while upstream is out or too slow (expected under faults)."""
    return reply.status_code == 503 and reply.headers.get("content-type", "").startswith(
        "application/problem+json"
    )


def _check(reply: httpx.Response, ok: tuple[int, ...], what: str, tally: Tally) -> bool:
    if reply.status_code in ok:
        return True
    if _unavailable(reply):
        tally.count(f"rest {what} 503")
    else:
        tally.problem(f"{what}: {reply.status_code} {reply.text[:300]}")
    return False


def rest_desk(desk: Desk, prefix: str, tally: Tally, stop: threading.Event, pause: float) -> None:
    """A billing desk: a stay at a time; a stay refused for upstream is settled later."""
    waiting: list[str] = []  # admitted, fees recorded, settlement refused (503): retry
    n = 0
    while not stop.wait(pause):
        try:
            if waiting:
                encounter_id = waiting.pop(0)
                began = None
            else:
                n += 1
                began = time.monotonic()
                admitted = desk.admit(f"{prefix}-{n}")
                if not _check(admitted, (200, 201), "admit", tally):
                    continue
                encounter_id = admitted.json()["id"]
                if not _check(desk.fees(encounter_id), (200, 201), "fees", tally):
                    continue
            settled = desk.settle(encounter_id)
            if not _check(settled, (201,), "settle", tally):
                waiting.append(encounter_id)
                continue
        except httpx.TransportError as exc:
            tally.problem(f"{prefix}: the adapter did not answer: {exc!r}")
            continue
        tally.count("rest settled")
        with tally.lock:
            tally.acked[settled.json()["id"]] = Decimal(str(settled.json()["total"]))
            if began is not None:
                tally.seconds.append(time.monotonic() - began)


def _ts(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + "+0800"


def discharge_message(visit: str, admitted: datetime, control_id: str) -> str:
    """ADT^A03 with the discharge time (PV1-45): settles the stay under the site profile."""
    now = datetime.now(SHANGHAI)
    discharged = now.replace(microsecond=0) - timedelta(hours=1)
    pv1 = {1: "1", 2: "I", 3: "骨科病区", 19: visit, 44: _ts(admitted), 45: _ts(discharged)}
    return "\r".join(
        [
            f"MSH|^~\\&|HIS|H1|WIADAPTER|H11010000001|{_ts(now)}||ADT^A03^ADT_A03|{control_id}|"
            "P|2.5|||AL|NE||UNICODE UTF-8",
            "EVN|A03",
            f"PID|1||{CITIZEN_ID}^^^^NI~HISP001^^^^PI||{NAME}||19780314|M",
            "|".join(["PV1", *(pv1.get(i, "") for i in range(1, 46))]),
            "DG1|1||S62.301^左手第三掌骨骨折^I10",
        ]
    )


def hl7_sender(
    port: int, prefix: str, tally: Tally, stop: threading.Event, pause: float, sim_url: str = ""
) -> None:
    """The HIS: A01, a day's fees (DFT^P03), A03; a message answered AE is sent again later
    (the HIS's resend), an AR is a problem (this load sends only well-formed messages)."""
    client = Client(port)
    waiting: list[tuple[str, datetime]] = []  # stays whose A03 was answered AE

    def worker(visit: str) -> tuple[tuple[str, str, str], ...]:
        # one open stay per worker (B§28): each visit its own seeded worker
        return (seeded_worker(sim_url, visit),) if sim_url else ()

    n = 0
    try:
        while not stop.wait(pause):
            n += 1
            control = f"{prefix}-{n}"
            if waiting:
                visit, admitted = waiting.pop(0)
                steps = [("A03", discharge_message(visit, admitted, f"{control}-D"))]
            else:
                visit = f"{prefix}-V{n}"
                admitted = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(days=3)
                steps = [
                    ("A01", admit_message(visit, admitted, f"{control}-A", *worker(visit))),
                    ("P03", fees_message(visit, admitted, 0, 3, f"{control}-F", f"{visit}B")),
                    ("A03", discharge_message(visit, admitted, f"{control}-D")),
                ]
            for event, message in steps:
                code = ack_code(client.send(message))
                tally.count(f"hl7 {event} {code}")
                if code == "AA":
                    continue
                if code == "AR":
                    tally.problem(f"HL7 {event} of {visit} rejected (AR)")
                elif event == "A03":
                    waiting.append((visit, admitted))
                break
            else:
                tally.count("hl7 settled")
    except OSError as exc:
        tally.problem(f"{prefix}: the MLLP listener failed: {exc!r}")
    finally:
        client.close()
