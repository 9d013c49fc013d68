"""``EncounterCommands`` (adapter/domain/commands.py) on top of the use cases: the one front door.

The HL7 connector and the REST routes both drive stays through these, so an ``ADT^A01`` and
a ``POST /encounters``, a ``DFT^P03`` and a ``POST …/fees``, an ``ADT^A03`` and a
``POST …/settle`` meet exactly the same rules, replays and warnings. HL7 names a stay by its
HIS visit number, REST by its encounter id; the commands find the encounter by either.

A request sent again changes nothing and answers ``replayed`` (the rules are in the domain
module's docstring). Replays are recognised by what the request asks, not by a request id:
the visit number, the fee line ids, the discharge time, the settlement's state — keys both
faces already carry, so neither the HIS nor a desk has to invent and keep one.

Built from the use cases it needs, not from the services container, so the container can
build it without an import cycle.
"""

from __future__ import annotations

from adapter.domain.commands import (
    Admit,
    CancelAdmission,
    CancelDischarge,
    Discharge,
    Outcome,
    RecordFees,
    UpdateVisit,
)
from adapter.domain.encounters import Encounter, EncounterStatus
from adapter.domain.errors import DomainError, InvalidTransition
from adapter.domain.ports import QueuedUpload
from adapter.domain.rules import Rule
from adapter.domain.settlement import Settlement, SettlementStatus
from adapter.domain.upstream import Infno
from adapter.services.admission import Admissions
from adapter.services.context import ServiceContext
from adapter.services.fees import Fees
from adapter.services.rehab import GATE_CODES
from adapter.services.revocation import Revocations
from adapter.services.settlement import Settled, Settlements, SettleRequest
from adapter.services.stay_changes import StayChanges
from adapter.services.uploads import upload_for_settlement
from adapter.store.repositories import UploadRecord

UNMAPPED = Rule(
    "FEE_UNMAPPED",
    "N§32",
    "费用明细{line_id}的项目（{item}）未在就医地工伤保险目录中找到，已保留并提示结算员对照",
)


