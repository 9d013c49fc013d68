"""A fake of the services behind ``EncounterCommands`` that really keeps state (in memory)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from adapter.domain.commands import (
    Admit,
    CancelAdmission,
    CancelDischarge,
    Discharge,
    Outcome,
    RecordFees,
    UpdateVisit,
)
from adapter.domain.errors import (
    EligibilityRefused,
    InvalidTransition,
    NotFound,
    PricingError,
    UpstreamUnavailable,
)
from adapter.domain.fees import FeeLine
from adapter.domain.rules import Finding, Severity

UNFILED_CITIZEN = "110101199909099999"  # refused at admission with two reasons


@dataclass
class FakeEncounter:
    id: str
    visit: str
    kind: str
    status: str = "admitted"
    department: str = ""
    lines: dict[str, FeeLine] = field(default_factory=dict)
    settlement_id: str = ""
    patient_name: str = ""
    diagnoses: tuple[str, ...] = ()  # "code name"


class FakeEncounters:
    """Behaves like the services: idempotent admit, ignored repeated lines, state checks."""

    def __init__(self) -> None:
        self.encounters: dict[str, FakeEncounter] = {}
        self.calls: list[tuple[str, str]] = []  # (use case, visit)
        self.upstream_down = False
        self.explode = False
        self.gate: threading.Event | None = None  # when set, admit waits for it
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def count(self, use_case: str) -> int:
        with self._lock:
            return sum(1 for name, _visit in self.calls if name == use_case)

    def _enter(self, use_case: str, visit: str) -> None:
        with self._lock:
            self.calls.append((use_case, visit))
        if self.explode:
            raise RuntimeError("bug in a service")
        if self.upstream_down:
            raise UpstreamUnavailable("省级平台暂时无法连接")

    def _get(self, visit: str) -> FakeEncounter:
        encounter = self.encounters.get(visit)
        if encounter is None:
            raise NotFound(f"就诊号{visit}不存在")
        return encounter

    def _outcome(self, encounter: FakeEncounter, **extra: object) -> Outcome:
        return Outcome(encounter.id, encounter.status, encounter.settlement_id, **extra)  # type: ignore[arg-type]

    def admit(self, command: Admit, *, actor: str) -> Outcome:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        self._enter("admit", command.his_visit_id)
        if command.card.citizen_id == UNFILED_CITIZEN:
            raise EligibilityRefused(
                [
                    Finding(
                        "FILING_MISSING", "N§16, B§26", "未查询到有效备案", Severity.REFUSAL, "card"
                    ),
                    Finding("CARD_LOST", "B§28", "社保卡已挂失", Severity.REFUSAL, "card"),
                ]
            )
        with self._lock:
            existing = self.encounters.get(command.his_visit_id)
            if existing is not None:
                return self._outcome(existing, replayed=True)
            encounter = FakeEncounter(
                id=f"E{len(self.encounters) + 1}",
                visit=command.his_visit_id,
                kind=command.kind.value,
                department=command.department,
                patient_name=command.patient_name,
                diagnoses=tuple(f"{d.code} {d.name}" for d in command.diagnoses),
            )
            self.encounters[command.his_visit_id] = encounter
        return self._outcome(encounter)

    def update_visit(self, command: UpdateVisit, *, actor: str) -> Outcome:
        self._enter("update_visit", command.his_visit_id)
        with self._lock:
            encounter = self._get(command.his_visit_id)
            if command.department is not None:
                encounter.department = command.department
        return self._outcome(encounter)

    def record_fees(self, command: RecordFees, *, actor: str) -> Outcome:
        self._enter("record_fees", command.his_visit_id)
        with self._lock:
            encounter = self._get(command.his_visit_id)
            if encounter.status != "admitted":
                raise InvalidTransition("该就诊已结算，不能再记录费用")
            for line in command.lines:
                if line.reverses and line.reverses not in encounter.lines:
                    raise PricingError(f"冲销明细{line.line_id}对应的原明细{line.reverses}不存在")
            ignored = tuple(
                line.line_id for line in command.lines if line.line_id in encounter.lines
            )
            for line in command.lines:
                encounter.lines.setdefault(line.line_id, line)
        return self._outcome(encounter, ignored_line_ids=ignored)

    def discharge(self, command: Discharge, *, actor: str) -> Outcome:
        self._enter("discharge", command.his_visit_id)
        with self._lock:
            encounter = self._get(command.his_visit_id)
            if encounter.status != "admitted":
                raise InvalidTransition("该就诊已结算，如需重新结算请先撤销结算")
            if command.settle_now:
                encounter.status = "settled"
                encounter.settlement_id = f"S-{encounter.id}"
            else:
                encounter.status = "ready_to_settle"
        return self._outcome(encounter)

    def cancel_admission(self, command: CancelAdmission, *, actor: str) -> Outcome:
        self._enter("cancel_admission", command.his_visit_id)
        with self._lock:
            encounter = self._get(command.his_visit_id)
            if encounter.status != "admitted":
                raise InvalidTransition("该就诊已结算，不能取消入院")
            encounter.status = "cancelled"
        return self._outcome(encounter)

    def cancel_discharge(self, command: CancelDischarge, *, actor: str) -> Outcome:
        self._enter("cancel_discharge", command.his_visit_id)
        with self._lock:
            encounter = self._get(command.his_visit_id)
            if encounter.status != "settled":
                raise InvalidTransition("该就诊没有可撤销的结算")
            encounter.status = "revoked"
        return self._outcome(encounter)

    def total(self, visit: str) -> object:
        return sum((line.amount for line in self.encounters[visit].lines.values()), start=0)
