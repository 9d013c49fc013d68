"""Repositories: one per aggregate, each working inside the unit of work's transaction.

They speak domain objects (frozen dataclasses) in and out; rows never leave the store.
"""

from adapter.store.repositories.catalogue import (
    TREATMENT_KINDS,
    CatalogueRepository,
    CatalogueUpdate,
    CatalogueUpdateRepository,
)
from adapter.store.repositories.encounters import EncounterRecord, EncounterRepository
from adapter.store.repositories.fee_line_rows import LinePrice, MappingStatus, StoredFeeLine
from adapter.store.repositories.fee_lines import FeeLineRepository, FeeLinesAdded, UsedCode
from adapter.store.repositories.fee_totals import FeeTotalsRepository
from adapter.store.repositories.monthly import (
    AuditDeductionRepository,
    DeviceFundsRepository,
    SettledHere,
    StoredFundsReceipt,
)
from adapter.store.repositories.parties import (
    FilingRepository,
    InstitutionRepository,
    PersonRepository,
    SuspensionRepository,
)
from adapter.store.repositories.reconciliation import (
    ReconciliationReport,
    ReconciliationRepository,
    RunInfo,
)
from adapter.store.repositories.settlements import (
    SettlementRepository,
    SettlementSummary,
    SlipSequence,
)
from adapter.store.repositories.uploads import SettlementUpload, UploadRecord, UploadRepository
from adapter.store.repositories.workflow import (
    ManualClaimRepository,
    RehabPlan,
    RehabPlanRepository,
    SettleWaitRepository,
    StoredManualClaim,
    WaitingStay,
)

__all__ = [
    "TREATMENT_KINDS",
    "AuditDeductionRepository",
    "CatalogueRepository",
    "CatalogueUpdate",
    "CatalogueUpdateRepository",
    "DeviceFundsRepository",
    "EncounterRecord",
    "EncounterRepository",
    "FeeLineRepository",
    "FeeLinesAdded",
    "FeeTotalsRepository",
    "FilingRepository",
    "InstitutionRepository",
    "LinePrice",
    "ManualClaimRepository",
    "MappingStatus",
    "PersonRepository",
    "ReconciliationReport",
    "ReconciliationRepository",
    "RehabPlan",
    "RehabPlanRepository",
    "RunInfo",
    "SettleWaitRepository",
    "SettledHere",
    "SettlementRepository",
    "SettlementSummary",
    "SettlementUpload",
    "SlipSequence",
    "StoredFeeLine",
    "StoredFundsReceipt",
    "StoredManualClaim",
    "SuspensionRepository",
    "UploadRecord",
    "UploadRepository",
    "UsedCode",
    "WaitingStay",
]
