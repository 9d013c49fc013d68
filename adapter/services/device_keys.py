"""A device fitting's key: its stand-in for an HIS visit number (same fitting, same key), and
the forms earlier versions of the adapter stored it in.

The key hashes the worker, the notice, the fitting time and each item's cost. Earlier versions
hashed the notice as typed (before it was keyed as compared, :func:`.notice_key`) and, earlier
still, each cost as typed (``1500`` and ``1500.00`` apart). A fitting stored under such a key
and entered again after the upgrade must still be that fitting — else it reads as a
replacement inside the minimum years, and, confirmed, the worker pays the item a second time
(N§34, B§35); a case recorded while upstream was down would be recorded twice, two fee lists
for the insured place to reimburse (N§38, B§27). A hash cannot be rewritten into the new form
by a migration (the typed notice is not kept), so lookups try the earlier forms too
(:func:`fitting_keys`); a new fitting is always stored under :func:`fitting_key`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from adapter.domain.devices import DeviceItem
from adapter.domain.filings import notice_key
from adapter.domain.money import FEN, is_fen
from adapter.domain.people import CardData, Person
from adapter.services.identity import unverified_psn_no
from adapter.store.repositories import EncounterRecord
from adapter.store.uow import UnitOfWork


class KeyedFitting(Protocol):
    """What the key is made of: the fitting module's request (which imports this module)."""

    @property
    def card(self) -> CardData: ...
    @property
    def approval_notice_no(self) -> str: ...
    @property
    def items(self) -> tuple[DeviceItem, ...]: ...
    @property
    def fitted_at(self) -> datetime: ...


def _hashed(psn_no: str, notice: str, request: KeyedFitting, costs: Sequence[str]) -> str:
    parts = [psn_no, notice, request.fitted_at.isoformat()]
    parts += [f"{i.device_code}:{c}" for i, c in zip(request.items, costs, strict=True)]
    return "DEV" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:28].upper()


def _keyed(cost: Decimal) -> str:
    """Equal amounts are one amount (1500 and 1500.00): a cost is keyed to the fen. A cost
    finer than the fen is keyed as written, so it is refused by pricing instead of rounded
    into a replay."""
    return str(cost.quantize(FEN)) if cost.is_finite() and is_fen(cost) else str(cost)


def fitting_key(psn_no: str, request: KeyedFitting) -> str:
    """The key a fitting is stored under. The notice is keyed as compared
    (:func:`.notice_key`): 〔2026〕 and （２０２６） are one; each cost to the fen."""
    costs = [_keyed(i.actual_cost) for i in request.items]
    return _hashed(psn_no, notice_key(request.approval_notice_no), request, costs)


def fitting_keys(psn_no: str, request: KeyedFitting, filed_notice: str = "") -> tuple[str, ...]:
    """The keys the fitting may be stored under: :func:`fitting_key` first, then the earlier
    forms — the notice as typed now and, when known, as the filing has it (what the counter
    typed or scanned then), each with the costs to the fen and as typed."""
    found = [fitting_key(psn_no, request)]
    to_fen = [_keyed(i.actual_cost) for i in request.items]
    as_typed = [str(i.actual_cost) for i in request.items]
    for notice in dict.fromkeys(n.strip() for n in (request.approval_notice_no, filed_notice)):
        if notice:
            found += [_hashed(psn_no, notice, request, costs) for costs in (to_fen, as_typed)]
    return tuple(dict.fromkeys(found))


def case_key(request: KeyedFitting) -> str:
    """The key of the fitting recorded as a manual-claim case while upstream was down: from
    the card alone, since upstream could not say who the worker is."""
    return fitting_key(unverified_psn_no(request.card), request)


def case_keys(request: KeyedFitting) -> tuple[str, ...]:
    """:func:`case_key` and its earlier forms (:func:`fitting_keys`), also from the card's
    number as typed: a case recorded before numbers were folded (migration 0015) was keyed
    so, and its resend must still find it rather than record it twice."""
    card = request.card
    typed = f"?{card.citizen_id or card.card_no or card.qr_token[:40]}"[:64]
    folded = fitting_keys(unverified_psn_no(card), request)
    return tuple(dict.fromkeys(folded + fitting_keys(typed, request)))


def find_fitting(
    uow: UnitOfWork, institution_code: str, keys: Iterable[str]
) -> EncounterRecord | None:
    """The fitting stored at the institution under the first of ``keys`` that has one."""
    for key in keys:
        record = uow.encounters.find_by_visit(institution_code, key)
        if record is not None:
            return record
    return None


def case_psn_nos(person: Person, card: CardData) -> tuple[str, ...]:
    """Whom a manual-claim case of this worker may be recorded under: the checked number (a
    worker seen before), or the stand-in of the card shown then — this card, or the
    worker's known citizen id or card number (:func:`unverified_psn_no`)."""
    found = [person.psn_no, unverified_psn_no(card)]
    for number in (person.citizen_id, person.card_no):
        if number:
            found.append(f"?{number}"[:64])
    return tuple(dict.fromkeys(found))
