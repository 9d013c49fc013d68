"""Real processes for the reliability suite: the simulator and ``wi-adapter serve``.

Both run as ``python -m adapter.cli …`` children on free ports, as IT runs them, so a test
can SIGKILL the adapter and start it again on the same database while the simulator keeps
every write it received. :class:`Desk` drives stays over REST the way the HIS does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.workers import worker_for

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Seeded workers with a valid medical filing for Beijing (README table): P001 and P002.
CARDS = ("310100A0001", "130100B0002")


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTER_")}
    env["ADAPTER_CONFIG_FILE"] = str(ROOT / "config" / "adapter.toml")
    # the audit key this process appends with: instances sharing a database share one key
    key = os.environ.get("ADAPTER_AUDIT__KEY_FILE") or str(ROOT / "data" / "audit.key")
    env["ADAPTER_AUDIT__KEY_FILE"] = key
    env["PYTHONWARNINGS"] = "ignore"
    env.update(extra)
    return env


class Child:
    """A child process with its output in a log file, stopped by SIGKILL or SIGTERM."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill9(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._log.close()


def _wait_http(child: Child, url: str, timeout: float = 90.0) -> None:
    def up() -> bool:
        if not child.alive():
            raise AssertionError(f"{url} exited before answering:\n{child.output()}")
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.TransportError:
            return False

    eventually(up, timeout, f"{url} to answer")


