"""People, filings, suspensions and institutions, as last seen upstream.

Upstream is the truth for all of these; the store keeps the latest copy so that discharge,
the slip and reconciliation can show what was checked. Each ``upsert`` replaces the stored
copy wholesale (a filing's device list included).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from sqlalchemy import ColumnElement, Table, bindparam, delete, select
from sqlalchemy.orm import Session

from adapter.domain.filings import Filing, FilingPurpose, same_notice
from adapter.domain.institutions import Institution
from adapter.domain.people import Person, Suspension, identity_key
from adapter.domain.ports import Clock
from adapter.hot_sql import HotStatement
from adapter.store.mapping import (
    filing_device_rows,
    filing_of,
    filing_row,
    institution_of,
    institution_row,
    person_of,
    person_row,
    suspension_of,
)
from adapter.store.sql import table, upsert
from adapter.store.tables import (
    FilingDeviceRow,
    FilingRow,
    InstitutionRow,
    PersonRow,
    SuspensionRow,
)

_person = table(PersonRow)
_filing = table(FilingRow)
_device = table(FilingDeviceRow)
_suspension = table(SuspensionRow)
_institution = table(InstitutionRow)

# every HL7 message naming a stay's worker is checked against it (services.visits)
_CITIZEN_ID = HotStatement(
    select(_person.c.citizen_id).where(_person.c.psn_no == bindparam("b_psn_no"))
)


def _upsert(session: Session, target: Table, key: list[str], values: dict[str, object]) -> None:
    statement = upsert(session, target).values(values)
    changes = {name: statement.excluded[name] for name in values if name not in key}
    session.execute(statement.on_conflict_do_update(index_elements=key, set_=changes))


class PersonRepository:
    def __init__(self, session: Session, clock: Clock):
        self._session = session
        self._clock = clock

    def upsert(self, person: Person) -> None:
        _upsert(self._session, _person, ["psn_no"], person_row(person, self._clock.now()))

    def get(self, psn_no: str) -> Person | None:
        row = self._session.execute(select(_person).where(_person.c.psn_no == psn_no)).one_or_none()
        return person_of(row) if row else None

    def citizen_id(self, psn_no: str) -> str | None:
        """The worker's citizen ID as cached, ``None`` if the worker is not."""
        row = _CITIZEN_ID.one_or_none(self._session, {"b_psn_no": psn_no})
        return row.citizen_id if row else None

    def find_by_citizen_id(self, citizen_id: str) -> list[Person]:
        rows = self._session.execute(
            select(_person)
            .where(_person.c.citizen_id == identity_key(citizen_id))
            .order_by(_person.c.psn_no)
        )
        return [person_of(row) for row in rows]

    def find_by_card(self, numbers: Collection[str]) -> list[Person]:
        """The workers whose citizen id or card number is one of ``numbers`` (what a card
        shown without upstream carries), by psn_no."""
        wanted = [key for key in (identity_key(n) for n in numbers) if key]
        if not wanted:
            return []
        rows = self._session.execute(
            select(_person)
            .where(_person.c.citizen_id.in_(wanted) | _person.c.card_no.in_(wanted))
            .order_by(_person.c.psn_no)
        )
        return [person_of(row) for row in rows]


class FilingRepository:
    def __init__(self, session: Session, clock: Clock):
        self._session = session
        self._clock = clock

    def upsert(self, filings: Iterable[Filing]) -> None:
        """Store each filing as upstream returned it, replacing its devices."""
        now = self._clock.now()
        for filing in filings:
            _upsert(self._session, _filing, ["filing_no"], filing_row(filing, now))
            self._session.execute(delete(_device).where(_device.c.filing_no == filing.filing_no))
            devices = filing_device_rows(filing)
            if devices:
                self._session.execute(_device.insert(), devices)

    def get(self, filing_no: str) -> Filing | None:
        found = self._load(_filing.c.filing_no == filing_no)
        return found[0] if found else None

    def for_person(self, psn_no: str) -> list[Filing]:
        """Every stored filing of the worker (all statuses), by validity start then number."""
        return self._load(_filing.c.psn_no == psn_no)

    def holders_of_notice(self, notice: str) -> list[str]:
        """The workers whose stored device filing carries the payment approval notice
        ``notice`` as compared (:func:`same_notice`: brackets, widths and spaces aside): the
        insured place issues a notice on one worker's filing, so it names the worker where a
        card the store never saw cannot (N§34, B§34)."""
        rows = self._session.execute(
            select(_filing.c.psn_no, _filing.c.approval_notice_no).where(
                _filing.c.purpose == FilingPurpose.DEVICE.value,
                _filing.c.approval_notice_no != "",
            )
        )
        return list(dict.fromkeys(p for p, filed in rows if same_notice(notice, filed)))

    def _load(self, condition: ColumnElement[bool]) -> list[Filing]:
        rows = list(
            self._session.execute(
                select(_filing).where(condition).order_by(_filing.c.valid_from, _filing.c.filing_no)
            )
        )
        if not rows:
            return []
        devices = defaultdict(list)
        numbers = [row.filing_no for row in rows]
        for device in self._session.execute(
            select(_device).where(_device.c.filing_no.in_(numbers))
        ):
            devices[device.filing_no].append(device)
        return [filing_of(row, devices[row.filing_no]) for row in rows]


class SuspensionRepository:
    def __init__(self, session: Session, clock: Clock):
        self._session = session
        self._clock = clock

    def replace_for(self, psn_no: str, suspensions: Iterable[Suspension]) -> None:
        """Upstream's current list for the worker replaces the stored one (an empty list
        lifts every suspension)."""
        now = self._clock.now()
        self._session.execute(delete(_suspension).where(_suspension.c.psn_no == psn_no))
        rows = [
            {
                "psn_no": psn_no,
                "since": s.since,
                "until": s.until,
                "reason": s.reason,
                "seen_at": now,
            }
            for s in suspensions
        ]
        if rows:
            self._session.execute(_suspension.insert(), rows)

    def for_person(self, psn_no: str) -> list[Suspension]:
        rows = self._session.execute(
            select(_suspension)
            .where(_suspension.c.psn_no == psn_no)
            .order_by(_suspension.c.since, _suspension.c.id)
        )
        return [suspension_of(row) for row in rows]


class InstitutionRepository:
    def __init__(self, session: Session, clock: Clock):
        self._session = session
        self._clock = clock

    def upsert(self, institution: Institution) -> None:
        values = institution_row(institution, self._clock.now())
        _upsert(self._session, _institution, ["code"], values)

    def get(self, code: str) -> Institution | None:
        row = self._session.execute(
            select(_institution).where(_institution.c.code == code)
        ).one_or_none()
        return institution_of(row) if row else None