class ServiceCommands:
    """The one :class:`~adapter.domain.commands.EncounterCommands` implementation."""

    def __init__(
        self,
        ctx: ServiceContext,
        *,
        admissions: Admissions,
        stays: StayChanges,
        fees: Fees,
        settlements: Settlements,
        revocations: Revocations,
    ):
        self._ctx = ctx
        self._admissions = admissions
        self._stays = stays
        self._fees = fees
        self._settlements = settlements
        self._revocations = revocations

    def _stay(self, his_visit_id: str, encounter_id: str, citizen_id: str = "") -> Encounter:
        """The encounter a command names: by id (REST) or by HIS visit number (HL7), then of
        the worker ``citizen_id`` names when it is given (VISIT_OF_ANOTHER_WORKER)."""
        if encounter_id:
            with self._ctx.uow() as uow:
                return uow.encounters.get(encounter_id).encounter
        return self._stays.find_by_visit(his_visit_id, citizen_id)

    def admit(self, command: Admit, *, actor: str) -> Outcome:
        result = self._admissions.admit(command, actor=actor)
        return Outcome(
            result.encounter.id,
            result.encounter.status.value,
            warnings=result.warnings,
            replayed=result.replayed,
            encounter=result.encounter,
            upload=result.upload,
            manual_claim_id=result.manual_claim_id,
        )

    def update_visit(self, command: UpdateVisit, *, actor: str) -> Outcome:
        encounter, warnings = self._stays.update_visit(command, actor=actor)
        return Outcome(encounter.id, encounter.status.value, warnings=warnings, encounter=encounter)

    def record_fees(self, command: RecordFees, *, actor: str) -> Outcome:
        encounter_id = (
            command.encounter_id or self._stay(command.his_visit_id, "", command.citizen_id).id
        )
        recorded = self._fees.record(encounter_id, command.lines, actor=actor)
        names = {line.line_id: line.item_code for line in command.lines}
        warnings = tuple(
            UNMAPPED.warned("lines", line_id=line_id, item=names.get(line_id, ""))
            for line_id in recorded.unmapped
        )
        encounter = recorded.encounter
        return Outcome(
            encounter.id,
            encounter.status.value,
            warnings=warnings,
            ignored_line_ids=recorded.ignored,
            replayed=bool(command.lines) and not recorded.added,
            encounter=encounter,
            added_line_ids=recorded.added,
            unmapped_line_ids=recorded.unmapped,
            reversals=dict(recorded.reversals),
        )

    def discharge(self, command: Discharge, *, actor: str) -> Outcome:
        if not command.settle_now:
            encounter = self._stay(command.his_visit_id, command.encounter_id, command.citizen_id)
            return self._mark_ready(encounter, command, actor)
        stay = (
            None
            if command.encounter_id
            else self._stay(command.his_visit_id, "", command.citizen_id)
        )
        encounter_id = command.encounter_id or (stay.id if stay else "")
        # A settled stay replays inside ``settle`` when the discharge is the same one (same
        # time, same diagnoses when given), and is refused when it is another.
        try:
            settled = self._settlements.settle(
                SettleRequest(
                    encounter_id,
                    command.discharged_at,
                    command.discharge_diagnoses,
                    card=command.card,
                    rehab_override_reason=command.rehab_override_reason,
                    show_lines=command.show_lines,
                ),
                actor=actor,
            )
        except DomainError as exc:
            if stay is None or exc.code not in GATE_CODES:
                raise
            # The HIS's A03 came before the rehab plan got through (N§33, B§32): the
            # discharge is noted for the billing desk, which settles once it is through.
            self._mark_ready(stay, command, actor)
            raise DomainError(
                exc.message + "。出院已记录，康复方案送达上级系统后由结算处办理出院结算",
                code=exc.code,
                article=exc.article,
            ) from exc
        return _settled(settled)

    def _mark_ready(self, encounter: Encounter, command: Discharge, actor: str) -> Outcome:
        """A site that settles at the billing desk: note the discharge, settle later."""
        if encounter.status is EncounterStatus.SETTLED:  # the desk settled it already
            with self._ctx.uow() as uow:
                active = uow.settlements.find_active(encounter.id)
                record = upload_for_settlement(uow, active.id, Infno.DISCHARGE) if active else None
            settled_at = active.encounter.discharged_at if active else None
            if settled_at is not None and settled_at != command.discharged_at:
                # the same discharge again replays; another one would be answered as noted
                # while the discharge record uploaded keeps the settled time
                raise InvalidTransition(
                    f"该就诊已按出院时间{self._ctx.wall_time(settled_at)}结算，"
                    f"本次出院时间{self._ctx.wall_time(command.discharged_at)}与之不符，未记录；"
                    "如需更正出院时间，请先撤销结算（N§33、B§31）",
                    code="DISCHARGE_DIFFERS_FROM_SETTLEMENT",
                    article="N§33, B§31",
                    field="discharged_at",
                )
            return Outcome(
                encounter.id,
                encounter.status.value,
                settlement_id=active.id if active else "",
                slip_no=active.slip_no if active else "",
                replayed=True,
                encounter=encounter,
                settlement=active,
                upload=_queued(record),
            )
        marked = self._stays.mark_ready(
            encounter.id,
            discharged_at=command.discharged_at,
            diagnoses=command.discharge_diagnoses,
            actor=actor,
        )
        return Outcome(marked.id, marked.status.value, encounter=marked)

    def cancel_admission(self, command: CancelAdmission, *, actor: str) -> Outcome:
        encounter = self._stay(command.his_visit_id, command.encounter_id, command.citizen_id)
        if encounter.status is EncounterStatus.CANCELLED:
            return Outcome(encounter.id, encounter.status.value, replayed=True, encounter=encounter)
        try:
            cancelled = self._stays.cancel(encounter.id, reason=command.reason, actor=actor)
        except DomainError:  # InvalidTransition, or a Conflict on the version
            # The same request, sent twice at once: the other one cancelled it a moment ago.
            now = self._stay("", encounter.id)
            if now.status is not EncounterStatus.CANCELLED:
                raise
            return Outcome(now.id, now.status.value, replayed=True, encounter=now)
        return Outcome(cancelled.id, cancelled.status.value, encounter=cancelled)

    def cancel_discharge(self, command: CancelDischarge, *, actor: str) -> Outcome:
        if not command.settlement_id:
            # A desk-settling site's A03 only put the stay on the ready list: nothing to revoke,
            # the discharge itself is what the HIS cancels.
            stay = self._stay(command.his_visit_id, command.encounter_id, command.citizen_id)
            back = self._stays.withdraw_ready(stay.id, reason=command.reason, actor=actor)
            if back is not None:
                return Outcome(back.id, back.status.value, encounter=back)
        settlement = self._to_revoke(command)
        if settlement.status is SettlementStatus.REVOKED:
            return self._revoked(settlement, replayed=True)
        try:
            revoked, upload = self._revocations.revoke(
                settlement.id, reason=command.reason, actor=actor
            )
        except DomainError:  # InvalidTransition, or a Conflict on the version
            # The same request, sent twice at once: the other one revoked it a moment ago.
            now = self._settlements.get(settlement.id)
            if now.status is not SettlementStatus.REVOKED:
                raise
            return self._revoked(now, replayed=True)
        return self._revoked(revoked, upload=upload)

    def _to_revoke(self, command: CancelDischarge) -> Settlement:
        """The settlement REST names, or the stay's active one — or, for a stay whose
        settlement is already revoked, that one (the request is a resend)."""
        if command.settlement_id:
            return self._settlements.get(command.settlement_id)
        encounter = self._stay(command.his_visit_id, command.encounter_id, command.citizen_id)
        with self._ctx.uow() as uow:
            settlements = uow.settlements.list_for_encounter(encounter.id)
        active = next((s for s in settlements if s.status is SettlementStatus.SETTLED), None)
        if active is not None:
            return active
        revoked = [s for s in settlements if s.revoked_at is not None]
        if encounter.status is EncounterStatus.REVOKED and revoked:
            return max(revoked, key=lambda s: s.revoked_at or s.settled_at)
        raise InvalidTransition(
            f"就诊状态为“{encounter.status.label}”，没有可撤销的结算",
            code="NO_ACTIVE_SETTLEMENT",
        )

    def _revoked(
        self, settlement: Settlement, *, upload: QueuedUpload | None = None, replayed: bool = False
    ) -> Outcome:
        with self._ctx.uow() as uow:
            encounter = uow.encounters.get(settlement.encounter.id).encounter
            if upload is None:
                record = upload_for_settlement(uow, settlement.id, Infno.SETTLEMENT_REVOKE)
                upload = _queued(record)
        return Outcome(
            encounter.id,
            encounter.status.value,
            settlement_id=settlement.id,
            slip_no=settlement.slip_no,
            replayed=replayed,
            encounter=encounter,
            settlement=settlement,
            upload=upload,
        )


def _settled(settled: Settled) -> Outcome:
    settlement = settled.settlement
    return Outcome(
        settlement.encounter.id,
        EncounterStatus.SETTLED.value,
        settlement_id=settlement.id,
        slip_no=settlement.slip_no,
        warnings=settled.warnings,
        replayed=settled.replayed,
        encounter=settlement.encounter,
        settlement=settlement,
        upload=settled.upload,
    )


def _queued(record: UploadRecord | None) -> QueuedUpload | None:
    if record is None:
        return None
    return QueuedUpload(record.job_id, record.infno, record.msgid, record.deadline)
