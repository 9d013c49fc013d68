"""Encounters (with optimistic locking) and their fee lines (added idempotently)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapter.domain.encounters import Encounter
from adapter.domain.errors import NotFound
from adapter.domain.fees import FeeLine
from adapter.domain.ports import Clock
from adapter.store import errors
from adapter.store.mapping import encounter_of, encounter_values, fee_line_of, fee_line_values
from adapter.store.sql import table, violates
from adapter.store.tables import EncounterRow, FeeLineRow

_encounter = table(EncounterRow)
_fee_line = table(FeeLineRow)

# The statements every fee batch and visit update runs, built once (building one costs more
# than running it on SQLite). Columns to set or insert come with each execution.
_BY_ID = select(_encounter).where(_encounter.c.id == bindparam("b_id"))
_BY_VISIT = select(_encounter).where(
    _encounter.c.institution_code == bindparam("b_institution"),
    _encounter.c.his_visit_id == bindparam("b_visit"),
)
_UPDATE = (
    update(_encounter)
    .where(_encounter.c.id == bindparam("b_id"), _encounter.c.version == bindparam("b_expected"))
    .returning(*_encounter.c)
)
_EXISTS = select(exists().where(_encounter.c.id == bindparam("b_id")))
_LINES = (
    select(_fee_line)
    .where(_fee_line.c.encounter_id == bindparam("b_encounter"))
    .order_by(_fee_line.c.id)
)
_LINES_WITH_STATUS = (
    select(_fee_line)
    .where(
        _fee_line.c.encounter_id == bindparam("b_encounter"),
        _fee_line.c.mapping_status == bindparam("b_status"),
    )
    .order_by(_fee_line.c.id)
)


def _add_lines(insert: Any) -> Any:
    return (
        insert(_fee_line)
        .on_conflict_do_nothing(index_elements=["encounter_id", "line_id"])
        .returning(_fee_line.c.line_id)
    )


_ADD_LINES = {False: _add_lines(sqlite.insert), True: _add_lines(postgresql.insert)}


@dataclass(frozen=True)
class EncounterRecord:
    """An encounter as stored: the domain object plus what only the store knows."""

    encounter: Encounter
    version: int  # pass back as ``expected_version`` to update
    ready_to_settle: bool  # the HIS reported discharge (HL7 A03); the clerk may settle
    created_at: datetime
    updated_at: datetime


def _record(row: Row) -> EncounterRecord:  # type: ignore[type-arg]
    return EncounterRecord(
        encounter_of(row),  # type: ignore[arg-type]
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
        self._session.execute(
            select(_encounter.c.version).where(_encounter.c.id == encounter_id).with_for_update()
        )

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
                exc, "uq_encounter_open_stay", "encounter.institution_code, encounter.psn_no"
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
        row = self._session.execute(_BY_ID, {"b_id": encounter_id}).one_or_none()
        return _record(row) if row else None

    def get(self, encounter_id: str) -> EncounterRecord:
        """The encounter, or :class:`NotFound` (in Chinese)."""
        record = self.find(encounter_id)
        if record is None:
            raise NotFound(f"就诊{encounter_id}不存在", code="ENCOUNTER_NOT_FOUND")
        return record

    def find_by_visit(self, institution_code: str, his_visit_id: str) -> EncounterRecord | None:
        row = self._session.execute(
            _BY_VISIT, {"b_institution": institution_code, "b_visit": his_visit_id}
        ).one_or_none()
        return _record(row) if row else None

    def open_stay(self, institution_code: str, psn_no: str, kind: str) -> EncounterRecord | None:
        """The worker's open stay of ``kind`` here: admitted, or its settlement revoked."""
        row = self._session.execute(
            select(_encounter).where(
                _encounter.c.institution_code == institution_code,
                _encounter.c.psn_no == psn_no,
                _encounter.c.kind == kind,
                _encounter.c.status.in_(("admitted", "revoked")),
            )
        ).first()
        return _record(row) if row else None

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
    ) -> EncounterRecord:
        """Write ``encounter`` over the stored one if it is still at ``expected_version``.

        The check and the write are one ``UPDATE … WHERE version = :expected``, so two clerks
        who read the same version cannot both win. Raises ``DomainError(VERSION_CONFLICT)``
        if someone else updated it first, :class:`NotFound` if it does not exist. The
        (institution, HIS visit) identity of an encounter never changes and is not written.
        """
        values = encounter_values(encounter)
        for key in ("id", "institution_code", "his_visit_id"):
            del values[key]
        values["version"] = expected_version + 1
        values["updated_at"] = self._clock.now()
        if ready_to_settle is not None:
            values["ready_to_settle"] = ready_to_settle
        row = self._session.execute(
            _UPDATE, {**values, "b_id": encounter.id, "b_expected": expected_version}
        ).one_or_none()
        if row is None:
            self.get(encounter.id)  # NotFound if it is missing altogether
            raise errors.version_conflict(encounter.id)
        return _record(row)


