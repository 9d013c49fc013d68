"""The built-in demo (``wi-adapter demo``): the simulator in this process, its catalogues
loaded, a token per role, last month's settlements, a simulated card reader.

Everything the demo does goes through the same parts as production — the reference client
over real HTTP, the store, the upload queue — only upstream is the simulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from urllib.parse import urlsplit

from sqlalchemy import Engine, update
from sqlmodel import col

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.money import ZERO
from adapter.domain.settlement import Bill, Breakdown, Settlement, make_slip_no
from adapter.domain.upstream import UpstreamGateway
from adapter.settings import Settings
from adapter.settings_sections import HttpSettings
from adapter.store.tables.settlements import SettlementRow
from adapter.store.tables.tokens import ApiTokenRow
from adapter.store.tokens import ROLE_LABELS, ROLES, SUPERVISOR, create_token, hash_token
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
            .where(col(ApiTokenRow.name).startswith(DEMO_TOKEN_PREFIX))
            .values(revoked=True, revoked_at=now)
        )
    by_role = {
        role: create_token(engine, f"{DEMO_TOKEN_PREFIX}{ROLE_LABELS[role]}", _held(role), now)
        for role in ROLES
    }
    fixed = os.environ.get("ADAPTER_DEMO_TOKEN", "").strip()
    if fixed:
        _all_roles_token(engine, fixed, now)
    return DemoTokens(by_role, fixed or None)


def _held(role: str) -> list[str]:
    """The roles of the demo's token for ``role``: the supervisor's bills too, as a supervisor
    does (the role alone opens nothing; with billing it may override the rehab-plan gate)."""
    return ["billing", SUPERVISOR] if role == SUPERVISOR else [role]


def _all_roles_token(engine: Engine, token: str, now: datetime) -> None:
    """The ``ADAPTER_DEMO_TOKEN`` token: stored on the first start, reinstated (every role,
    no longer revoked) on each later one — tokens are unique, so it is never stored twice."""
    name = f"{DEMO_TOKEN_PREFIX}全部角色"
    with engine.begin() as connection:
        reinstated = connection.execute(
            update(ApiTokenRow)
            .where(col(ApiTokenRow.token_hash) == hash_token(token))
            .values(name=name, roles=",".join(ROLES), revoked=False, revoked_at=None)
        ).rowcount
    if not reinstated:
        create_token(engine, name, list(ROLES), now, token=token)


@dataclass(frozen=True)
class LastMonth:
    """What the demo's first reconciliation (last month) will find, and why."""

    month: str
    stored: tuple[str, ...]  # settlements stored here now (empty: an earlier start did)
    upstream_only: tuple[str, ...]  # the deliberate difference
    explanation: str


def seed_last_month(engine: Engine, institution_code: str, zone: tzinfo, today: date) -> LastMonth:
    """Last month's settlements, as the simulator reports them (``WI3201``), stored here too,
    so the first reconciliation (N§35, B§33) shows a coherent month — except one on purpose:
    the device settlement stays upstream only (settled at the device counter before this
    adapter went live), and the reconciliation lists it as 本地无此结算. Idempotent: a later
    start finds them stored and adds nothing."""
    seed = demo_seed(today)
    (figures,) = seed["figures"]
    people = {p["psn_no"]: p for p in seed["people"]}
    filings = {f["psn_no"]: f["filing_no"] for f in seed["filings"]}
    here = [s for s in figures["settlements"] if s["kind"] != EncounterKind.DEVICE.value]
    elsewhere = tuple(s["setl_id"] for s in figures["settlements"] if s not in here)
    stored: list[str] = []
    with UnitOfWork(engine) as uow:
        for number, item in enumerate(here, start=1):
            if uow.session.get(SettlementRow, item["setl_id"]) is not None:
                continue
            day = date.fromisoformat(item["setl_date"])
            settled_at = datetime.combine(day, time(10, 15), tzinfo=zone)
            encounter = Encounter(
                id=f"EDEMO{item['setl_id']}",
                kind=EncounterKind(item["kind"]),
                psn_no=item["psn_no"],
                filing_no=filings.get(item["psn_no"], ""),
                institution_code=institution_code,
                his_visit_id=f"DEMO-{item['setl_id']}",
                admitted_at=settled_at - timedelta(days=10),
                status=EncounterStatus.SETTLED,
                insured_admdvs=people[item["psn_no"]]["insuplc_admdvs"],
                discharged_at=settled_at - timedelta(hours=1),
            )
            total, fund = Decimal(item["total"]), Decimal(item["fund_pay"])
            breakdown = Breakdown(total, fund, total - fund, ZERO, total - fund, ZERO)
            uow.encounters.add(encounter)
            uow.settlements.add(
                Settlement(
                    id=item["setl_id"],
                    encounter=encounter,
                    slip_no=make_slip_no(institution_code, day, 90000 + number),
                    settled_at=settled_at,
                    bill=Bill((), (), breakdown, day, False, ("演示数据：上月已结算，无费用明细",)),
                    operator="演示",
                ),
                zone=zone,
            )
            stored.append(item["setl_id"])
        uow.commit()
    count = len(figures["settlements"])
    explanation = (
        f"{figures['month']} 对账：上级系统 {count} 笔结算，本地 {len(here)} 笔"
        f"与之一致；{'、'.join(elsewhere)}（辅助器具）为有意保留的差异——上线前在器具室结算，"
        "上级系统有、本地无，对账列为“本地无此结算”"
    )
    return LastMonth(figures["month"], tuple(stored), elsewhere, explanation)


