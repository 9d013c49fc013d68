"""Stays set up the way the HIS would set them up (admission and fee lines), for the desks'
tests to pick up: through the REST API with the ``his`` token, over the real socket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.e2e.web.site import CARDS, ZONE, Site
from tests.support.polling import eventually
from tests.support.uploads import queue_admission


def at(days: int, hour: int = 9) -> str:
    moment = datetime.now(ZONE).replace(hour=hour, minute=0, second=0, microsecond=0)
    return (moment + timedelta(days=days)).isoformat()


def line(line_id: str, code: str, amount: str, quantity: str = "1", **extra: Any) -> dict:
    unit = str(abs(Decimal(amount) / Decimal(quantity)).quantize(Decimal("0.0001")))
    return {
        "his_line_id": line_id, "item_code": code, "item_name": extra.pop("name", code),
        "category": extra.pop("category", "drug"), "quantity": quantity, "unit_price": unit,
        "amount": amount, "occurred_at": at(-2, 10), **extra,
    }  # fmt: skip


# A stay with every kind of line the billing desk explains: in catalogue, over the bed-fee
# standard (50.00/日), out of catalogue, non-work injury, an unknown HIS item to map, and a
# meal subsidy outside direct settlement.
LINES = [
    line("L1", "XN02BEB001", "36.50", "2", name="布洛芬缓释胶囊", unit="盒"),
    line("L2", "110900001A", "60.00", "1", category="service", name="床位费（三人间）",
         unit="日"),
    line("L3", "HIS-OWN-77", "42.00", name="医院自制敷料"),
    line("L4", "XM01AHC004", "25.00", name="塞来昔布胶囊", work_injury=False),
    line("L5", "ZZ-NOT-LISTED", "18.00", name="进口止痛贴"),
    line("M1", "MEAL", "60.00", "3", category="meal", name="住院伙食补助"),
]  # fmt: skip


def minute(moment: datetime) -> datetime:
    """What a desk's time field holds (the pages' forms are to the minute)."""
    return moment.replace(second=0, microsecond=0)


def readmitted_at(site: Site, psn_no: str, earliest: str) -> str:
    """When the worker is admitted again: at ``earliest``, or — the desks' tests share one
    site, and the worker's last stay may have been settled or claimed by hand since — when
    that stay ended, as a readmission: one stay of a worker at a time (N§33, N§38). To the
    minute, as a desk's times are (a discharge at 10:31:20 is readmitted at 10:32)."""
    from adapter.domain.encounters import EncounterKind, EncounterStatus
    from adapter.store.uow import UnitOfWork

    claimed = EncounterStatus.MANUAL_CLAIM
    with UnitOfWork(site.engine) as uow:
        ended = [
            # a stay claimed by hand before its discharge was noted ends in its claim's minute
            r.encounter.discharged_at or minute(r.updated_at)
            for r in uow.encounters.list_for_person(psn_no)
            if r.encounter.kind is not EncounterKind.DEVICE
            and r.encounter.status is not EncounterStatus.CANCELLED
            and (r.encounter.discharged_at is not None or r.encounter.status is claimed)
        ]
    latest = max([datetime.fromisoformat(earliest), *ended]).astimezone(ZONE)
    if latest != minute(latest):
        latest = minute(latest) + timedelta(minutes=1)
    return latest.isoformat()


def _within(item: dict, admitted_at: str) -> dict:
    """A fee line dated no earlier than the admission (a readmission's lines are its own)."""
    occurred = max(datetime.fromisoformat(item["occurred_at"]), datetime.fromisoformat(admitted_at))
    return {**item, "occurred_at": occurred.isoformat()}


def his(site: Site) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.tokens['his']}"}


def close_open_stay(site: Site, psn_no: str, kind: str = "medical") -> None:
    """The desks' tests share one site: end the worker's open stay that a ``kind`` admission
    may not start beside (one at a time, of either kind: N§33, B§28) left by an earlier test,
    as the HIS would — cancel it, or settle a revoked one."""
    from adapter.domain.encounters import EncounterKind, EncounterStatus
    from adapter.services.settlement import SettleRequest

    services = site.runtime.services
    stay = services.admissions.open_stay(psn_no, EncounterKind(kind))
    if stay is None:
        return
    if stay.status is EncounterStatus.ADMITTED:
        services.stays.cancel(stay.id, reason="测试前清理", actor="test")
    else:  # to the minute, as a desk settles: a later admission at the desk is not before it
        when = minute(datetime.now(ZONE))
        services.settlements.settle(SettleRequest(stay.id, when), actor="test")


