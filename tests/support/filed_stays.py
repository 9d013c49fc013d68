"""A worker a test seeds into the simulator with a filing of the test's own dates (its first
and last day, a status), and that worker's stay admitted at a chosen time: for the tests of a
filing's edges (N§11, N§13, N§15) and of a stay's days, Beijing time (N§33)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from typing import Any

import httpx

from adapter.domain.people import CardData, CardKind
from adapter.services.container import Services
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import ZONE, admit
from tests.support.workers import filed_worker


def seed_worker(sim: SimulatorServer, psn_no: str, card_no: str, **filing: Any) -> None:
    """Seed worker ``psn_no`` (测试工人, citizen ID from the number) holding card ``card_no``,
    filed as ``F`` + the number, with ``filing``'s dates (ISO strings or dates) and status."""
    number = psn_no[1:]
    fields = {k: v.isoformat() if isinstance(v, date) else v for k, v in filing.items()}
    rows = filed_worker(
        psn_no, card_no, f"31010219800101{number}", name="测试工人", filing_no=f"F{number}",
        **fields,
    )  # fmt: skip
    reply = httpx.post(f"{sim.url}/_sim/seed", json=rows)
    assert reply.status_code == 200, reply.text


def physical_card(card_no: str) -> CardData:
    return CardData(kind=CardKind.PHYSICAL, card_no=card_no)


def admit_on_card(services: Services, psn_no: str, card_no: str, admitted: datetime) -> str:
    """``psn_no`` admitted at ``admitted``, as visit ``V-`` + the number, on card ``card_no``;
    returns the stay's id."""
    command = replace(
        admit(psn_no, f"V-{psn_no}"),
        card=physical_card(card_no),
        admitted_at=admitted,
    )
    return services.admissions.admit(command, actor="c").encounter.id


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """``day`` at that time, Beijing time."""
    return datetime.combine(day, time(hour, minute, second), tzinfo=ZONE)