@dataclass
class Simulator:
    child: Child
    url: str

    def faults(self, **faults: Any) -> None:
        reply = httpx.post(f"{self.url}/_sim/faults", json=faults, timeout=10)
        assert reply.status_code == 200, reply.text

    def writes(self, **query: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/_sim/received", params=query, timeout=30).json()
        assert answer["count"] == len(answer["writes"])
        return list(answer["writes"])


@contextmanager
def simulator_process(folder: Path) -> Iterator[Simulator]:
    port = free_port()
    command = [sys.executable, "-m", "adapter.cli", "simulator", "--port", str(port)]
    child = Child(command, _child_env({}), folder / "simulator.log")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(child, f"{url}/_sim/received")
        yield Simulator(child, url)
    finally:
        child.stop()


@dataclass
class AdapterProcess:
    """``wi-adapter serve`` on ``db_url``; :meth:`start` again after :meth:`kill9`."""

    db_url: str
    upstream_url: str
    folder: Path
    name: str = "adapter"
    hostname: str | None = None  # a distinct host name (UTS namespace) for a second instance
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    child: Child | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        env = _child_env(
            {
                "ADAPTER_DATABASE__URL": self.db_url,
                "ADAPTER_UPSTREAM__BASE_URL": self.upstream_url,
                "ADAPTER_HTTP__PORT": str(self.port),
                "ADAPTER_HL7__ENABLED": "false",
                "ADAPTER_QUEUE__POLL_SECONDS": "0.2",
                # a lease short enough to see a killed instance's jobs come back within the
                # test, and upstream time-outs it outlasts (1 + 5 s, × 1.25 = 7.5 s < 10 s)
                "ADAPTER_QUEUE__LEASE_SECONDS": "10",
                "ADAPTER_UPSTREAM__CONNECT_TIMEOUT_S": "1",
                "ADAPTER_UPSTREAM__WRITE_TIMEOUT_S": "5",
                "ADAPTER_DATA_DIR": str(self.folder),
                **self.env,
            }
        )
        command = [sys.executable, "-m", "adapter.cli", "serve"]
        if self.hostname:
            # Instances are told apart by host name (docs/operations.md); on one machine a
            # UTS namespace gives this one its own, as a container would.
            script = f'hostname {self.hostname} && exec "$@"'
            command = ["unshare", "--uts", "sh", "-c", script, "sh", *command]
        log = self.folder / f"{self.name}-{self.starts}.log"
        self.child = Child(command, env, log)
        _wait_http(self.child, f"{self.base}/healthz")

    def kill9(self) -> None:
        assert self.child is not None
        self.child.kill9()

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


def cli(db_url: str, folder: Path, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``wi-adapter ARGS…`` on ``db_url`` as a child process, its output in ``log``."""
    env = _child_env({"ADAPTER_DATABASE__URL": db_url, "ADAPTER_DATA_DIR": str(folder)})
    with log.open("wb") as out:
        command = [sys.executable, "-m", "adapter.cli", *args]
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)


def audit_verify(db_url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``wi-adapter audit verify`` on ``db_url``, as IT runs it after a crash (exit 0: intact)."""
    env = _child_env({"ADAPTER_DATABASE__URL": db_url, "ADAPTER_DATA_DIR": str(folder)})
    return subprocess.run(
        [sys.executable, "-m", "adapter.cli", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def prepare(db_url: str, upstream_url: str) -> str:
    """Migrate, load the catalogues from the simulator, and return a token with every role."""
    from adapter.demo import insured_regions, load_catalogues
    from adapter.store.migrate import upgrade
    from adapter.store.tokens import ROLES, create_token
    from adapter.wiring.runtime import build_runtime
    from tests.support.live import simulated_settings

    upgrade(db_url)
    settings = simulated_settings(db_url, upstream_url)
    runtime = build_runtime(settings, workers=0, hl7=False)
    try:
        today = datetime.now(SHANGHAI).date()
        load_catalogues(runtime.engine, runtime.gateway, "110100", insured_regions(today))
        return create_token(runtime.engine, "可靠性-01", list(ROLES), datetime.now(UTC))
    finally:
        runtime.stop()


@dataclass
class Desk:
    """The HIS over REST: admit, record fees, settle — one stay at a time."""

    base: str
    token: str
    timeout: float = 30.0
    # The simulator: each visit is admitted for its own seeded worker (one open stay per
    # worker and kind, B§28); without it every visit uses CARDS[0].
    sim_url: str = ""
    # One worker's stays follow one another (N§33, N§38: no day settled twice): a card's
    # next stay is admitted at its last discharge when that is later than three days ago.
    ended: dict[str, datetime] = field(default_factory=dict, repr=False)  # card → discharge
    stays: dict[str, tuple[str, datetime]] = field(default_factory=dict, repr=False)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(
            method, f"{self.base}{path}", headers=headers, timeout=self.timeout, **kwargs
        )

    def admit(self, visit: str, card_no: str | None = None) -> httpx.Response:
        if card_no is None:
            card_no = worker_for(self.sim_url, visit) if self.sim_url else CARDS[0]
        admitted = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(days=3)
        admitted = max(admitted, self.ended.get(card_no, admitted))
        body = {
            "card": {"kind": "physical", "card_no": card_no},
            "his_visit_id": visit,
            "kind": "medical",
            "admitted_at": admitted.isoformat(),
            "department": "骨科",
            "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
            "injury_parts": ["左手"],
        }
        reply = self.call("POST", "/api/v1/encounters", json=body)
        if reply.status_code in (200, 201):  # 200: the same visit again, as first admitted
            when = datetime.fromisoformat(reply.json()["admitted_at"])
            self.stays[str(reply.json()["id"])] = (card_no, when)
        return reply

    def fees(self, encounter_id: str) -> httpx.Response:
        when = (datetime.now(SHANGHAI) - timedelta(days=2)).replace(microsecond=0)
        if encounter_id in self.stays:  # a readmission's lines lie within it
            when = max(when, self.stays[encounter_id][1])
        line = {
            "his_line_id": "L1",
            "item_code": "XN02BEB001",
            "item_name": "布洛芬缓释胶囊",
            "category": "drug",
            "quantity": "2",
            "unit_price": "18.50",
            "amount": "37.00",
            "occurred_at": when.isoformat(),
        }
        return self.call("POST", f"/api/v1/encounters/{encounter_id}/fees", json={"lines": [line]})

    def settle(self, encounter_id: str) -> httpx.Response:
        discharged = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
        if encounter_id in self.stays:
            card_no, admitted = self.stays[encounter_id]
            discharged = max(discharged, admitted)
            # before the answer: a settle its client gave up on may have committed anyway
            self.ended[card_no] = max(discharged, self.ended.get(card_no, discharged))
        body = {"discharged_at": discharged.isoformat(), "discharge_diagnoses": []}
        return self.call("POST", f"/api/v1/encounters/{encounter_id}/settle", json=body)

    def stay(self, visit: str, card_no: str | None = None) -> dict[str, Any]:
        """A whole stay; returns the settlement the adapter acknowledged (201)."""
        admitted = self.admit(visit, card_no)
        assert admitted.status_code in (200, 201), admitted.text
        encounter_id = admitted.json()["id"]
        fees = self.fees(encounter_id)
        assert fees.status_code in (200, 201), fees.text
        settled = self.settle(encounter_id)
        assert settled.status_code == 201, settled.text
        return {"encounter_id": encounter_id, **settled.json()}

    def summary(self) -> dict[str, Any]:
        reply = self.call("GET", "/api/v1/queue/summary")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def jobs(self, status: str) -> list[dict[str, Any]]:
        reply = self.call("GET", "/api/v1/queue/jobs", params={"status": status, "limit": 1000})
        assert reply.status_code == 200, reply.text
        return list(reply.json()["jobs"])

    def drained(self) -> bool:
        """Nothing pending or in flight, and nothing dead."""
        counts = self.summary()["by_status"]
        assert counts.get("dead", 0) == 0, self.jobs("dead")
        return counts.get("pending", 0) == 0 and counts.get("in_flight", 0) == 0
