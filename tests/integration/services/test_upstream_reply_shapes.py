"""An admission whose upstream replies vary from the documented format (``/_sim/next_reply``),
on both databases: a harmless variation admits the worker and stores the filing as read; an
unreadable one refuses with a Chinese message naming the field, and writes nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.errors import UpstreamMalformed
from adapter.domain.filings import FilingStatus
from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from adapter.store.uow import UnitOfWork
from connectors.upstream.simulator import SimulatorServer
from connectors.upstream.simulator.demo_seed import demo_seed
from tests.integration.monthly.api import desk_pages
from tests.integration.services.helpers import TODAY, admit
from tests.integration.services.support import jobs


def _f001(**changes: Any) -> dict[str, Any]:
    (filing,) = [f for f in demo_seed(TODAY)["filings"] if f["filing_no"] == "F001"]
    return {**filing, **changes}


def _next_filings(sim: SimulatorServer, *filings: dict[str, Any]) -> None:
    body = {"infno": "WI1201", "output": {"filings": list(filings)}}
    assert httpx.post(f"{sim.url}/_sim/next_reply", json=body).status_code == 200


def test_n11_an_open_ended_filing_in_another_spelling_admits_and_is_stored_as_read(
    services: Services, sim: SimulatorServer, db: Engine, db_url: str
) -> None:
    """N§11: the insured province sets the validity and may leave it open; "ACTIVE", a
    compact date and a "0" for no third party are the same facts as documented (N§3)."""
    seeded = _f001()
    begin = date.fromisoformat(seeded["begndate"])
    _next_filings(
        sim,
        _f001(status="ACTIVE", enddate="", begndate=f"{begin:%Y%m%d}",
              third_party_liability="0"),
    )  # fmt: skip
    admitted = services.admissions.admit(admit("P001", "V-SHAPE"), actor="clerk01")
    assert admitted.encounter.filing_no == "F001"
    with UnitOfWork(db) as uow:
        stored = uow.filings.get("F001")
    assert stored is not None
    assert (stored.status, stored.valid_from, stored.valid_to) == (
        FilingStatus.ACTIVE,
        begin,
        date.max,
    )
    assert stored.third_party_liability is False and stored.valid_on(TODAY)
    # the stay's page tells the clerk it has no end, not "至 9999-12-31"
    monthly = MonthlyServices(services.context)
    with desk_pages(db, db_url, services, monthly, role="admission") as desk:
        page = desk.get(f"/web/stays/{admitted.encounter.id}")
    assert page.status_code == 200, page.text
    assert f"{begin:%Y-%m-%d} 至 长期" in page.text and "9999" not in page.text


def test_a_filing_reply_that_cannot_be_read_names_the_field_and_writes_nothing(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    _next_filings(sim, _f001(begndate="下月初"))
    with pytest.raises(UpstreamMalformed) as caught:
        services.admissions.admit(admit("P001", "V-BAD"), actor="clerk01")
    assert caught.value.message == (
        "工伤保险信息系统返回的数据无法识别，请联系信息科"
        "（WI1201 返回的 filings[0].begndate 无法识别）"
    )
    assert caught.value.msgid  # IT finds the call by it
    with db.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM encounter").scalar_one() == 0
    assert jobs(db) == []
