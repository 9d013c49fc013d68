"""The encounter: one inpatient stay (medical or rehab) or one device fitting, and its states.

    admitted ──settle──▶ settled ──revoke──▶ revoked ──settle──▶ settled (re-settlement)
       │                                         │
       ├──cancel──▶ cancelled                    └──manual claim──▶ manual_claim
       └──manual claim──▶ manual_claim

A manual claim is final: once the fees go back to the insured place for manual
reimbursement, the encounter can never be settled directly (N§38, B§27).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from adapter.domain.errors import InvalidTransition


class EncounterKind(StrEnum):
    MEDICAL = "medical"  # 住院工伤医疗
    REHAB = "rehab"  # 住院工伤康复
    DEVICE = "device"  # 辅助器具配置

    @property
    def label(self) -> str:
        return {"medical": "住院工伤医疗", "rehab": "住院工伤康复", "device": "辅助器具配置"}[
            self.value
        ]


class EncounterStatus(StrEnum):
    ADMITTED = "admitted"
    SETTLED = "settled"
    REVOKED = "revoked"
    CANCELLED = "cancelled"
    MANUAL_CLAIM = "manual_claim"

    @property
    def label(self) -> str:
        return {
            "admitted": "在院",
            "settled": "已结算",
            "revoked": "结算已撤销",
            "cancelled": "入院已取消",
            "manual_claim": "转手工报销",
        }[self.value]


TRANSITIONS: dict[EncounterStatus, frozenset[EncounterStatus]] = {
    EncounterStatus.ADMITTED: frozenset(
        {EncounterStatus.SETTLED, EncounterStatus.CANCELLED, EncounterStatus.MANUAL_CLAIM}
    ),
    EncounterStatus.SETTLED: frozenset({EncounterStatus.REVOKED}),
    EncounterStatus.REVOKED: frozenset({EncounterStatus.SETTLED, EncounterStatus.MANUAL_CLAIM}),
    EncounterStatus.CANCELLED: frozenset(),
    EncounterStatus.MANUAL_CLAIM: frozenset(),
}

_REFUSALS = {
    EncounterStatus.SETTLED: "该就诊已结算，如需重新结算请先撤销结算",
    EncounterStatus.CANCELLED: "该入院登记已取消",
    EncounterStatus.MANUAL_CLAIM: (
        "该就诊已转参保地手工报销，不能再直接结算（N§38、B§27，杜绝重复报销）"
    ),
}


@dataclass(frozen=True)
class Encounter:
    id: str
    kind: EncounterKind
    psn_no: str
    filing_no: str
    institution_code: str
    his_visit_id: str
    admitted_at: datetime
    status: EncounterStatus = EncounterStatus.ADMITTED
    insured_admdvs: str = ""
    department: str = ""
    diagnoses: tuple[str, ...] = ()
    injury_parts: tuple[str, ...] = ()
    discharged_at: datetime | None = None

    def can_become(self, target: EncounterStatus) -> bool:
        return target in TRANSITIONS[self.status]

    def moved_to(self, target: EncounterStatus, **changes: Any) -> Encounter:
        """The encounter in ``target`` state, or :class:`InvalidTransition` in Chinese."""
        if not self.can_become(target):
            reason = _REFUSALS.get(
                self.status, f"就诊状态为“{self.status.label}”，不能变为“{target.label}”"
            )
            article = "N§38, B§27" if self.status is EncounterStatus.MANUAL_CLAIM else None
            raise InvalidTransition(reason, article=article)
        return replace(self, status=target, **changes)
