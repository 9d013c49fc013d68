"""What the HIS and the clerks ask the adapter to do, whichever way they ask (REST or HL7).

Both faces translate their input into these commands and hand them to one
:class:`EncounterCommands` implementation (``adapter/services/commands.py``), so a stay driven
over HL7 and one driven over REST meet the same rules, the same replays and the same warnings.
The faces keep only what is theirs: parsing, who may ask (roles), and how an answer is
written (an ACK, a JSON body and a status code).

Each face names a stay its own way: HL7 by the HIS visit number (PV1-19), REST by the
encounter id in the path. A command carries ``his_visit_id`` and, when REST sends it,
``encounter_id``, which then wins. A command naming the stay by its visit number may also
name its worker (``citizen_id``, HL7 PID-3 ``NI``): a stay of another worker is then refused,
never changed (a HIS counting visits per patient reuses visit numbers).

A request sent again (a lost ACK, a lost HTTP answer, a double click) is recognised by what
it asks, on both faces alike, changes nothing and answers ``replayed``: the same visit
admitted again; a fee batch whose every line id is already stored; a discharge of a stay
settled with the same discharge time (and diagnoses, when given); a cancellation of one
already cancelled; a revocation of a settlement already revoked. A request that differs
(another discharge time for a settled stay) is refused, never silently taken as a resend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from adapter.domain.encounters import Encounter, EncounterKind
from adapter.domain.fees import FeeLine
from adapter.domain.people import CardData
from adapter.domain.ports import QueuedUpload
from adapter.domain.rules import Finding
from adapter.domain.settlement import Settlement


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
    # upstream down: record the stay as a manual-claim case (N§38, B§27) instead of refusing
    # it; only a desk chooses so (REST), the HIS never does
    manual_claim_if_upstream_down: bool = False


@dataclass(frozen=True)
class UpdateVisit:
    """Patient/visit data changed in the HIS (HL7 ``ADT^A08``); only the given fields change."""

    his_visit_id: str
    department: str | None = None
    citizen_id: str = ""  # the worker the HIS names (PID-3 NI); '' = not said
    diagnoses: tuple[Diagnosis, ...] | None = None
    kind: EncounterKind | None = None  # said again (ZWI-5): must be the stay's, never changes
    injury_parts: tuple[str, ...] | None = None
    patient_name: str | None = None


@dataclass(frozen=True)
class RecordFees:
    """费用明细: REST ``POST …/fees``, HL7 ``DFT^P03``. Repeated line ids are ignored."""

    his_visit_id: str
    lines: tuple[FeeLine, ...]
    encounter_id: str = ""
    citizen_id: str = ""  # the worker the HIS names (PID-3 NI); '' = not said


@dataclass(frozen=True)
class Discharge:
    """出院 (HL7 ``ADT^A03``, REST ``…/settle``): check again and settle, or mark ready."""

    his_visit_id: str
    discharged_at: datetime
    discharge_diagnoses: tuple[Diagnosis, ...] = ()
    settle_now: bool = True
    encounter_id: str = ""
    card: CardData | None = None  # the card shown again at discharge, if the desk reads it
    rehab_override_reason: str = ""  # a billing supervisor's reason (N§33 "原则上")
    show_lines: int = 0  # the settlement's first lines the answer shows (its bill is summed)
    citizen_id: str = ""  # the worker the HIS names (PID-3 NI); '' = not said


@dataclass(frozen=True)
class CancelAdmission:
    """取消入院 (HL7 ``ADT^A11``, REST ``…/cancel``): only an admission without a settlement."""

    his_visit_id: str
    reason: str = ""
    encounter_id: str = ""
    citizen_id: str = ""  # the worker the HIS names (PID-3 NI); '' = not said


@dataclass(frozen=True)
class CancelDischarge:
    """取消出院 (HL7 ``ADT^A13``, REST ``POST /settlements/{id}/revoke``): revoke the stay's
    settlement — the active one, or the one REST names by ``settlement_id``. A reason is
    required (the HL7 mapping supplies one when EVN-4 is empty)."""

    his_visit_id: str
    reason: str = ""
    encounter_id: str = ""
    citizen_id: str = ""  # the worker the HIS names (PID-3 NI); '' = not said
    settlement_id: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a command did: the encounter it touched and anything worth telling the sender.

    HL7 answers from the first fields (the ACK and the message log's detail); REST also shows
    the objects themselves (``encounter``, ``settlement``, ``upload``), filled by every command
    that has them."""

    encounter_id: str
    status: str
    settlement_id: str = ""
    slip_no: str = ""
    warnings: tuple[Finding, ...] = field(default=())
    ignored_line_ids: tuple[str, ...] = ()
    replayed: bool = False  # the same request had already been done; nothing changed
    encounter: Encounter | None = None  # as the command left it
    settlement: Settlement | None = None  # settled, replayed or revoked
    upload: QueuedUpload | None = None  # what the command queued (or had queued) upstream
    manual_claim_id: str = ""  # admitted as a manual-claim case (N§38, B§27)
    added_line_ids: tuple[str, ...] = ()
    unmapped_line_ids: tuple[str, ...] = ()  # added lines the billing clerk must map
    reversals: Mapping[str, str] = field(default_factory=dict, hash=False)  # reversal → original


class EncounterCommands(Protocol):
    """The use cases the HIS and the desks drive over either face. Business refusals raise
    ``DomainError`` subclasses (``EligibilityRefused`` carries every reason); bad input raises
    ``InvalidMessage``; an unknown stay ``NotFound``."""

    def admit(self, command: Admit, *, actor: str) -> Outcome: ...

    def update_visit(self, command: UpdateVisit, *, actor: str) -> Outcome: ...

    def record_fees(self, command: RecordFees, *, actor: str) -> Outcome: ...

    def discharge(self, command: Discharge, *, actor: str) -> Outcome: ...

    def cancel_admission(self, command: CancelAdmission, *, actor: str) -> Outcome: ...

    def cancel_discharge(self, command: CancelDischarge, *, actor: str) -> Outcome: ...
