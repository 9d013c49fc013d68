"""``EncounterCommands`` (adapter/domain/commands.py) on top of the use cases.

The HL7 connector and the REST routes both drive stays through these, so an ``ADT^A01`` and
a ``POST /encounters`` meet exactly the same rules. HL7 names a stay by its HIS visit
number; the commands look the encounter up by it. A message resent by the HIS (a lost ACK)
changes nothing and answers ``replayed``: the same visit admitted again, a discharge of a
stay already settled, a cancellation of one already cancelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapter.domain.commands import (
    Admit,
    CancelAdmission,
    CancelDischarge,
    Discharge,
    Outcome,
    RecordFees,
    UpdateVisit,
)
from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import InvalidTransition
from adapter.domain.rules import Rule
from adapter.services.settlement import SettleRequest

if TYPE_CHECKING:
    from adapter.services.container import Services

UNMAPPED = Rule(
    "FEE_UNMAPPED",
    "N§32",
    "费用明细{line_id}的项目（{item}）未在就医地工伤保险目录中找到，已保留并提示结算员对照",
)


class ServiceCommands:
    """The one :class:`~adapter.domain.commands.EncounterCommands` implementation."""

    def __init__(self, services: Services):
        self._services = services

    def admit(self, command: Admit, *, actor: str) -> Outcome:
        result = self._services.admissions.admit(command, actor=actor)
        return Outcome(
            result.encounter.id,
            result.encounter.status.value,
            warnings=result.warnings,
            replayed=result.replayed,
        )

    def update_visit(self, command: UpdateVisit, *, actor: str) -> Outcome:
        encounter = self._services.admissions.update_visit(command, actor=actor)
        return Outcome(encounter.id, encounter.status.value)

    def record_fees(self, command: RecordFees, *, actor: str) -> Outcome:
        encounter = self._services.admissions.find_by_visit(command.his_visit_id)
        recorded = self._services.fees.record(encounter.id, command.lines, actor=actor)
        names = {line.line_id: line.item_code for line in command.lines}
        warnings = tuple(
            UNMAPPED.warned("lines", line_id=line_id, item=names.get(line_id, ""))
            for line_id in recorded.unmapped
        )
        return Outcome(
            encounter.id,
            encounter.status.value,
            warnings=warnings,
            ignored_line_ids=recorded.ignored,
            replayed=bool(command.lines) and not recorded.added,
        )

    def discharge(self, command: Discharge, *, actor: str) -> Outcome:
        services = self._services
        encounter = services.admissions.find_by_visit(command.his_visit_id)
        if encounter.status is EncounterStatus.SETTLED:
            view = services.encounter(encounter.id)
            active = view.settlement
            return Outcome(
                encounter.id,
                encounter.status.value,
                settlement_id=active.id if active else "",
                slip_no=active.slip_no if active else "",
                replayed=True,
            )
        if not command.settle_now:
            marked = services.admissions.mark_ready(
                encounter.id,
                discharged_at=command.discharged_at,
                diagnoses=command.discharge_diagnoses,
                actor=actor,
            )
            return Outcome(marked.id, marked.status.value)
        settled = services.settlements.settle(
            SettleRequest(encounter.id, command.discharged_at, command.discharge_diagnoses),
            actor=actor,
        )
        return Outcome(
            encounter.id,
            EncounterStatus.SETTLED.value,
            settlement_id=settled.settlement.id,
            slip_no=settled.settlement.slip_no,
            warnings=settled.warnings,
        )

    def cancel_admission(self, command: CancelAdmission, *, actor: str) -> Outcome:
        services = self._services
        encounter = services.admissions.find_by_visit(command.his_visit_id)
        if encounter.status is EncounterStatus.CANCELLED:
            return Outcome(encounter.id, encounter.status.value, replayed=True)
        cancelled = services.admissions.cancel(encounter.id, reason=command.reason, actor=actor)
        return Outcome(cancelled.id, cancelled.status.value)

    def cancel_discharge(self, command: CancelDischarge, *, actor: str) -> Outcome:
        services = self._services
        encounter = services.admissions.find_by_visit(command.his_visit_id)
        if encounter.status is EncounterStatus.REVOKED:
            return Outcome(encounter.id, encounter.status.value, replayed=True)
        active = services.encounter(encounter.id).settlement
        if active is None:
            raise InvalidTransition(
                f"就诊状态为“{encounter.status.label}”，没有可撤销的结算",
                code="NO_ACTIVE_SETTLEMENT",
            )
        revoked, _ = services.settlements.revoke(
            active.id, reason=command.reason or "HIS取消出院（ADT^A13）", actor=actor
        )
        return Outcome(encounter.id, EncounterStatus.REVOKED.value, settlement_id=revoked.id)
