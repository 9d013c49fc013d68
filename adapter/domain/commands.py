"""What the HIS and the clerks ask the adapter to do, whichever way they ask (REST or HL7).

Both faces translate their input into these commands and hand them to one
:class:`EncounterCommands` implementation (the services), so a stay admitted over HL7 and
one admitted over REST go through exactly the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from adapter.domain.encounters import EncounterKind
from adapter.domain.fees import FeeLine
from adapter.domain.people import CardData
from adapter.domain.rules import Finding


@dataclass(frozen=True)
class Diagnosis:
    code: str  # ICD-10
    name: str = ""


@dataclass(frozen=True)
class Admit:
    """入院登记 (N§33, B§28): REST ``POST /encounters``, HL7 ``ADT^A01``."""

    card: CardData
    his_visit_id: str
    kind: EncounterKind
    admitted_at: datetime
    diagnoses: tuple[Diagnosis, ...] = ()
    injury_parts: tuple[str, ...] = ()
    department: str = ""
    his_patient_id: str = ""
    patient_name: str = ""


@dataclass(frozen=True)
class UpdateVisit:
    """Patient/visit data changed in the HIS (HL7 ``ADT^A08``); only the given fields change."""

    his_visit_id: str
    department: str | None = None
    diagnoses: tuple[Diagnosis, ...] | None = None
    injury_parts: tuple[str, ...] | None = None
    patient_name: str | None = None


@dataclass(frozen=True)
class RecordFees:
    """费用明细: REST ``POST …/fees``, HL7 ``DFT^P03``. Repeated line ids are ignored."""

    his_visit_id: str
    lines: tuple[FeeLine, ...]


@dataclass(frozen=True)
class Discharge:
    """出院 (HL7 ``ADT^A03``, REST ``…/settle``): check again and settle, or mark ready."""

    his_visit_id: str
    discharged_at: datetime
    discharge_diagnoses: tuple[Diagnosis, ...] = ()
    settle_now: bool = True


@dataclass(frozen=True)
class CancelAdmission:
    """取消入院 (HL7 ``ADT^A11``): only an admission without a settlement."""

    his_visit_id: str
    reason: str = ""


@dataclass(frozen=True)
class CancelDischarge:
    """取消出院 (HL7 ``ADT^A13``): revoke the discharge's settlement."""

    his_visit_id: str
    reason: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a command did: the encounter it touched and anything worth telling the sender."""

    encounter_id: str
    status: str
    settlement_id: str = ""
    slip_no: str = ""
    warnings: tuple[Finding, ...] = field(default=())
    ignored_line_ids: tuple[str, ...] = ()
    replayed: bool = False  # the same request had already been done; nothing changed


class EncounterCommands(Protocol):
    """The use cases the HIS drives. Business refusals raise ``DomainError`` subclasses
    (``EligibilityRefused`` carries every reason); bad input raises ``InvalidMessage``."""

    def admit(self, command: Admit, *, actor: str) -> Outcome: ...

    def update_visit(self, command: UpdateVisit, *, actor: str) -> Outcome: ...

    def record_fees(self, command: RecordFees, *, actor: str) -> Outcome: ...

    def discharge(self, command: Discharge, *, actor: str) -> Outcome: ...

    def cancel_admission(self, command: CancelAdmission, *, actor: str) -> Outcome: ...

    def cancel_discharge(self, command: CancelDischarge, *, actor: str) -> Outcome: ...
