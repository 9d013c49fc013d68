"""Stays set up the way the HIS would set them up (admission and fee lines), for the desks'
tests to pick up: through the REST API with the ``his`` token, over the real socket."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
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
BED_LINE = line("L2", "110900001A", "60.00", "1", category="service", name="床位费（三人间）",
                unit="日")  # fmt: skip
LINES = [
    line("L1", "XN02BEB001", "36.50", "2", name="布洛芬缓释胶囊", unit="盒"),
    BED_LINE,
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


def a_day_of_its_own(site: Site, psn_no: str) -> str:
    """08:00 of the day before the worker's first stay here (not cancelled; three days ago
    without one): a stay from then to 20:00 shares no day with another, so the bed it bills
    is paid whatever the stays the desks' tests settled today (one bed a day,
    ``FEE_DAYS_SHARED_WITH_STAY``). Within the 30 days an admission may be registered late."""
    from adapter.domain.encounters import EncounterKind, EncounterStatus
    from adapter.store.uow import UnitOfWork

    with UnitOfWork(site.engine) as uow:
        starts = [
            r.encounter.admitted_at.astimezone(ZONE).date()
            for r in uow.encounters.list_for_person(psn_no)
            if r.encounter.kind is not EncounterKind.DEVICE
            and r.encounter.status is not EncounterStatus.CANCELLED
        ]
    first = min([datetime.fromisoformat(at(-3)).date(), *starts])
    return datetime.combine(first - timedelta(days=1), time(8), tzinfo=ZONE).isoformat()


def _bed_paid(site: Site, psn_no: str, admitted_at: str) -> bool:
    """Whether one of the worker's stays here, settled or claimed by hand, certainly billed
    the bed of the day ``admitted_at`` falls on (as the settlement's rule reads it,
    :meth:`adapter.domain.stay_days.Neighbour.holds`)."""
    from adapter.domain.encounters import EncounterKind, EncounterStatus
    from adapter.domain.stay_days import Neighbour, stay_span
    from adapter.store.uow import UnitOfWork

    code = str(BED_LINE["item_code"])
    day = datetime.fromisoformat(admitted_at)
    first = stay_span(day, day, ZONE)
    claimed, settled = EncounterStatus.MANUAL_CLAIM, EncounterStatus.SETTLED
    with UnitOfWork(site.engine) as uow:
        stays = [
            r
            for r in uow.encounters.list_for_person(psn_no)
            if r.encounter.kind is not EncounterKind.DEVICE
            and r.encounter.status in (claimed, settled)
        ]
        paid = uow.fee_totals.paid_days(
            [r.encounter.id for r in stays if r.encounter.status is settled],
            [r.encounter.id for r in stays if r.encounter.status is claimed],
            [code],
        )
    for r in stays:
        stay = r.encounter
        ended = stay.discharged_at or minute(r.updated_at)
        other = Neighbour(
            stay_span(stay.admitted_at, ended, ZONE), "", stay.status is claimed,
            paid.get(stay.id, {}),
        )  # fmt: skip
        if other.holds(first, code) > 0:
            return True
    return False


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


def admit_with_fees(
    site: Site, visit: str, psn_no: str = "P001", *, bed: bool = False, own_day: bool = False
) -> str:
    """The worker admitted three days ago — or, readmitted, when the last stay ended — with
    :data:`LINES`, dated within the stay. A readmission on a day whose bed an earlier stay
    paid (settled or claimed by hand) bills no bed (``L2``): the HIS bills one bed a day, and
    settling it would be refused (``FEE_DAYS_SHARED_WITH_STAY``) — unless ``bed``, for a
    stay the test never settles. ``own_day``: a stay whose settled bed the test looks at,
    laid out on a day of its own before the worker's other stays (:func:`a_day_of_its_own`),
    all its lines an hour after the admission; it is discharged that day at 20:00."""
    close_open_stay(site, psn_no)
    if own_day:
        admitted_at = a_day_of_its_own(site, psn_no)
        hour_later = (datetime.fromisoformat(admitted_at) + timedelta(hours=1)).isoformat()
        lines = [{**item, "occurred_at": hour_later} for item in LINES]
    else:
        admitted_at = readmitted_at(site, psn_no, at(-3))
        paid = not bed and _bed_paid(site, psn_no, admitted_at)
        lines = [_within(item, admitted_at) for item in LINES if not (paid and item is BED_LINE)]
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
    the minute, as a desk's: a later admission at the desk is not before it); a stay on a day
    of its own (:func:`a_day_of_its_own`: another stay of the worker begins after it), that
    day at 20:00."""
    from adapter.domain.encounters import EncounterKind, EncounterStatus
    from adapter.store.uow import UnitOfWork

    with UnitOfWork(site.engine) as uow:
        stay = uow.encounters.get(encounter_id).encounter
        later = [
            r
            for r in uow.encounters.list_for_person(stay.psn_no)
            if r.encounter.admitted_at > stay.admitted_at
            and r.encounter.kind is not EncounterKind.DEVICE
            and r.encounter.status is not EncounterStatus.CANCELLED
        ]
    admitted = stay.admitted_at
    if later:
        return (admitted.astimezone(ZONE) + timedelta(hours=12)).isoformat()
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
