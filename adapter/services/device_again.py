"""A device fitting entered again at the counter (N§34, B§35; N§38, B§27): what it already is
here, found by its keys (:mod:`.device_keys`) before anything is priced.

* settled, its settlement in force: handed back as it stands (a double click, a retry after a
  lost reply) — :func:`settled_before`;
* settled and revoked since (撤销结算 for a correction): settled again on its own encounter,
  queued behind its revocation — :func:`revoked_before`; the fitting is still the fund's to
  pay, so this is not a replay;
* recorded as a manual-claim case while upstream was down: its settlement if it switched to
  direct settlement, else refused while it is a case or once its fee list was handed over
  (N§38 杜绝重复报销, B§27) — :func:`recorded_as_case`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapter.domain.encounters import EncounterStatus
from adapter.domain.filings import Filing
from adapter.domain.settlement import Settlement
from adapter.services.device_keys import KeyedFitting, case_keys, find_fitting
from adapter.services.device_outage import refuse_recorded_case
from adapter.services.locks import lock_encounter
from adapter.store.repositories import EncounterRecord
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class SettledBefore:
    """The settlement in force of a fitting entered again, and the filing it settled on."""

    settlement: Settlement
    filing: Filing | None


def settled_before(uow: UnitOfWork, institution: str, keys: Sequence[str]) -> SettledBefore | None:
    """The fitting's settlement in force, if it was settled already. A revoked one is never
    handed back as if it stood: settled again (:func:`revoked_before`), or, gone to a manual
    claim since, refused (N§38, B§27)."""
    record = find_fitting(uow, institution, keys)
    if record is None:
        return None
    settlement = uow.settlements.find_active(record.encounter.id)
    if settlement is None:
        if record.encounter.status is EncounterStatus.MANUAL_CLAIM:
            refuse_recorded_case(uow, record.encounter.id)
        return None
    return SettledBefore(settlement, uow.filings.get(record.encounter.filing_no))


def revoked_before(
    uow: UnitOfWork, institution: str, keys: Sequence[str]
) -> EncounterRecord | None:
    """The fitting under ``keys`` whose settlement was revoked, locked: it is settled again on
    the same encounter (REVOKED → SETTLED)."""
    record = find_fitting(uow, institution, keys)
    if record is not None and record.encounter.status is EncounterStatus.REVOKED:
        lock_encounter(uow, record.encounter.id)
        return uow.encounters.get(record.encounter.id)
    return None


def recorded_as_case(
    uow: UnitOfWork, institution: str, request: KeyedFitting
) -> SettledBefore | None:
    """The same fitting recorded as a manual-claim case while upstream was down: its
    settlement if it switched to direct settlement; refused while it is a case, or once its
    fee list was handed over (N§38 杜绝重复报销, B§27). The same items under the same notice
    entered differently are refused after this (:func:`.device_outage.refuse_beside_a_case`)."""
    record = find_fitting(uow, institution, case_keys(request))
    if record is None:
        return None
    settled = settled_before(uow, institution, (record.encounter.his_visit_id,))
    if settled is not None:
        return settled
    refuse_recorded_case(uow, record.encounter.id)