class MappingStatus(StrEnum):
    MAPPED = "mapped"  # the HIS item has a catalogue code
    UNMAPPED = "unmapped"  # unknown item: kept, flagged for IT to map before settlement


@dataclass(frozen=True)
class StoredFeeLine:
    line: FeeLine
    mapping_status: MappingStatus = MappingStatus.MAPPED
    catalogue_code: str = ""  # '' when unmapped


@dataclass(frozen=True)
class FeeLinesAdded:
    """What :meth:`FeeLineRepository.add` did: line ids stored, and ids ignored as repeats
    (already stored for the encounter, or repeated within the same batch)."""

    added: tuple[str, ...]
    ignored: tuple[str, ...]


class FeeLineRepository:
    def __init__(self, session: Session, clock: Clock):
        self._session = session
        self._clock = clock

    def add(self, encounter_id: str, lines: Iterable[FeeLine | StoredFeeLine]) -> FeeLinesAdded:
        """Add lines to an encounter; a ``line_id`` already stored is ignored, not an error.

        HIS systems resend messages (a lost ACK, a replayed DFT^P03), so the second copy must
        change nothing. A plain :class:`FeeLine` is stored as mapped to its own item code.
        Safe under concurrency: the unique (encounter_id, line_id) key decides, via
        ``INSERT … ON CONFLICT DO NOTHING``.
        """
        now = self._clock.now()
        rows: list[dict[str, object]] = []
        seen: set[str] = set()
        repeated: list[str] = []
        for entry in lines:
            if isinstance(entry, StoredFeeLine):
                stored = entry
            else:
                stored = StoredFeeLine(entry, MappingStatus.MAPPED, entry.item_code)
            line_id = stored.line.line_id
            if line_id in seen:
                repeated.append(line_id)
                continue
            seen.add(line_id)
            rows.append(
                {
                    **fee_line_values(stored.line),
                    "encounter_id": encounter_id,
                    "mapping_status": stored.mapping_status.value,
                    "catalogue_code": stored.catalogue_code,
                    "received_at": now,
                }
            )
        if not rows:
            return FeeLinesAdded((), tuple(repeated))
        if not self._session.execute(_EXISTS, {"b_id": encounter_id}).scalar():
            raise NotFound(f"就诊{encounter_id}不存在", code="ENCOUNTER_NOT_FOUND")
        statement = _ADD_LINES[self._session.get_bind().dialect.name == "postgresql"]
        inserted = set(self._session.execute(statement, rows).scalars())
        order = [str(row["line_id"]) for row in rows]
        added = tuple(line_id for line_id in order if line_id in inserted)
        ignored = tuple(line_id for line_id in order if line_id not in inserted)
        return FeeLinesAdded(added, ignored + tuple(repeated))

    def list(self, encounter_id: str) -> list[FeeLine]:
        """The encounter's lines in arrival order."""
        return [stored.line for stored in self.list_stored(encounter_id)]

    def list_stored(
        self, encounter_id: str, *, status: MappingStatus | None = None
    ) -> builtins.list[StoredFeeLine]:
        if status is None:
            rows = self._session.execute(_LINES, {"b_encounter": encounter_id})
        else:
            rows = self._session.execute(
                _LINES_WITH_STATUS, {"b_encounter": encounter_id, "b_status": status.value}
            )
        return [
            StoredFeeLine(fee_line_of(row), MappingStatus(row.mapping_status), row.catalogue_code)
            for row in rows
        ]

    def set_mapping(self, encounter_id: str, line_id: str, catalogue_code: str) -> None:
        """Map a flagged line to a catalogue code (IT fixed the HIS item mapping)."""
        result = self._session.execute(
            update(_fee_line)
            .where(_fee_line.c.encounter_id == encounter_id, _fee_line.c.line_id == line_id)
            .values(mapping_status=MappingStatus.MAPPED.value, catalogue_code=catalogue_code)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"费用明细{line_id}不存在", code="FEE_LINE_NOT_FOUND")
