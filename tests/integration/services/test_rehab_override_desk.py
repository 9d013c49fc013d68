"""The billing desk's rehab-plan override is the settlement supervisor's (结算主管): N§33 wants
the plan upstream before discharge settlement "原则上", and the gate tells a clerk to ask the
supervisor. Before, every billing user saw the field and could settle on a reason of their own.
Now only a user holding ``supervisor`` sees it, and the page refuses anyone else's reason."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.fees import FeeCategory
from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from adapter.store.uow import UnitOfWork
from tests.integration.monthly.api import desk_pages
from tests.integration.services.helpers import admit, fee
from tests.integration.services.support import jobs

PLAN = {
    "goals": "恢复颈椎活动度",
    "items": [{"item_code": "340200001", "item_name": "运动疗法", "frequency": "每日1次"}],
    "frequency": "每日",
    "expected_days": 30,
}
FIELD = 'name="override_reason"'
REASON = "上级系统确认延迟，患者今日须出院"


@pytest.fixture
def waiting_stay(services: Services) -> Encounter:
    """A rehab stay whose plan is saved and queued, not yet acknowledged upstream."""
    command = admit("P010", "V-RO", kind=EncounterKind.REHAB, parts=("颈椎",))
    encounter = services.admissions.admit(command, actor="c").encounter
    rehab = [fee("R1", "340200001", "80.00", category=FeeCategory.REHAB)]
    services.fees.record(encounter.id, rehab, actor="his")
    services.rehab.save(encounter.id, PLAN, actor="doctor01")
    return encounter


def _csrf(desk: httpx.Client, path: str) -> tuple[str, str]:
    page = desk.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return page.text, token[1]


def _status(services: Services, encounter: Encounter) -> EncounterStatus:
    return services.encounter(encounter.id).encounter.status


def test_a_billing_clerk_sees_no_override_and_a_forged_reason_settles_nothing(
    services: Services, waiting_stay: Encounter, db: Engine, db_url: str
) -> None:
    path = f"/web/billing/{waiting_stay.id}"
    with desk_pages(db, db_url, services, MonthlyServices(services.context), role="billing") as d:
        page, token = _csrf(d, path)
        assert "确认结算" in page and FIELD not in page  # the settle form, without the field
        plain = d.post(f"{path}/settle", data={"csrf_token": token})
        forged = d.post(f"{path}/settle", data={"csrf_token": token, "override_reason": REASON})
    # settling as the gate stands: refused, telling the clerk whom to ask
    assert plain.status_code == 422, plain.text
    assert "康复方案已提交但尚未得到上级系统确认接收" in plain.text
    assert "确需先行结算的，须由结算主管填写理由后强制结算" in plain.text
    # a reason typed into a field the page never showed: refused before anything is settled
    assert forged.status_code == 422, forged.text
    assert "须由结算主管操作" in forged.text and "本次未结算" in forged.text
    assert FIELD not in forged.text
    assert _status(services, waiting_stay) is EncounterStatus.ADMITTED
    assert jobs(db, kind="WI2301") == []
    with UnitOfWork(db) as uow:
        assert uow.audit.query(action="settlement.settle") == []


def test_the_settlement_supervisor_sees_the_override_and_settles_with_the_reason_kept(
    services: Services, waiting_stay: Encounter, db: Engine, db_url: str
) -> None:
    path = f"/web/billing/{waiting_stay.id}"
    monthly = MonthlyServices(services.context)
    with desk_pages(db, db_url, services, monthly, role="billing", also="supervisor") as d:
        page, token = _csrf(d, path)
        assert "康复方案未送达时强制结算的原因（结算主管）" in page and FIELD in page
        settled = d.post(f"{path}/settle", data={"csrf_token": token, "override_reason": REASON})
        assert settled.status_code == 303, settled.text
        assert settled.headers["location"] == f"{path}?done=settled"
        shown = d.get(settled.headers["location"]).text
    assert "结算成功" in shown and 'data-testid="settlement"' in shown
    assert _status(services, waiting_stay) is EncounterStatus.SETTLED
    with UnitOfWork(db) as uow:
        [entry] = uow.audit.query(action="settlement.settle")
    assert entry.actor == "billing-supervisor-desk-01"
    assert entry.details["rehab_plan"] == "overridden"
    assert entry.details["rehab_override_reason"] == REASON
