"""Repositories: one per aggregate, each working inside the unit of work's transaction.

They speak domain objects (frozen dataclasses) in and out; rows never leave the store.
"""

from adapter.store.repositories.catalogue import TREATMENT_KINDS, CatalogueRepository
from adapter.store.repositories.encounters import (
    EncounterRecord,
    EncounterRepository,
    FeeLineRepository,
    FeeLinesAdded,
    LinePrice,
    MappingStatus,
    StoredFeeLine,
)
from adapter.store.repositories.parties import (
    FilingRepository,
    InstitutionRepository,
    PersonRepository,
    SuspensionRepository,
)
from adapter.store.repositories.settlements import (
    SettlementRepository,
    SettlementSummary,
    SlipSequence,
)

__all__ = [
    "TREATMENT_KINDS",
    "CatalogueRepository",
    "EncounterRecord",
    "EncounterRepository",
    "FeeLineRepository",
    "FeeLinesAdded",
    "FilingRepository",
    "InstitutionRepository",
    "LinePrice",
    "MappingStatus",
    "PersonRepository",
    "SettlementRepository",
    "SettlementSummary",
    "SlipSequence",
    "StoredFeeLine",
    "SuspensionRepository",
]
