"""The workflows' records (:mod:`adapter.store.tables.workflow`): rehab plans, manual claims
and stays waiting for upstream. The uploads a use case queued are
:mod:`adapter.store.repositories.uploads`.

Like the other repositories they work inside the unit of work's transaction and hand out
frozen dataclasses, never rows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from adapter.store.sql import table
from adapter.store.tables.encounters import EncounterRow
from adapter.store.tables.workflow import manual_claim, rehab_plan, settle_wait

_encounter = table(EncounterRow)


@dataclass(frozen=True)
class RehabPlan:
    """The current rehab plan (康复方案) of a rehab stay and the ``msgid`` of its upload."""

    encounter_id: str
    revision: int
    plan: Mapping[str, Any]
    msgid: str
    saved_at: datetime
    saved_by: str


class RehabPlanRepository:
    def __init__(self, session: Session):
        self._session = session

    def get(self, encounter_id: str) -> RehabPlan | None:
        row = self._session.execute(
            select(rehab_plan).where(rehab_plan.c.encounter_id == encounter_id)
        ).one_or_none()
        if row is None:
            return None
        return RehabPlan(
            row.encounter_id, row.revision, row.plan, row.msgid, row.saved_at, row.saved_by
        )

    def save(self, plan: RehabPlan) -> None:
        """Store ``plan`` as the encounter's current one (the first, or replacing the last)."""
        values = {
            "revision": plan.revision,
            "plan": dict(plan.plan),
            "msgid": plan.msgid,
            "saved_at": plan.saved_at,
            "saved_by": plan.saved_by,
        }
        if plan.revision == 1:
            self._session.execute(
                rehab_plan.insert().values(encounter_id=plan.encounter_id, **values)
            )
        else:
            self._session.execute(
                rehab_plan.update()
                .where(rehab_plan.c.encounter_id == plan.encounter_id)
                .values(**values)
            )


@dataclass(frozen=True)
class StoredManualClaim:
    """A manual claim as stored; :mod:`adapter.services.manual_claims` gives it its reason's
    meaning."""

    id: str
    encounter_id: str
    reason: str
    detail: str
    fee_list: dict[str, Any]
    created_at: datetime
    created_by: str
    from_start: bool
    handed_over_at: datetime | None


@dataclass(frozen=True)
class StoredDeviceCase(StoredManualClaim):
    """A device fitting's manual claim with the worker number its encounter is kept under:
    the checked number, or a card's ``?…`` stand-in (the claim itself carries none)."""

    psn_no: str


class ManualClaimRepository:
    def __init__(self, session: Session):
        self._session = session

    def add(self, claim: StoredManualClaim) -> None:
        self._session.execute(
            manual_claim.insert().values(
                id=claim.id,
                encounter_id=claim.encounter_id,
                reason=claim.reason,
                detail=claim.detail,
                fee_list=claim.fee_list,
                created_at=claim.created_at,
                created_by=claim.created_by,
                from_start=claim.from_start,
                handed_over_at=claim.handed_over_at,
            )
        )

    def get(self, claim_id: str) -> StoredManualClaim | None:
        row = self._session.execute(
            select(manual_claim).where(manual_claim.c.id == claim_id)
        ).one_or_none()
        return None if row is None else _claim(row)

    def id_of_encounter(self, encounter_id: str) -> str | None:
        """The id of the encounter's claim (one per encounter), if it has one."""
        found = self._session.execute(
            select(manual_claim.c.id).where(manual_claim.c.encounter_id == encounter_id)
        ).scalar_one_or_none()
        return None if found is None else str(found)

    def open_case(self, encounter_id: str) -> str:
        """The id of the encounter's case from the start not yet handed over, or ""."""
        found = self._session.execute(
            select(manual_claim.c.id).where(
                manual_claim.c.encounter_id == encounter_id,
                manual_claim.c.from_start.is_(True),
                manual_claim.c.handed_over_at.is_(None),
            )
        ).scalar_one_or_none()
        return "" if found is None else str(found)

    def device_cases(
        self, institution_code: str, psn_nos: Collection[str], *, stand_ins: bool = False
    ) -> list[StoredDeviceCase]:
        """The claims on the workers' device fittings at the institution that are still cases
        or handed over — their encounter admitted or turned manual claim, not settled (a case
        that switched has no claim left) nor cancelled — oldest first: what a direct fitting
        is checked against (N§38 杜绝重复报销). ``psn_nos`` are the checked number and the
        card's stand-in a case recorded without upstream carries; ``stand_ins``: every case
        recorded under a card's stand-in too (``?…``: a card the store never saw), for the
        caller to match by its notice — each case says whose it is (``psn_no``), so one
        query tells the workers' own from the others."""
        whose: ColumnElement[bool] = _encounter.c.psn_no.in_(list(psn_nos))
        if stand_ins:
            whose = whose | _encounter.c.psn_no.startswith("?", autoescape=True)
        rows = self._session.execute(
            select(manual_claim, _encounter.c.psn_no)
            .join(_encounter, _encounter.c.id == manual_claim.c.encounter_id)
            .where(
                _encounter.c.institution_code == institution_code,
                whose,
                _encounter.c.kind == "device",
                _encounter.c.status.in_(("admitted", "manual_claim")),
            )
            .order_by(manual_claim.c.created_at, manual_claim.c.id)
        ).all()
        return [StoredDeviceCase(**_fields(row), psn_no=row.psn_no) for row in rows]

    def hand_over(self, claim_id: str, fee_list: dict[str, Any], at: datetime) -> None:
        self._session.execute(
            manual_claim.update()
            .where(manual_claim.c.id == claim_id)
            .values(fee_list=fee_list, handed_over_at=at)
        )

    def remove(self, claim_id: str) -> None:
        self._session.execute(manual_claim.delete().where(manual_claim.c.id == claim_id))


