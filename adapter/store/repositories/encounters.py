"""Encounters (stays and visits) with optimistic locking: added once per HIS visit, found,
listed for the desks, and updated only at the version the caller read.

Their fee lines are ``fee_lines``'s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapter.domain.encounters import Encounter
from adapter.domain.errors import NotFound
from adapter.domain.ports import Clock
from adapter.hot_sql import HotStatement
from adapter.store import errors
from adapter.store.mapping import encounter_of, encounter_values
from adapter.store.sql import table, violates
from adapter.store.tables import EncounterRow

_encounter = table(EncounterRow)

# The statements every visit update runs (an HL7 A08 each): on the driver, compiled once
# (adapter.hot_sql). Columns to set come with each execution.
_BY_ID = HotStatement(select(_encounter).where(_encounter.c.id == bindparam("b_id")))
_by_visit = select(_encounter).where(
    _encounter.c.institution_code == bindparam("b_institution"),
    _encounter.c.his_visit_id == bindparam("b_visit"),
)
_BY_VISIT = HotStatement(_by_visit)
# SQLite has no row locks and renders no FOR UPDATE: there the writer's BEGIN IMMEDIATE holds it
_BY_VISIT_LOCKED = HotStatement(_by_visit.with_for_update())
_LOCK = HotStatement(
    select(_encounter.c.version).where(_encounter.c.id == bindparam("b_id")).with_for_update()
)
_UPDATE = HotStatement(
    update(_encounter)
    .where(_encounter.c.id == bindparam("b_id"), _encounter.c.version == bindparam("b_expected"))
    .returning(*_encounter.c)
)


@dataclass(frozen=True)
class EncounterRecord:
    """An encounter as stored: the domain object plus what only the store knows."""

    encounter: Encounter
    version: int  # pass back as ``expected_version`` to update
    ready_to_settle: bool  # the HIS reported discharge (HL7 A03); the clerk may settle
    created_at: datetime
    updated_at: datetime


def _record(row: Row[Any]) -> EncounterRecord:
    return EncounterRecord(
        encounter_of(row),
        row.version,
        row.ready_to_settle,
        row.created_at,
        row.updated_at,
    )


class EncounterRepository:
    def __init__(self, session: Session, clock: Clock):
        self._session = session
        self._clock = clock

    def lock(self, encounter_id: str) -> None:
        """Hold the encounter's row until the transaction ends (``SELECT … FOR UPDATE`` on
        PostgreSQL; SQLite has no row locks and emits none). No-op if it does not exist."""
        _LOCK.execute(self._session, {"b_id": encounter_id})

    def add(self, encounter: Encounter) -> EncounterRecord:
        """Store a new encounter at version 1.

        Raises ``DomainError(ENCOUNTER_DUPLICATE)`` if its id or its (institution, HIS visit)
        is already registered; the transaction stays usable (the insert runs in a savepoint).
        """
        now = self._clock.now()
        values = {
            **encounter_values(encounter),
            "version": 1,
            "ready_to_settle": False,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self._session.begin_nested():
                self._session.execute(_encounter.insert().values(values))
        except IntegrityError as exc:
            if violates(
                exc, "uq_encounter_visit", "encounter.institution_code, encounter.his_visit_id"
            ) or violates(exc, "encounter_pkey", "encounter.id"):
                raise errors.encounter_duplicate(
                    encounter.institution_code, encounter.his_visit_id
                ) from exc
            if violates(
                exc, "uq_encounter_admitted_stay", "encounter.institution_code, encounter.psn_no"
            ):
                # SQLite names the first index it trips: the same visit still says so.
                if self.find_by_visit(encounter.institution_code, encounter.his_visit_id):
                    raise errors.encounter_duplicate(
                        encounter.institution_code, encounter.his_visit_id
                    ) from exc
                raise errors.open_stay_exists(encounter.psn_no, encounter.kind.label) from exc
            raise
        return EncounterRecord(encounter, 1, False, now, now)

    def find(self, encounter_id: str) -> EncounterRecord | None:
        row = _BY_ID.one_or_none(self._session, {"b_id": encounter_id})
        return _record(row) if row else None

    def get(self, encounter_id: str) -> EncounterRecord:
        """The encounter, or :class:`NotFound` (in Chinese)."""
        record = self.find(encounter_id)
        if record is None:
            raise NotFound(f"就诊{encounter_id}不存在", code="ENCOUNTER_NOT_FOUND")
        return record

    def find_by_visit(
        self, institution_code: str, his_visit_id: str, *, lock: bool = False
    ) -> EncounterRecord | None:
        """``lock``: its row held as :meth:`lock` holds it, and read once held (on PostgreSQL
        a writer of the stay committing meanwhile is waited for, and its result read)."""
        row = (_BY_VISIT_LOCKED if lock else _BY_VISIT).one_or_none(
            self._session, {"b_institution": institution_code, "b_visit": his_visit_id}
        )
        return _record(row) if row else None

    def open_stay(self, institution_code: str, psn_no: str, kind: str) -> EncounterRecord | None:
        """The worker's latest open stay of ``kind`` here: admitted, or its settlement revoked
        (one of each may be open: a settlement revoked after the worker was readmitted)."""
        row = self._session.execute(
            select(_encounter)
            .where(
                _encounter.c.institution_code == institution_code,
                _encounter.c.psn_no == psn_no,
                _encounter.c.kind == kind,
                _encounter.c.status.in_(("admitted", "revoked")),
            )
            .order_by(_encounter.c.admitted_at.desc(), _encounter.c.id.desc())
        ).first()
        return _record(row) if row else None

    def open_stays(self, institution_code: str, psn_no: str) -> list[EncounterRecord]:
        """The worker's open stays here of either inpatient kind (medical, rehab; a device
        fitting is no stay), in admission order. One at most, but for stays of both kinds
        opened before admission refused the second, or by two admissions at once, and a stay
        reopened by a settlement revoked after the worker was readmitted."""
        c = _encounter.c
        stays = _stays_of(institution_code, psn_no, ("admitted", "revoked"))
        return [_record(row) for row in self._session.execute(stays.order_by(c.admitted_at, c.id))]

    def closed_overlapping(
        self, institution_code: str, psn_no: str, start: datetime, end: datetime, *, besides: str
    ) -> list[EncounterRecord]:
        """The worker's stays here (medical or rehab, other than ``besides``) that were settled
        or claimed by hand and whose time in hospital overlaps ``start`` … ``end``: admitted
        before ``end`` (at ``start`` when the two are one moment) and discharged after
        ``start``, in admission order. A stay turned into a manual claim before its discharge
        was noted is taken as discharged at its last change (the claim: a claim is final);
        the caller reads that moment as the desks read times."""
        c = _encounter.c
        stays = _stays_of(institution_code, psn_no, _CLOSED, besides=besides).where(
            (c.admitted_at < end) | (c.admitted_at == start), _ended_at() > start
        )
        return [_record(row) for row in self._session.execute(stays.order_by(c.admitted_at))]

    def closed_within(
        self, institution_code: str, psn_no: str, since: datetime, before: datetime, *, besides: str
    ) -> list[EncounterRecord]:
        """The worker's stays here (medical or rehab, other than ``besides``), settled or
        claimed by hand, in hospital at some moment from ``since`` to before ``before`` (the
        start of a stay's first day and of the day after its last: the stays sharing a
        calendar day with it), in admission order. A stay claimed by hand before its
        discharge was noted ends at its claim, as in :meth:`closed_overlapping`."""
        c = _encounter.c
        stays = _stays_of(institution_code, psn_no, _CLOSED, besides=besides).where(
            c.admitted_at < before, _ended_at() >= since
        )
        return [_record(row) for row in self._session.execute(stays.order_by(c.admitted_at))]

    def list_for_person(self, psn_no: str) -> list[EncounterRecord]:
        rows = self._session.execute(
            select(_encounter)
            .where(_encounter.c.psn_no == psn_no)
            .order_by(_encounter.c.admitted_at, _encounter.c.id)
        )
        return [_record(row) for row in rows]

    def list_for_desk(
        self, institution_code: str, since: datetime, *, limit: int = 200
    ) -> list[EncounterRecord]:
        """The desks' work lists: stays still open (admitted or revoked) and stays changed
        since ``since`` (start of today), newest first, at most ``limit``."""
        c = _encounter.c
        rows = self._session.execute(
            select(_encounter)
            .where(
                c.institution_code == institution_code,
                c.status.in_(("admitted", "revoked")) | (c.updated_at >= since),
            )
            .order_by(c.updated_at.desc(), c.id)
            .limit(limit)
        )
        return [_record(row) for row in rows]

    def update(
        self,
        encounter: Encounter,
        *,
        expected_version: int,
        ready_to_settle: bool | None = None,
        was: Encounter | None = None,
    ) -> EncounterRecord:
        """Write ``encounter`` over the stored one if it is still at ``expected_version``.

        The check and the write are one ``UPDATE … WHERE version = :expected``, so two clerks
        who read the same version cannot both win. Raises ``DomainError(VERSION_CONFLICT)``
        if someone else updated it first, :class:`NotFound` if it does not exist. The
        (institution, HIS visit) identity of an encounter never changes and is not written.
        Given ``was`` (the encounter as read at ``expected_version``), only the fields that
        differ from it are written: the database then leaves the indexes of the others alone
        (an HL7 A08 changes a department or a diagnosis, never the worker or the status).
        """
        values = encounter_values(encounter)
        for key in ("id", "institution_code", "his_visit_id"):
            del values[key]
        if was is not None:
            before = encounter_values(was)
            values = {key: value for key, value in values.items() if before[key] != value}
        values["version"] = expected_version + 1
        values["updated_at"] = self._clock.now()
        if ready_to_settle is not None:
            values["ready_to_settle"] = ready_to_settle
        row = _UPDATE.one_or_none(
            self._session, {**values, "b_id": encounter.id, "b_expected": expected_version}
        )
        if row is None:
            self.get(encounter.id)  # NotFound if it is missing altogether
            raise errors.version_conflict(encounter.id)
        return _record(row)


# a stay whose days the fund paid (settled) or the insured place reimburses by hand
_CLOSED = ("settled", "manual_claim")


def _stays_of(
    institution_code: str, psn_no: str, statuses: tuple[str, ...], *, besides: str = ""
) -> Select[Any]:
    """The worker's inpatient stays here (medical or rehab: a device fitting is no stay) in
    ``statuses``, other than ``besides``."""
    c = _encounter.c
    return select(_encounter).where(
        c.institution_code == institution_code,
        c.psn_no == psn_no,
        c.kind.in_(("medical", "rehab")),
        c.status.in_(statuses),
        c.id != besides,
    )


def _ended_at() -> ColumnElement[datetime]:
    """A stay's end: its discharge, or — claimed by hand before its discharge was noted —
    its last change (the claim: a claim is final)."""
    c = _encounter.c
    return func.coalesce(c.discharged_at, c.updated_at)
