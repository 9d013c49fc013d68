"""The store's SQLModel tables, all on ``SQLModel.metadata``.

The rows are persistence shapes only; the domain keeps its own frozen dataclasses and
:mod:`adapter.store.mapping` converts between the two.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from adapter.store.tables.audit import AuditEntryRow, AuditHeadRow
from adapter.store.tables.catalogue import CatalogueItemRow
from adapter.store.tables.encounters import EncounterRow, FeeLineRow
from adapter.store.tables.parties import (
    FilingDeviceRow,
    FilingRow,
    InstitutionRow,
    PersonRow,
    SuspensionRow,
)
from adapter.store.tables.settlements import (
    ExcludedLineRow,
    SettlementLineRow,
    SettlementRow,
    SlipSequenceRow,
)

metadata = SQLModel.metadata

ROWS: tuple[type[SQLModel], ...] = (
    PersonRow,
    FilingRow,
    FilingDeviceRow,
    SuspensionRow,
    InstitutionRow,
    CatalogueItemRow,
    EncounterRow,
    FeeLineRow,
    SettlementRow,
    SettlementLineRow,
    ExcludedLineRow,
    SlipSequenceRow,
    AuditEntryRow,
    AuditHeadRow,
)
# The tables this package owns (SQLModel.metadata is shared process-wide; scope to these).
TABLE_NAMES = frozenset(str(row.__tablename__) for row in ROWS)

__all__ = [
    "ROWS",
    "TABLE_NAMES",
    "AuditEntryRow",
    "AuditHeadRow",
    "CatalogueItemRow",
    "EncounterRow",
    "ExcludedLineRow",
    "FeeLineRow",
    "FilingDeviceRow",
    "FilingRow",
    "InstitutionRow",
    "PersonRow",
    "SettlementLineRow",
    "SettlementRow",
    "SlipSequenceRow",
    "SuspensionRow",
    "metadata",
]