@dataclass(frozen=True)
class WaitingStay:
    """A stay on the "waiting for upstream" list (N§38)."""

    encounter_id: str
    his_visit_id: str
    kind: str
    discharged_at: datetime
    since: datetime
    requested_by: str
    checked_at: datetime | None
    ready_at: datetime | None  # re-checked and passed: the desk can settle
    refusal: str  # re-checked and refused: why (with the article)


class SettleWaitRepository:
    """Stays whose discharge settlement met a full upstream outage (N§38): one row each."""

    def __init__(self, session: Session):
        self._session = session

    def wait(self, encounter_id: str, *, discharged_at: datetime, by: str, at: datetime) -> None:
        """Put the stay on the list (or back on it, checked now: not ready, not refused)."""
        values = {
            "discharged_at": discharged_at,
            "requested_by": by,
            "checked_at": at,
            "ready_at": None,
            "refusal": "",
        }
        found = self._session.execute(
            select(settle_wait.c.encounter_id).where(settle_wait.c.encounter_id == encounter_id)
        ).one_or_none()
        if found is None:
            self._session.execute(
                settle_wait.insert().values(encounter_id=encounter_id, since=at, **values)
            )
        else:
            self._session.execute(
                settle_wait.update()
                .where(settle_wait.c.encounter_id == encounter_id)
                .values(**values)
            )

    def waiting(self) -> list[WaitingStay]:
        """Every stay on the list, oldest first."""
        rows = self._session.execute(
            select(settle_wait, _encounter.c.his_visit_id, _encounter.c.kind)
            .join(_encounter, _encounter.c.id == settle_wait.c.encounter_id)
            .order_by(settle_wait.c.since, settle_wait.c.encounter_id)
        ).all()
        return [
            WaitingStay(
                encounter_id=r.encounter_id,
                his_visit_id=r.his_visit_id,
                kind=r.kind,
                discharged_at=r.discharged_at,
                since=r.since,
                requested_by=r.requested_by,
                checked_at=r.checked_at,
                ready_at=r.ready_at,
                refusal=r.refusal,
            )
            for r in rows
        ]

    def unchecked(self, limit: int) -> list[tuple[str, datetime]]:
        """Up to ``limit`` stays neither ready nor refused yet, oldest first: (encounter id,
        discharged at)."""
        rows = self._session.execute(
            select(settle_wait.c.encounter_id, settle_wait.c.discharged_at)
            .where(settle_wait.c.ready_at.is_(None), settle_wait.c.refusal == "")
            .order_by(settle_wait.c.since)
            .limit(limit)
        ).all()
        return [(row.encounter_id, row.discharged_at) for row in rows]

    def checked(self, encounter_id: str, at: datetime, *, refusal: str) -> None:
        """Re-checked at ``at``: ready to settle, or refused for ``refusal``."""
        self._session.execute(
            settle_wait.update()
            .where(settle_wait.c.encounter_id == encounter_id)
            .values(checked_at=at, ready_at=None if refusal else at, refusal=refusal)
        )

    def forget(self, encounter_id: str) -> None:
        self._session.execute(
            settle_wait.delete().where(settle_wait.c.encounter_id == encounter_id)
        )


def _claim(row: Any) -> StoredManualClaim:
    return StoredManualClaim(**_fields(row))


def _fields(row: Any) -> dict[str, Any]:
    """A ``manual_claim`` row as :class:`StoredManualClaim`'s fields."""
    return {
        "id": row.id,
        "encounter_id": row.encounter_id,
        "reason": row.reason,
        "detail": row.detail,
        "fee_list": row.fee_list,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "from_start": bool(row.from_start),
        "handed_over_at": row.handed_over_at,
    }
