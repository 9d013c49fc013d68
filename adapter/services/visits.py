"""Which stay a HIS visit number names, and whether a request may take it for its own.

The HIS names a stay by its visit number (PV1-19, ``his_visit_id``), unique within the
institution. A HIS that counts visits per patient reuses numbers, and a cancelled admission
keeps its number: a request under a number is checked against the stay it finds, so another
worker's stay is never charged, moved, settled or answered as admitted (N§33).
"""

from __future__ import annotations

from typing import NoReturn

from adapter.domain.encounters import Encounter, EncounterStatus
from adapter.domain.errors import Conflict, InvalidTransition
from adapter.store.uow import UnitOfWork


def _another_worker(stay: Encounter) -> NoReturn:
    """The visit number is the stay of another worker than the one the request names:
    admitting under it would register nobody, changing the stay would charge, move or settle
    the wrong worker (N§33)."""
    raise Conflict(
        f"HIS住院号{stay.his_visit_id}是另一名工伤职工的住院（就诊编号{stay.id}），"
        "与本次提交的职工身份证号不符，未处理；请核对住院号与患者身份",
        code="VISIT_OF_ANOTHER_WORKER",
        article="N§33",
        field="his_visit_id",
    )


def require_worker(uow: UnitOfWork, stay: Encounter, citizen_id: str) -> None:
    """Refuse a request naming ``stay`` by its visit number and, by ``citizen_id``, another
    worker than the one cached at its admission ('' names nobody: nothing to compare)."""
    if not citizen_id:
        return
    person = uow.persons.get(stay.psn_no)
    if person is not None and person.citizen_id and person.citizen_id.upper() != citizen_id.upper():
        _another_worker(stay)


def require_resend(uow: UnitOfWork, stay: Encounter, citizen_id: str, psn_no: str = "") -> None:
    """An admission under ``stay``'s visit number is its resend only when it is the same
    worker's — the same person upstream (``psn_no``, once known), else the same citizen ID —
    and the stay was not cancelled since: an admission under a cancelled visit is a new one,
    which the visit number cannot hold."""
    if psn_no and psn_no != stay.psn_no:
        _another_worker(stay)
    require_worker(uow, stay, citizen_id)
    if stay.status is EncounterStatus.CANCELLED:
        raise InvalidTransition(
            f"HIS住院号{stay.his_visit_id}的入院登记已取消（就诊编号{stay.id}），"
            "不能再次登记；重新入院请使用新的住院号",
            code="VISIT_CANCELLED",
            article="N§33",
            field="his_visit_id",
        )
