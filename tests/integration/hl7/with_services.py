"""What the HL7 tests over the real use cases share (:mod:`.test_edges_with_services`,
:mod:`.test_his_habits_with_services`; :mod:`.synced_sqlite` takes the clock, the profile and
the admission): the MLLP listener on a real socket in front of ``services.commands``, the site
profile as shipped, HL7 times, and the messages of the simulator's seeded workers.

A test module takes the fixtures with ``from tests.integration.hl7.with_services import *``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from adapter.domain.commands import EncounterCommands
from adapter.services.container import Services
from connectors.hl7 import ListenerConfig, ListenerThread, build_listener, create_tables
from connectors.hl7 import load_site_profile as load_profile
from connectors.hl7.profile import SiteProfile
from connectors.hl7.reader import Hl7Message
from tests.integration.services.fixtures import *  # noqa: F403 - the use cases' fixtures
from tests.unit.hl7 import messages as m

SHANGHAI = ZoneInfo("Asia/Shanghai")
HL7_PROFILE = load_profile(Path(__file__).parents[3] / "config" / "hl7_site.toml")
NOW = datetime.now(UTC)
# the simulator's seeded workers (connectors/upstream/simulator/demo_seed.py)
WANG = {"name": "王建国", "citizen_id": "310102197803141310", "card_no": "310100A0001"}
CHEN = {"name": "陈静", "citizen_id": "320102198809092261", "card_no": "320100E0005"}


def ts(moment: datetime) -> str:
    """An HL7 time, Beijing time with its offset, as a HIS sends it."""
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + "+0800"


@contextmanager
def listening(
    db: Engine, commands: EncounterCommands, profile: SiteProfile = HL7_PROFILE
) -> Iterator[int]:
    """An MLLP listener on a free loopback port in front of ``commands``: its port."""
    create_tables(db)
    config = ListenerConfig(host="127.0.0.1", port=0)
    thread = ListenerThread(build_listener(db, commands, profile, config))
    try:
        yield thread.start()
    finally:
        thread.stop()


@pytest.fixture
def port(db: Engine, services: Services) -> Iterator[int]:
    """The port of a listener in front of the real use cases, with the site profile shipped."""
    with listening(db, services.commands) as bound:
        yield bound


def patient(worker: dict[str, str] = WANG) -> str:
    """PID naming ``worker`` by name and citizen ID."""
    return m.pid(name=worker["name"], citizen_id=worker["citizen_id"])


def a01(control_id: str, visit: str, worker: dict[str, str] = WANG, *, admitted: str = "",
        name: str = "", charset: str = "UNICODE UTF-8", parts: str = "左手") -> bytes:  # fmt: skip
    """``worker``'s admission (three hours ago unless ``admitted``), in ``charset``."""
    text = m.message(
        m.msh("A01", control_id, charset=charset),
        "EVN|A01|" + ts(NOW),
        m.pid(name=name or worker["name"], citizen_id=worker["citizen_id"]),
        m.pv1(visit, admitted=admitted or ts(NOW - timedelta(hours=3))),
        m.dg1("S62.301", "左手第三掌骨骨折"),
        m.zwi(card_no=worker["card_no"], parts=parts),
    )
    return text.encode("gb18030" if charset.startswith("GB") else "utf-8")


def a08(control_id: str, visit: str, *segments: str, department: str = "骨科病区") -> bytes:
    """An A08 of 王建国's stay ``visit`` with ``segments`` (PV1-3 left out when ``department``
    is empty, HL7's null when it is ``\"\"``)."""
    return m.message(
        m.msh("A08", control_id),
        "EVN|A08|" + ts(NOW),
        patient(),
        m.pv1(visit, admitted=ts(NOW - timedelta(hours=3)), department=department),
        *segments,
    ).encode()


def dft(control_id: str, visit: str, *lines: str, who: str = "", version: str = "2.5") -> bytes:
    """A DFT^P03 of ``lines`` for the stay ``visit`` of the worker PID ``who`` names (王建国)."""
    header = m.msh("P03", control_id, version=version)
    return m.message(header, "EVN|P03|" + ts(NOW), who or patient(), m.pv1(visit), *lines).encode()


def drug(line_id: str = "L1", *, when: str = "") -> str:
    """One box of ibuprofen (XN02BEB001) at 36.50, an hour ago unless ``when``."""
    return m.ft1(line_id, code="XN02BEB001", quantity="1", price="36.50", amount="36.50",
                 when=when or ts(NOW - timedelta(hours=1)))  # fmt: skip


def answer(ack: Hl7Message) -> tuple[str, str, str]:
    """(MSA-1, our code: ERR-5 for an AR, ERR-3 otherwise, ERR-2 as ``segment^seq^field``)."""
    err = ack.first("ERR")
    if err is None:
        return ack.require("MSA").get(1), "", ""
    where = "^".join(err.get(2, component) for component in (1, 2, 3)).strip("^")
    return ack.require("MSA").get(1), err.get(5) or err.get(3), where
