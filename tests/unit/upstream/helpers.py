"""Shared helpers for the upstream client's unit tests: a fake time and a respx router."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import respx

from connectors.upstream.client import ReferenceClient
from connectors.upstream.config import UpstreamConfig
from connectors.upstream.records import MemoryRecorder

BASE_URL = "https://upstream.test/wi/"
SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeTime:
    """Wall clock and monotonic clock that move only when told (or when the client sleeps)."""

    def __init__(self, at: datetime | None = None) -> None:
        self.wall = at or datetime(2026, 11, 24, 9, 30, 0, tzinfo=SHANGHAI)
        self.mono = 1000.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def config(**overrides: Any) -> UpstreamConfig:
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "institution_code": "H11010000001",
        "institution_name": "示例工伤协议医院",
        "treatment_admdvs": "110100",
        "read_budget_s": 6.0,
        "read_timeout_s": 4.0,
        "connect_timeout_s": 1.0,
    }
    values.update(overrides)
    return UpstreamConfig(**values)


def reply(output: dict[str, Any] | None = None, *, infcode: int = 0, err_msg: str = "") -> dict:
    return {
        "infcode": infcode,
        "inf_refmsgid": "UP202611240930000001",
        "refmsg_time": "2026-11-24 09:30:00",
        "respond_time": "2026-11-24 09:30:00",
        "err_msg": err_msg,
        "output": output or {},
    }


def sign_in_reply(sign_no: str = "SIGN-1") -> httpx.Response:
    return httpx.Response(200, json=reply({"signinoutb": {"sign_no": sign_no}}))


def make_client(
    router: respx.MockRouter, time: FakeTime | None = None, **overrides: Any
) -> tuple[ReferenceClient, MemoryRecorder, FakeTime]:
    time = time or FakeTime()
    recorder = MemoryRecorder()
    http = httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(router.handler))
    client = ReferenceClient(
        config(**overrides),
        http,
        recorder=recorder,
        clock=time,
        monotonic=time.monotonic,
        sleep=time.sleep,
    )
    return client, recorder, time


def sent(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


PERSON_OUTPUT = {
    "baseinfo": {
        "psn_no": "P001",
        "certno": "110101199003078515",
        "psn_name": "王建国",
        "gend": "1",
        "brdy": "1990-03-07",
        "insuplc_admdvs": "310100",
        "card_no": "A12345678",
        "card_sn": "310100D15600000500",
        "card_status": "normal",
    },
    "suspensions": [{"since": "2026-06-01", "until": None, "reason": "严重违规"}],
}
