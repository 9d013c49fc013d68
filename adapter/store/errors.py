"""Codes of the errors the store raises, all as :class:`~adapter.domain.errors.DomainError`
(or :class:`~adapter.domain.errors.NotFound`) with a Chinese message a clerk can act on.

Database errors (``IntegrityError``) that mean a business conflict are translated here, at
the edge that meets them; anything else propagates unchanged.
"""

from __future__ import annotations

from adapter.domain.errors import Conflict, DomainError

VERSION_CONFLICT = "VERSION_CONFLICT"
ENCOUNTER_DUPLICATE = "ENCOUNTER_DUPLICATE"
OPEN_STAY_EXISTS = "OPEN_STAY_EXISTS"
SETTLEMENT_DUPLICATE = "SETTLEMENT_DUPLICATE"
SETTLEMENT_NOT_ACTIVE = "SETTLEMENT_NOT_ACTIVE"
SLIP_NO_DUPLICATE = "SLIP_NO_DUPLICATE"


def version_conflict(encounter_id: str) -> Conflict:
    return Conflict(
        f"就诊{encounter_id}已被他人修改，请刷新后重试",
        code=VERSION_CONFLICT,
    )


def encounter_duplicate(institution_code: str, his_visit_id: str) -> Conflict:
    return Conflict(
        f"本机构HIS就诊号{his_visit_id}已办理入院登记，不能重复登记",
        code=ENCOUNTER_DUPLICATE,
    )


def open_stay_exists(psn_no: str, kind: str) -> Conflict:
    """Raised when the database's one-open-stay index refused a second admission."""
    return Conflict(
        f"该工伤职工（人员编号{psn_no}）在本机构已有未结束的{kind}住院，不能重复入院登记",
        code=OPEN_STAY_EXISTS,
    )


def settlement_duplicate(encounter_id: str) -> Conflict:
    return Conflict(
        f"就诊{encounter_id}已有有效结算，不能重复结算；如需重新结算请先撤销原结算",
        code=SETTLEMENT_DUPLICATE,
    )


def slip_no_duplicate(slip_no: str) -> Conflict:
    return Conflict(f"结算单号{slip_no}已被使用，请重试", code=SLIP_NO_DUPLICATE)


def settlement_not_active(settlement_id: str) -> DomainError:
    return DomainError(f"结算{settlement_id}不是有效结算，不能撤销", code=SETTLEMENT_NOT_ACTIVE)
