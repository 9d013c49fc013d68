"""The uploads a use case queued (:data:`adapter.store.tables.workflow.service_upload`): each
upstream write's transaction and ``msgid``, found again by encounter, by settlement or by
the settlements of a period.

Like the other repositories they work inside the unit of work's transaction and hand out
frozen dataclasses (named tuples where a scan streams many), never rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from adapter.domain.settlement import SettlementStatus
from adapter.domain.upstream import Infno
from adapter.store.sql import table
from adapter.store.tables.encounters import EncounterRow
from adapter.store.tables.settlements import SettlementRow
from adapter.store.tables.workflow import service_upload

_encounter = table(EncounterRow)
_settlement = table(SettlementRow)
_CHUNK = 500  # msgids per IN list: well inside every driver's parameter limit
_STREAM = 2_000  # upload rows fetched at a time: months of them in bounded memory


@dataclass(frozen=True)
class UploadRecord:
    """An upstream write a use case queued: its transaction (``infno``), ``msgid`` (the
    queue's idempotency key), job and deadline."""

    encounter_id: str
    settlement_id: str
    infno: str
    msgid: str
    job_id: int
    deadline: datetime
    created_at: datetime


def _upload(row: Any) -> UploadRecord:
    return UploadRecord(
        encounter_id=row.encounter_id,
        settlement_id=row.settlement_id,
        infno=row.infno,
        msgid=row.msgid,
        job_id=row.job_id,
        deadline=row.deadline,
        created_at=row.created_at,
    )


class SettlementUpload(NamedTuple):
    """A settlement's upload with what a clerk needs to find the settlement (a tuple: a scan
    of months of uploads makes many, one by one as they stream)."""

    msgid: str
    infno: str
    settlement_id: str
    encounter_id: str
    settled_at: datetime
    slip_no: str
    psn_no: str


def _settlement_uploads(infnos: Collection[str]) -> Select[Any]:
    return (
        select(
            service_upload.c.msgid,
            service_upload.c.infno,
            service_upload.c.settlement_id,
            service_upload.c.encounter_id,
            _settlement.c.settled_at,
            _settlement.c.slip_no,
            _encounter.c.psn_no,
        )
        .join(_settlement, _settlement.c.id == service_upload.c.settlement_id)
        .join(_encounter, _encounter.c.id == _settlement.c.encounter_id)
        .where(service_upload.c.infno.in_(list(infnos)))
    )


class UploadRepository:
    def __init__(self, session: Session):
        self._session = session

    def add(self, upload: UploadRecord) -> None:
        self._session.execute(
            service_upload.insert().values(
                encounter_id=upload.encounter_id,
                settlement_id=upload.settlement_id,
                infno=upload.infno,
                msgid=upload.msgid,
                job_id=upload.job_id,
                deadline=upload.deadline,
                created_at=upload.created_at,
            )
        )

    def of_encounter(self, encounter_id: str) -> list[UploadRecord]:
        """The encounter's uploads, oldest first."""
        rows = self._session.execute(
            select(service_upload)
            .where(service_upload.c.encounter_id == encounter_id)
            .order_by(service_upload.c.id)
        )
        return [_upload(row) for row in rows]

    def latest(
        self, infno: str, *, settlement_id: str | None = None, encounter_id: str | None = None
    ) -> UploadRecord | None:
        """The newest upload of ``infno`` for the settlement (or the encounter)."""
        statement = select(service_upload).where(service_upload.c.infno == infno)
        if settlement_id is not None:
            statement = statement.where(service_upload.c.settlement_id == settlement_id)
        if encounter_id is not None:
            statement = statement.where(service_upload.c.encounter_id == encounter_id)
        row = self._session.execute(
            statement.order_by(service_upload.c.id.desc()).limit(1)
        ).one_or_none()
        return _upload(row) if row else None

    def encounters_of(self, msgids: list[str]) -> list[str]:
        """The stays the uploads with these msgids belong to (each once)."""
        if not msgids:
            return []
        rows = self._session.execute(
            select(service_upload.c.encounter_id)
            .where(service_upload.c.msgid.in_(msgids))
            .distinct()
        ).scalars()
        return [str(encounter_id) for encounter_id in rows]

    def of_settlements(
        self, infnos: Collection[str], msgids: Sequence[str]
    ) -> list[SettlementUpload]:
        """The uploads of ``infnos`` with these msgids, each with its settlement."""
        found: list[SettlementUpload] = []
        for start in range(0, len(msgids), _CHUNK):
            chunk = list(msgids[start : start + _CHUNK])
            query = _settlement_uploads(infnos).where(service_upload.c.msgid.in_(chunk))
            found += (SettlementUpload._make(row) for row in self._session.execute(query))
        return found

    def of_settlements_since(
        self, infnos: Collection[str], since: datetime
    ) -> Iterator[SettlementUpload]:
        """The uploads of ``infnos`` for settlements made since ``since``: streamed
        (:data:`_STREAM` rows at a time), months of them in bounded memory. Consume it
        inside the unit of work."""
        query = _settlement_uploads(infnos).where(_settlement.c.settled_at >= since)
        make = SettlementUpload._make
        for row in self._session.execute(query.execution_options(yield_per=_STREAM)):
            yield make(row)

    def revocations_of(self, settlement_ids: Collection[str]) -> dict[str, UploadRecord | None]:
        """Of ``settlement_ids``, those revoked, each with its latest revocation upload
        (``WI2305``; ``None``: none was queued). One statement per :data:`_CHUNK` ids: a
        month's differences are one look, not one per settlement."""
        found: dict[str, UploadRecord | None] = {}
        ids = sorted(settlement_ids)
        upload = service_upload.c
        for start in range(0, len(ids), _CHUNK):
            rows = self._session.execute(
                select(_settlement.c.id.label("revoked_id"), service_upload)
                .outerjoin(
                    service_upload,
                    (upload.settlement_id == _settlement.c.id)
                    & (upload.infno == Infno.SETTLEMENT_REVOKE.value),
                )
                .where(
                    _settlement.c.id.in_(ids[start : start + _CHUNK]),
                    _settlement.c.status == SettlementStatus.REVOKED.value,
                )
                .order_by(_settlement.c.id, upload.id)  # the latest last
            )
            for row in rows:
                found[row.revoked_id] = _upload(row) if row.msgid is not None else None
        return found

    def infnos(self, encounter_id: str) -> set[str]:
        """The transactions queued for the encounter."""
        return set(
            self._session.execute(
                select(service_upload.c.infno).where(service_upload.c.encounter_id == encounter_id)
            ).scalars()
        )
