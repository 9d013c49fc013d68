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
from adapter.store.repositories.monthly import DeviceFundsRepository, StoredFundsReceipt
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
from adapter.store.repositories.workflow import (
    ManualClaimRepository,
    RehabPlan,
    RehabPlanRepository,
    SettleWaitRepository,
    StoredManualClaim,
    UploadRecord,
    UploadRepository,
    WaitingStay,
)

__all__ = [
    "TREATMENT_KINDS",
    "CatalogueRepository",
    "DeviceFundsRepository",
    "EncounterRecord",
    "EncounterRepository",
    "FeeLineRepository",
    "FeeLinesAdded",
    "FilingRepository",
    "InstitutionRepository",
    "LinePrice",
    "ManualClaimRepository",
    "MappingStatus",
    "PersonRepository",
    "RehabPlan",
    "RehabPlanRepository",
    "SettleWaitRepository",
    "SettlementRepository",
    "SettlementSummary",
    "SlipSequence",
    "StoredFeeLine",
    "StoredFundsReceipt",
    "StoredManualClaim",
    "SuspensionRepository",
    "UploadRecord",
    "UploadRepository",
    "WaitingStay",
]
