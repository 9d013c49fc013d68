"""A manual claim (手工报销) as the use cases hand it out, and the case-from-the-start checks
the fee, device and settlement use cases share (N§38, B§27).

:mod:`.manual_claims` records claims and :mod:`.device_claims` records a device counter's;
both load and store them through :func:`load_claim` and :func:`stored_claim`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from adapter.domain.errors import InvalidTransition, NotFound
from adapter.store.repositories import StoredManualClaim
from adapter.store.uow import UnitOfWork


class ManualClaimReason(StrEnum):
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"  # 网络或上级系统中断
    CARD_FAILURE = "card_failure"  # 社会保障卡故障
    SYSTEM_FAILURE = "system_failure"  # 本机构系统故障

    @property
    def label(self) -> str:
        return {
            "upstream_unavailable": "网络或上级系统中断",
            "card_failure": "社会保障卡故障",
            "system_failure": "本机构系统故障",
        }[self.value]


@dataclass(frozen=True)
class ManualClaim:
    id: str
    encounter_id: str
    reason: ManualClaimReason
    detail: str
    fee_list: dict[str, Any]
    created_at: datetime
    created_by: str
    from_start: bool = False  # recorded at admission because upstream was down
    handed_over_at: datetime | None = None  # the fee list printed and handed to the worker

    @property
    def open_case(self) -> bool:
        """A case from the start whose fee list is not handed over yet: it may still switch
        to direct settlement once upstream answers (N§38, B§27)."""
        return self.from_start and self.handed_over_at is None


CASE_ARTICLE = "N§38, B§27"


def open_case(uow: UnitOfWork, encounter_id: str) -> str:
    """The id of the encounter's manual-claim case from the start not yet handed over, or ""."""
    return uow.manual_claims.open_case(encounter_id)


def refuse_direct_settlement_of_a_case(uow: UnitOfWork, encounter_id: str) -> None:
    """A stay recorded as a manual-claim case is not settled directly until it switched."""
    claim_id = open_case(uow, encounter_id)
    if claim_id:
        raise InvalidTransition(
            "该住院入院时上级系统无法访问，已按手工报销登记（手工报销记录"
            f"{claim_id}）；上级系统恢复后须先核验身份和备案转为直接结算，"
            "或出院时打印费用清单转参保地手工报销（N§38、B§27）",
            code="MANUAL_CLAIM_CASE",
            article=CASE_ARTICLE,
        )


def load_claim(uow: UnitOfWork, claim_id: str) -> ManualClaim:
    """The stored claim, or :class:`NotFound` (in Chinese)."""
    row = uow.manual_claims.get(claim_id)
    if row is None:
        raise NotFound(f"手工报销记录{claim_id}不存在", code="MANUAL_CLAIM_NOT_FOUND")
    return ManualClaim(
        row.id,
        row.encounter_id,
        ManualClaimReason(row.reason),
        row.detail,
        row.fee_list,
        row.created_at,
        row.created_by,
        row.from_start,
        row.handed_over_at,
    )


def stored_claim(claim: ManualClaim) -> StoredManualClaim:
    """The claim as the store keeps it."""
    return StoredManualClaim(
        id=claim.id,
        encounter_id=claim.encounter_id,
        reason=claim.reason.value,
        detail=claim.detail,
        fee_list=claim.fee_list,
        created_at=claim.created_at,
        created_by=claim.created_by,
        from_start=claim.from_start,
        handed_over_at=claim.handed_over_at,
    )