def admit_with_fees(site: Site, visit: str, psn_no: str = "P001") -> str:
    """The worker admitted three days ago — or, readmitted, when the last stay ended — with
    :data:`LINES`, dated within the stay."""
    close_open_stay(site, psn_no)
    admitted_at = readmitted_at(site, psn_no, at(-3))
    lines = [_within(item, admitted_at) for item in LINES]
    body = {
        "card": {"kind": "physical", "card_no": CARDS[psn_no]},
        "his_visit_id": visit,
        "kind": "medical",
        "admitted_at": admitted_at,
        "department": "骨科",
        "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
        "injury_parts": site.person_filing_parts(psn_no)[:1],
    }
    admitted = httpx.post(f"{site.base}/api/v1/encounters", json=body, headers=his(site))
    assert admitted.status_code == 201, admitted.text
    encounter_id = str(admitted.json()["id"])
    fees = httpx.post(
        f"{site.base}/api/v1/encounters/{encounter_id}/fees",
        json={"lines": lines},
        headers=his(site),
    )
    assert fees.status_code == 200, fees.text
    assert fees.json()["unmapped"] == ["L3", "L5"]
    return encounter_id


def admit_rehab(site: Site, visit: str) -> str:
    """Worker P010 admitted for inpatient rehab two days ago; no plan yet."""
    close_open_stay(site, "P010", "rehab")
    body = {
        "card": {"kind": "physical", "card_no": "330100K0010"},
        "his_visit_id": visit,
        "kind": "rehab",
        "admitted_at": readmitted_at(site, "P010", at(-2)),
        "injury_parts": site.person_filing_parts("P010")[:1],
    }
    admitted = httpx.post(f"{site.base}/api/v1/encounters", json=body, headers=his(site))
    assert admitted.status_code == 201, admitted.text
    return str(admitted.json()["id"])


def settle_by_api(site: Site, encounter_id: str) -> dict[str, Any]:
    billing = {"Authorization": f"Bearer {site.tokens['billing']}"}
    for line_id, body in (
        ("L3", {"catalogue_code": "XJ01DCC061"}),
        ("L5", {"out_of_catalogue": True}),
    ):
        mapped = httpx.put(
            f"{site.base}/api/v1/encounters/{encounter_id}/fees/{line_id}/mapping",
            json=body, headers=billing,
        )  # fmt: skip
        assert mapped.status_code == 200, mapped.text
    settled = httpx.post(
        f"{site.base}/api/v1/encounters/{encounter_id}/settle",
        json={"discharged_at": _discharge(site, encounter_id)},
        headers=billing,
        timeout=30,
    )
    assert settled.status_code == 201, settled.text
    return dict(settled.json())


def _discharge(site: Site, encounter_id: str) -> str:
    """Today: at midnight after a stay admitted three days ago; a readmission today, now (to
    the minute, as a desk's: a later admission at the desk is not before it)."""
    from adapter.store.uow import UnitOfWork

    with UnitOfWork(site.engine) as uow:
        admitted = uow.encounters.get(encounter_id).encounter.admitted_at
    midnight = datetime.fromisoformat(at(0, 0))
    discharged = max(admitted, minute(datetime.now(ZONE))) if admitted > midnight else midnight
    return discharged.astimezone(ZONE).isoformat()


def refused_upload(site: Site, encounter_id: str, *, until_dead: bool = True) -> int:
    """Queue an admission upload of the encounter that upstream refuses (begntime missing):
    it goes dead, and the encounter's later uploads wait behind it (delivered in order).
    Returns its job id, once it is dead unless ``until_dead`` is false."""
    runtime = site.runtime
    input = {"mdtrt_id": f"BLOCK-{encounter_id}", "psn_no": "P001"}
    job_id = queue_admission(runtime, encounter_id, input, datetime.now(UTC) + timedelta(hours=1))
    if until_dead:
        eventually(
            lambda: any(j.id == job_id for j in runtime.queue.list_jobs(status="dead", limit=1000))
        )
    return job_id
