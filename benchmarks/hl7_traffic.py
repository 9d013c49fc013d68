"""What a HIS sends in the HL7 benchmarks: messages, an MLLP client, the A08 senders.

The messages are the treatment place's (Shanghai time, the demo catalogue's items, one seeded
worker per open stay); the senders run in a process of their own, as a HIS is another machine
whose threads must not take the adapter's GIL.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tests.support.workers import worker_citizen_id

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGION = "110100"
CARD_NO, CITIZEN_ID, NAME = "310100A0001", "310102197803141310", "王建国"
# (item code, name, coding system, unit price): items of the demo catalogue.
ITEMS = [
    ("XN02BEB001", "布洛芬缓释胶囊", "99DRUG", "18.50"),
    ("XJ01DCC061", "头孢呋辛酯片", "99DRUG", "32.00"),
    ("XB05BBA001", "氯化钠注射液（0.9%，250ml）", "99DRUG", "4.20"),
    ("331601001", "清创缝合术（大）", "99TREAT", "320.00"),
    ("120400001", "静脉输液", "99TREAT", "12.00"),
    ("120600001", "大换药", "99TREAT", "45.00"),
    ("111100001", "一级护理", "99SERV", "26.00"),
    ("110200005", "住院诊查费", "99SERV", "20.00"),
    ("340200001", "运动疗法", "99REHAB", "45.00"),
    ("340200019", "手功能训练", "99REHAB", "38.00"),
]


# -- messages ---------------------------------------------------------------------------------


def _ts(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + "+0800"


def _msh(kind: str, event: str, control_id: str) -> str:
    return (
        f"MSH|^~\\&|HIS|H1|WIADAPTER|H11010000001|{_ts(datetime.now(UTC))}||"
        f"{kind}^{event}^{kind}_{event}|{control_id}|P|2.5|||AL|NE||UNICODE UTF-8"
    )


def _pv1(visit: str, admitted: datetime) -> str:
    fields = {1: "1", 2: "I", 3: "骨科病区", 19: visit, 44: _ts(admitted)}
    return "|".join(["PV1", *(fields.get(i, "") for i in range(1, 45))])


def _pid(citizen_id: str = CITIZEN_ID, name: str = NAME) -> str:
    return f"PID|1||{citizen_id}^^^^NI~HISP001^^^^PI||{name}||19780314|M"


def _stay_pid(visit: str) -> str:
    """PID of a stay's later messages, as a HIS sends it: the stay's worker's citizen ID (the
    worker seeded for the visit, :func:`tests.support.workers.seeded_worker`), which the
    adapter checks against the stay's (VISIT_OF_ANOTHER_WORKER), and the HIS's own id."""
    return f"PID|1||{worker_citizen_id(visit)}^^^^NI~HISP001^^^^PI"


def admit_message(
    visit: str,
    admitted: datetime,
    control_id: str,
    worker: tuple[str, str, str] = (CARD_NO, CITIZEN_ID, NAME),
) -> str:
    """A01 for ``worker`` (card, citizen ID, name); one open stay per worker (B§28), so a run
    keeping many stays open admits each for its own seeded worker (tests/support/workers.py)."""
    card_no, citizen_id, name = worker
    return "\r".join(
        [
            _msh("ADT", "A01", control_id),
            "EVN|A01",
            _pid(citizen_id, name),
            _pv1(visit, admitted),
            "DG1|1||S62.301^左手第三掌骨骨折^I10",
            f"ZWI|P|{card_no}||左手|medical",
        ]
    )


_BULK_KINDS = (("DR", "99DRUG"), ("TR", "99TREAT"), ("SE", "99SERV"), ("RE", "99REHAB"))


def dft_message(
    visit: str,
    admitted: datetime,
    day: int,
    lines: int,
    control_id: str,
    batch: str,
    bulk_items: int = 0,
) -> str:
    """A day's fees: two lines in three from the demo catalogue's items, the third from the
    bulk catalogue (a different item each, chosen at random), so pricing meets ~80 items."""
    when = admitted + timedelta(days=day, hours=2)
    rng = random.Random(batch)
    ft1s = []
    for number in range(lines):
        code, name, system, price = ITEMS[number % len(ITEMS)]
        if bulk_items and number % 3 == 2:
            item = rng.randrange(bulk_items)
            prefix, system = _BULK_KINDS[item % len(_BULK_KINDS)]
            code, name, price = f"B{prefix}{item:06d}", f"批量项目{item}", f"{item % 90 + 10}.00"
        quantity = 1 + number % 3
        amount = Decimal(price) * quantity
        ft1s.append(
            f"FT1|{number + 1}|{batch}-{number:04d}||{_ts(when + timedelta(minutes=number))}||CG|"
            f"{code}^{name}^{system}|||{quantity}|{amount:.2f}|{price}|ORT^骨科"
        )
    return "\r".join(
        [_msh("DFT", "P03", control_id), "EVN|P03", _stay_pid(visit), _pv1(visit, admitted), *ft1s]
    )


def a08_message(visit: str, admitted: datetime, control_id: str, number: int) -> str:
    return "\r".join(
        [
            _msh("ADT", "A08", control_id),
            "EVN|A08",
            _stay_pid(visit),
            _pv1(visit, admitted).replace("骨科病区", f"骨科{number % 4 + 1}病区"),
            "DG1|1||S62.301^左手第三掌骨骨折^I10",
        ]
    )


# -- an MLLP client -----------------------------------------------------------------------------


class Client:
    """One HIS connection in original mode: send a message, wait for its ACK."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, text_: str) -> str:
        self.sock.sendall(b"\x0b" + text_.encode("utf-8") + b"\x1c\x0d")
        data = b""
        while not data.endswith(b"\x1c\x0d"):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed without an ACK")
            data += chunk
        return data[1:-2].decode("utf-8")

    def close(self) -> None:
        self.sock.close()


def ack_code(ack: str) -> str:
    msa = next(line for line in ack.split("\r") if line.startswith("MSA|"))
    return msa.split("|")[1]


def a08_sender(
    port: int, visit: str, admitted_iso: str, count: int, prefix: str, barrier: object
) -> tuple[list[float], list[str], float, float]:
    """One sender thread's work: (latencies, ACK codes, start, end)."""
    admitted = datetime.fromisoformat(admitted_iso)
    messages = [a08_message(visit, admitted, f"{prefix}-{n}", n) for n in range(count)]
    client = Client(port)
    latencies, codes = [], []
    barrier.wait()  # type: ignore[attr-defined]
    start = time.perf_counter()
    for message in messages:
        began = time.perf_counter()
        codes.append(ack_code(client.send(message)))
        latencies.append(time.perf_counter() - began)
    end = time.perf_counter()
    client.close()
    return latencies, codes, start, end


def a08_senders(
    port: int, visits: list[str], admitted_iso: str, count: int, run_id: str, out: object
) -> None:
    """The senders' process: one thread per visit; reports results through ``out``."""
    barrier = threading.Barrier(len(visits))
    results: list[tuple[list[float], list[str], float, float]] = [([], [], 0.0, 0.0)] * len(visits)

    def work(index: int, visit: str) -> None:
        results[index] = a08_sender(port, visit, admitted_iso, count, f"{run_id}-S{index}", barrier)

    threads = [threading.Thread(target=work, args=(i, visit)) for i, visit in enumerate(visits)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(results)  # type: ignore[attr-defined]
