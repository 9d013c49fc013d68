"""The built-in demo: the simulator in this process, its catalogues loaded, a token per role.

Everything the demo does goes through the same parts as production — the reference client
over real HTTP, the store, the upload queue — only upstream is the simulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from sqlalchemy import Engine, update

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.upstream import UpstreamGateway
from adapter.settings import HttpSettings
from adapter.store.tokens import ROLE_LABELS, ROLES, ApiTokenRow, create_token
from adapter.store.uow import UnitOfWork
from connectors.cards.bridge_service import SimulatedBridgeService
from connectors.cards.simulated import SimulatedCardReader, card_from_seed
from connectors.upstream.simulator import SimulatorServer, demo_seed, start_simulator

DEMO_TOKEN_PREFIX = "演示-"
TREATMENT_KINDS = (
    CatalogueKind.DRUG,
    CatalogueKind.TREATMENT,
    CatalogueKind.SERVICE_STANDARD,
    CatalogueKind.REHAB,
)


@dataclass(frozen=True)
class DemoTokens:
    by_role: dict[str, str]
    all_roles: str | None


def start_demo_simulator(host: str, port: int, today: date) -> SimulatorServer:
    return start_simulator(host=host, port=port, today=today)


DEMO_CARD_HOLDER = "P001"  # whose card is in the simulated reader at start


def start_demo_card_reader(
    bridge_url: str, http: HttpSettings, today: date
) -> SimulatedBridgeService:
    """The simulated card-reader bridge (docs/card_reader.md) on loopback, at ``bridge_url``'s
    port when free (else any free port), with a seeded worker's card in the reader. When the
    demo serves on loopback only its pages may read cards; on another address, any page."""
    cards = {p["psn_no"]: card_from_seed(p) for p in demo_seed(today)["people"]}
    reader = SimulatedCardReader(cards.get(DEMO_CARD_HOLDER))
    origins: set[str] = set()
    if http.host in ("127.0.0.1", "localhost"):
        origins = {f"http://127.0.0.1:{http.port}", f"http://localhost:{http.port}"}
    port = urlsplit(bridge_url).port or 0 if bridge_url else 0
    try:
        service = SimulatedBridgeService(reader, cards=cards, allowed_origins=origins, port=port)
    except OSError:
        service = SimulatedBridgeService(reader, cards=cards, allowed_origins=origins)
    return service.start()


def insured_regions(today: date) -> list[str]:
    """The insured places of the demo's workers: their device catalogues apply (N§32)."""
    return sorted({person["insuplc_admdvs"] for person in demo_seed(today)["people"]})


def load_catalogues(
    engine: Engine, gateway: UpstreamGateway, treatment_region: str, device_regions: Iterable[str]
) -> int:
    """Download the treatment place's catalogues and the insured places' device catalogues."""
    items = []
    for kind in TREATMENT_KINDS:
        items += gateway.download_catalogue(kind, treatment_region, context="demo")
    for region in device_regions:
        items += gateway.download_catalogue(CatalogueKind.DEVICE, region, context="demo")
    with UnitOfWork(engine) as uow:
        count = uow.catalogue.load(items)
        uow.commit()
    return count


def issue_tokens(engine: Engine) -> DemoTokens:
    """A fresh token per role (the previous run's demo tokens are revoked), and the
    all-roles token named by ``ADAPTER_DEMO_TOKEN`` for scripted walk-throughs."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.name.startswith(DEMO_TOKEN_PREFIX))  # type: ignore[attr-defined]
            .values(revoked=True, revoked_at=now)
        )
    by_role = {
        role: create_token(engine, f"{DEMO_TOKEN_PREFIX}{ROLE_LABELS[role]}", [role], now)
        for role in ROLES
    }
    fixed = os.environ.get("ADAPTER_DEMO_TOKEN", "").strip()
    if fixed:
        create_token(engine, f"{DEMO_TOKEN_PREFIX}全部角色", list(ROLES), now, token=fixed)
    return DemoTokens(by_role, fixed or None)
