"""The running adapter with its pages, as a clerk's browser meets it.

:func:`running_site` builds what ``serve`` builds — the real runtime (upload queue with a
worker, call log, HL7 listener on a free port) over the upstream simulator on real HTTP,
the demo catalogues, ``build_app`` — then :func:`adapter.web.install`, one user per desk role,
the settlement supervisor (billing and supervisor) and a user holding every role, and serves
it on a real socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from adapter import demo
from adapter.bootstrap import build_app
from adapter.settings_sections import HttpSettings
from adapter.store.db import make_engine
from adapter.store.migrate import upgrade
from adapter.store.tokens import ROLES, create_token
from adapter.web.users import create_user
from adapter.wiring.runtime import Runtime, build_runtime
from connectors.cards.bridge_service import SimulatedBridgeService
from connectors.upstream.simulator import SimulatorServer, demo_seed, start_simulator
from tests.support.live import QUICK_WORKER, serving, simulated_settings
from tests.support.ports import free_port

ZONE = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct-horse-7"
USERS = {"admission": "入院-测试", "billing": "结算-测试", "device": "器具-测试", "it": "信息-测试"}
SUPERVISOR = "结算主管-测试"  # billing, and the rehab-plan override (N§33)
CARDS = {
    "P001": "310100A0001",
    "P003": "410100C0003",
    "P009": "210100J0009",
    "P011": "310100L0011",
    "P014": "120100P0014",
}


@dataclass
class Site:
    base: str
    engine: Engine
    runtime: Runtime
    simulator: SimulatorServer
    tokens: dict[str, str]
    today: date
    card_reader: SimulatedBridgeService | None = None  # the demo's simulated reader bridge

    def person(self, psn_no: str) -> dict[str, Any]:
        people = demo_seed(self.today)["people"]
        return next(p for p in people if p["psn_no"] == psn_no)

    def person_filing_parts(self, psn_no: str) -> list[str]:
        filings = demo_seed(self.today)["filings"]
        found = [f for f in filings if f["psn_no"] == psn_no and f["status"] == "active"]
        return list(found[0]["injury_parts"])


@contextmanager
def running_site(url: str) -> Iterator[Site]:
    engine = make_engine(url)
    upgrade(engine)
    today = datetime.now(ZONE).date()
    with (
        start_simulator(today=today) as simulator,
        demo.start_demo_card_reader("", HttpSettings(), today) as card_reader,
    ):
        settings = simulated_settings(
            url,
            simulator.url,
            queue=QUICK_WORKER,
            hl7={"port": free_port()},
            cards={"bridge_url": card_reader.url},
        )
        runtime = build_runtime(settings, engine=engine)
        demo.load_catalogues(
            engine, runtime.gateway, settings.institution.admdvs, demo.insured_regions(today)
        )
        for role, name in USERS.items():
            create_user(engine, name, [role], PASSWORD)
        create_user(engine, SUPERVISOR, ["billing", "supervisor"], PASSWORD)
        create_user(engine, "主管-测试", list(ROLES), PASSWORD)
        now = datetime.now(ZONE)
        tokens = {role: create_token(engine, f"{role}-api", [role], now) for role in ROLES}
        app = build_app(settings, runtime)  # the pages come with it, as in `serve`
        with serving(app) as base:
            card_reader.allowed_origins = {base}  # only these pages may read the card
            yield Site(base, engine, runtime, simulator, tokens, today, card_reader)
    engine.dispose()
