"""Which stay a HIS visit number names, and whether a request may take it for its own.

The HIS names a stay by its visit number (PV1-19, ``his_visit_id``), unique within the
institution. A HIS that counts visits per patient reuses numbers, and a cancelled admission
keeps its number: a request under a number is checked against the stay it finds, so another
worker's stay is never charged, moved, settled or answered as admitted (N§33).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NoReturn

from adapter.domain.commands import Admit
from adapter.domain.encounters import Encounter, EncounterStatus
from adapter.domain.errors import Conflict, InvalidTransition
from adapter.domain.people import CardData, same_identity
from adapter.services.identity import unverified_psn_no
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
    if not citizen_id.strip():
        return
    cached = uow.persons.citizen_id(stay.psn_no)
    if cached is not None and same_identity(cached, citizen_id) is False:
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


def require_same_admission(
    uow: UnitOfWork, stay: Encounter, command: Admit, wall_time: Callable[[datetime], str]
) -> None:
    """Refuse an admission under ``stay``'s visit number that is another admission: another
    worker as far as the card and the worker last seen tell (upstream is not asked), another
    kind or admission time (``VISIT_ID_REUSED``, naming what differs)."""
    differs = []
    if not _same_worker(uow, stay, command.card):
        differs.append("工伤职工不同（卡号或身份证号与原登记不符）")
    if command.kind is not stay.kind:
        differs.append(f"就诊类型不同（原为{stay.kind.label}，本次为{command.kind.label}）")
    if command.admitted_at != stay.admitted_at:
        was, now = wall_time(stay.admitted_at), wall_time(command.admitted_at)
        differs.append(f"入院时间不同（原为{was}，本次为{now}）")
    if differs:
        raise Conflict(
            f"HIS住院号{command.his_visit_id}已用于另一次入院登记（就诊编号{stay.id}）："
            f"{'；'.join(differs)}。同一就诊号不能改记另一次入院；如原登记有误，"
            "请先取消原入院登记，再以新的就诊号登记",
            code="VISIT_ID_REUSED",
            article="N§33, B§28",
            field="his_visit_id",
        )


def _same_worker(uow: UnitOfWork, stay: Encounter, card: CardData) -> bool:
    """Whether ``card`` may be the card of ``stay``'s worker: its citizen ID, else its card
    number, against the worker as last seen (a QR token names no one before upstream is
    asked, and passes)."""
    if stay.psn_no.startswith("?"):  # admitted while upstream was down: the card's own key
        key = unverified_psn_no(card)[1:]  # a stay kept before 0015 has the number as typed
        return not (card.citizen_id or card.card_no) or same_identity(stay.psn_no[1:], key) is True
    person = uow.persons.get(stay.psn_no)
    if person is None:
        return True
    same = same_identity(card.citizen_id, person.citizen_id)
    if same is not None:
        return same
    if card.card_no and person.card_no:
        return same_identity(card.card_no, person.card_no) is not False
    return True