def run_demo(settings: Settings, *, simulator_port: int, today: date) -> None:
    """``wi-adapter demo``: the adapter over the in-process simulator, with sample data."""
    from adapter.api import server
    from adapter.bootstrap import SERVER_LOGGING, build_app, load_audit_key
    from adapter.logs import configure_from as configure_logging
    from adapter.logs import warnings_only_on_the_terminal
    from adapter.store.migrate import upgrade
    from adapter.web import DEMO_PASSWORD, create_demo_users
    from adapter.wiring.runtime import build_runtime

    configure_logging(settings)
    with warnings_only_on_the_terminal():  # the banner below is what a new user came for
        simulator = start_demo_simulator(settings.http.host, simulator_port, today)
        regions = insured_regions(today)
        reader = start_demo_card_reader(settings.cards.bridge_url, settings.http, today)
        settings = settings.model_copy(
            update={
                "cards": settings.cards.model_copy(update={"bridge_url": reader.url}),
                "upstream": settings.upstream.model_copy(update={"base_url": simulator.url}),
                "schedule": settings.schedule.model_copy(update={"device_regions": regions}),
            }
        )
        upgrade(settings.database.url)
        runtime = build_runtime(settings)
        load_audit_key(settings, runtime.engine)  # the demo's key: created in its data folder
        count = load_catalogues(
            runtime.engine, runtime.gateway, settings.institution.admdvs, regions
        )
        tokens = issue_tokens(runtime.engine)
        create_demo_users(runtime.engine)
        last_month = seed_last_month(
            runtime.engine, settings.institution.code, settings.zone, today
        )
    app = build_app(settings, runtime)
    base = f"http://{settings.http.host}:{settings.http.port}"
    print(f"示例工伤协议医院 demo — adapter {base}, simulator {simulator.url}")
    print(
        f"  card reader (simulated bridge) {reader.url}: card of {DEMO_CARD_HOLDER} inserted;"
        f' another: curl -X PUT {reader.url}/sim/card -d \'{{"psn_no": "P003"}}\''
    )
    if settings.hl7.enabled:  # the README's "for a HIS or a test tool": where to point it
        print(f"  HL7 MLLP listener {settings.hl7.host}:{settings.hl7.port}")
    print(f"  {count} catalogue items loaded; database {settings.database.url}")
    print(f"  health: curl {base}/healthz   API docs: {base}/docs")
    print(
        f"  pages: {base}/web/ — sign in as 入院处, 结算处, 结算主管 (billing, and may settle"
        f" a rehab stay before its plan arrives), 器具室 or 信息科, password {DEMO_PASSWORD}"
    )
    for role, token in tokens.by_role.items():
        held = " (with billing)" if role == SUPERVISOR else ""
        print(f"  token for role {role:<10} {token}{held}")
    if tokens.all_roles:
        print("  ADAPTER_DEMO_TOKEN holds every role")
    print(f"  {last_month.explanation}")
    try:
        server.run(app, settings.http, **SERVER_LOGGING)
    finally:
        reader.stop()
        simulator.stop()
