"""The unit of work: one database transaction per use case (cosmicpython's pattern).

::

    with UnitOfWork(engine) as uow:
        record = uow.encounters.get(encounter_id)
        ...
        uow.settlements.add(settlement)
        enqueue(uow.session, ...)          # the upload job joins the same transaction
        uow.audit.append(actor=..., action="settle", ...)
        uow.commit()

Nothing is written unless :meth:`UnitOfWork.commit` is called; leaving the block without it,
or by an exception, rolls everything back. A unit of work is used once.

Inside :func:`adapter.store.db.one_transaction` (several HL7 messages committed together) a
unit of work joins that transaction in a savepoint: its commit releases the savepoint, its
rollback undoes its own writes only, and what it wrote is durable with the joined commit.

``immediate=True`` begins the transaction with ``BEGIN IMMEDIATE`` on SQLite, taking the write
lock before the first read. Use it for use cases that read then write (settle, revoke): under
SQLite's default deferred mode a transaction that read first may find, when it tries to write,
that another writer committed in between, and fail with "database is locked". PostgreSQL
needs no such option (row locks and constraints serialise the writers); it is ignored there.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from adapter.domain.ports import Clock
from adapter.store.audit import AuditLog
from adapter.store.db import Savepoint, immediate, is_sqlite, joined_transaction
from adapter.store.repositories import (
    AuditDeductionRepository,
    CatalogueRepository,
    CatalogueUpdateRepository,
    DeviceFundsRepository,
    EncounterRepository,
    FeeLineRepository,
    FeeTotalsRepository,
    FilingRepository,
    InstitutionRepository,
    ManualClaimRepository,
    PersonRepository,
    ReconciliationRepository,
    RehabPlanRepository,
    SettlementRepository,
    SettleWaitRepository,
    SlipSequence,
    SuspensionRepository,
    UploadRepository,
)
from adapter.store.sql import SystemClock


class UnitOfWork:
    """One transaction, its repositories, and the session other packages may write through."""

    session: Session
    encounters: EncounterRepository
    fee_lines: FeeLineRepository
    fee_totals: FeeTotalsRepository
    settlements: SettlementRepository
    slips: SlipSequence
    persons: PersonRepository
    filings: FilingRepository
    suspensions: SuspensionRepository
    institutions: InstitutionRepository
    catalogue: CatalogueRepository
    catalogue_updates: CatalogueUpdateRepository
    uploads: UploadRepository
    rehab_plans: RehabPlanRepository
    manual_claims: ManualClaimRepository
    settle_waits: SettleWaitRepository
    device_funds: DeviceFundsRepository
    audit_deductions: AuditDeductionRepository
    reconciliations: ReconciliationRepository
    audit: AuditLog

    def __init__(self, engine: Engine, *, immediate: bool = False, clock: Clock | None = None):
        self._engine = engine
        self._immediate = immediate
        self.clock: Clock = clock or SystemClock()
        self._state = "new"

    def __enter__(self) -> UnitOfWork:
        if self._state != "new":
            raise RuntimeError("a UnitOfWork is used once; make a new one")
        # expire_on_commit=False: objects stay readable after commit; the repositories use
        # Core statements, so there is no identity map to go stale anyway.
        joined = joined_transaction(self._engine)
        self._savepoint: Savepoint | None = None
        if joined is not None:  # already holds the write lock
            self._savepoint = Savepoint(joined)
            # The session never commits or closes the joined transaction; the savepoint is
            # this unit's commit and rollback.
            self.session = Session(
                bind=joined, expire_on_commit=False, join_transaction_mode="rollback_only"
            )
        else:
            bind = self._engine
            if self._immediate and is_sqlite(bind):
                bind = immediate(bind)
            self.session = Session(bind=bind, expire_on_commit=False)
        self.session.connection()  # begin now, so an IMMEDIATE lock is held from the start
        self._state = "open"
        clock = self.clock
        self.encounters = EncounterRepository(self.session, clock)
        self.fee_lines = FeeLineRepository(self.session, clock)
        self.fee_totals = FeeTotalsRepository(self.session)
        self.settlements = SettlementRepository(self.session)
        self.slips = SlipSequence(self.session)
        self.persons = PersonRepository(self.session, clock)
        self.filings = FilingRepository(self.session, clock)
        self.suspensions = SuspensionRepository(self.session, clock)
        self.institutions = InstitutionRepository(self.session, clock)
        self.catalogue = CatalogueRepository(self.session, clock)
        self.catalogue_updates = CatalogueUpdateRepository(self.session)
        self.uploads = UploadRepository(self.session)
        self.rehab_plans = RehabPlanRepository(self.session)
        self.manual_claims = ManualClaimRepository(self.session)
        self.settle_waits = SettleWaitRepository(self.session)
        self.device_funds = DeviceFundsRepository(self.session)
        self.audit_deductions = AuditDeductionRepository(self.session)
        self.reconciliations = ReconciliationRepository(self.session)
        # The key is read, on first use, through the plain engine: a read through ``bind``
        # would ask SQLite for the write lock this unit of work may already hold.
        self.audit = AuditLog(self.session, clock, key_source=self._engine)
        return self

    @property
    def connection(self) -> Connection:
        """The transaction's connection (for Core callers such as the upload queue)."""
        return self.session.connection()

    def commit(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"cannot commit a unit of work that is {self._state}")
        if self._savepoint is not None:
            self._savepoint.release()
        else:
            self.session.commit()
        self._state = "committed"

    def rollback(self) -> None:
        if self._state == "open":
            if self._savepoint is not None:
                self._savepoint.rollback()
            else:
                self.session.rollback()
            self._state = "rolled back"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.session.close()
            if self._state == "open":
                self._state = "closed"
