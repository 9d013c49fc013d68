"""The adapter's tables, all on one ``MetaData``: :data:`metadata` (``SQLModel.metadata``).

Importing this package registers every one of them; the migrations (``env.py``) import it.

* The domain's records are SQLModel rows (``parties``, ``catalogue``, ``encounters``,
  ``settlements``, ``audit``), persistence shapes only: the domain keeps its own frozen
  dataclasses and :mod:`adapter.store.mapping` converts between the two.
* API tokens: ``tokens`` (an SQLModel row).
* What only the workflows need (uploads of an encounter, rehab plans, manual claims, stays
  waiting for upstream): Core tables in ``workflow``.
* The monthly work (reconciliation, audit deductions, device funds, catalogue updates,
  scheduled runs): Core tables in ``monthly``.
* The web face's users, sessions and sign-in throttle: Core tables in ``web``.

The upload queue, the HL7 message log and the upstream call log own their tables, each on
its package's own ``MetaData``.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from adapter.store.tables import monthly, web, workflow
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
from adapter.store.tables.tokens import ApiTokenRow

metadata = SQLModel.metadata

__all__ = [
    "ApiTokenRow",
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
    "monthly",
    "web",
    "workflow",
]
