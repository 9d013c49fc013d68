"""What may happen to an admitted stay before settlement: its visit data updated (HL7 A08),
the admission cancelled (A11; its revocation WI2404 queued, N§33), the discharge reported where
the site settles at the billing desk (A03: ready to settle) and withdrawn again before anyone
settled it (A13: back in hospital). The admission itself is in
:mod:`.admission`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapter.domain.commands import Diagnosis, UpdateVisit
from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.errors import EligibilityRefused, InvalidTransition
from adapter.domain.filing_checks import INJURY_PARTS_FILING_ABSENT, injury_findings
from adapter.domain.filings import filed_part_for, listed_parts
from adapter.domain.rules import Finding, Severity
from adapter.domain.upstream import Infno
from adapter.services import payloads
from adapter.services.admission import (
    diagnosis_texts,
    not_found_visit,
    registered_upstream,
    require_aware,
    stay_of_visit,
)
from adapter.services.context import ServiceContext
from adapter.services.locks import lock_encounter
from adapter.services.stay_overlaps import refuse_overlap
from adapter.services.uploads import queue_upload
from adapter.services.visits import require_worker
from adapter.store.uow import UnitOfWork

log = logging.getLogger("adapter")


def checked_parts(
    uow: UnitOfWork, encounter: Encounter, parts: Sequence[str]
) -> tuple[tuple[str, ...], tuple[Finding, ...]]:
    """The injured parts a stay's update names, checked as at admission (N§16, 附表1) against
    the filing the stay was admitted on: none, or one not filed, refuses the whole update; a
    filing listing no parts takes them with the admission's warning, so the clerk is told
    again that nothing could be checked, as when the stay's filing is missing from the local
    store. A manual-claim case (no filing yet) keeps what it is sent, checked when it is
    switched to direct settlement. Kept in the filing's own spelling, as at admission."""
    listed = listed_parts(parts)
    if not encounter.filing_no:
        return listed, ()
    filing = uow.filings.get(encounter.filing_no)
    if filing is None:
        log.warning(
            "stay.filing_absent",
            extra={"encounter_id": encounter.id, "filing_no": encounter.filing_no},
        )
        absent = INJURY_PARTS_FILING_ABSENT.warned(
            "injury_parts", filing_no=encounter.filing_no, parts="、".join(listed) or "未填写"
        )
        return listed, (absent,)
    findings = injury_findings(listed, filing, update=True)
    refusals = [f for f in findings if f.refuses]
    if refusals:
        raise EligibilityRefused(refusals)
    warnings = tuple(f for f in findings if f.severity is Severity.WARNING)
    return tuple(filed_part_for(p, filing.injury_parts) for p in listed), warnings


class StayChanges:
    """Changes to an admitted stay that come before its settlement."""

    def __init__(self, ctx: ServiceContext):
        self._ctx = ctx

    def update_visit(
        self, command: UpdateVisit, *, actor: str
    ) -> tuple[Encounter, tuple[Finding, ...]]:
        """HL7 A08 (A02): the given fields change while the worker is in hospital. Answers the
        stay as updated and what the clerk should be warned of."""
        with self._ctx.uow(immediate=True) as uow:
            # Its row held as it is read: a fee batch of the stay committing meanwhile is
            # waited for and its result read, not a version conflict (:mod:`.locks`).
            record = stay_of_visit(self._ctx, uow, command.his_visit_id, lock=True)
            if record is None:
                raise not_found_visit(command.his_visit_id)
            encounter = record.encounter
            require_worker(uow, encounter, command.citizen_id)
            # open: admitted, or back in hospital after its settlement was revoked (A13)
            if encounter.status not in (EncounterStatus.ADMITTED, EncounterStatus.REVOKED):
                raise InvalidTransition(
                    f"就诊状态为“{encounter.status.label}”，不能再修改就诊信息",
                    code="ENCOUNTER_NOT_ADMITTED",
                )
            if command.kind is not None and command.kind is not encounter.kind:
                raise InvalidTransition(
                    f"本次住院按{encounter.kind.label}登记，住院期间不能改为{command.kind.label}"
                    "：直接结算的类别由入院时核对的备案决定（就医人员或康复人员）。转为住院工伤"
                    "康复的，须先办理出院结算，再凭康复备案重新办理住院康复入院登记，并在出院"
                    "结算前上传康复方案（N§4、N§33、B§32）",
                    code="STAY_KIND_FIXED",
                    article="N§4, N§33, B§32",
                    field="kind",
                )
            changes: dict[str, Any] = {}
            warnings: tuple[Finding, ...] = ()
            if command.department is not None:
                changes["department"] = command.department
            if command.diagnoses is not None:
                changes["diagnoses"] = tuple(diagnosis_texts(command.diagnoses))
            if command.injury_parts is not None:
                changes["injury_parts"], warnings = checked_parts(
                    uow, encounter, command.injury_parts
                )
            updated = dataclasses.replace(encounter, **changes)
            uow.encounters.update(updated, expected_version=record.version, was=encounter)
            uow.audit.append(
                actor=actor,
                action="encounter.update_visit",
                subject_type="encounter",
                subject_id=encounter.id,
                details={"fields": sorted(changes), "name_changed": bool(command.patient_name)},
            )
            uow.commit()
        return updated, warnings

    def find_by_visit(self, his_visit_id: str, citizen_id: str = "") -> Encounter:
        """The stay of the visit number — of the worker ``citizen_id`` names, when given."""
        with self._ctx.uow() as uow:
            record = stay_of_visit(self._ctx, uow, his_visit_id)
            if record is None:
                raise not_found_visit(his_visit_id)
            require_worker(uow, record.encounter, citizen_id)
        return record.encounter

    def cancel(self, encounter_id: str, *, reason: str, actor: str) -> Encounter:
        """Cancel an admission with no settlement; queue its revocation upstream (WI2404)."""
        ctx = self._ctx
        with ctx.uow(immediate=True) as uow:
            lock_encounter(uow, encounter_id)
            record = uow.encounters.get(encounter_id)
            encounter = record.encounter
            if encounter.kind is EncounterKind.DEVICE:
                raise InvalidTransition(
                    "辅助器具配置没有入院登记可取消，如需撤销请撤销其结算", code="NOT_AN_ADMISSION"
                )
            cancelled = encounter.moved_to(EncounterStatus.CANCELLED)
            uow.encounters.update(cancelled, expected_version=record.version)
            msgid = ""
            if registered_upstream(uow, encounter.id):  # a manual-claim case never was
                msgid = queue_upload(
                    ctx,
                    uow,
                    infno=Infno.ADMISSION_REVOKE,
                    input=payloads.admission_revoke_input(encounter, reason),
                    encounter_id=encounter.id,
                    insuplc_admdvs=encounter.insured_admdvs,
                    deadline=ctx.now() + ctx.policy.admission_upload_within,
                ).msgid
            uow.audit.append(
                actor=actor,
                action="encounter.cancel",
                subject_type="encounter",
                subject_id=encounter.id,
                details={"reason": reason, "msgid": msgid},
            )
            uow.commit()
        return cancelled

    def mark_ready(
        self,
        encounter_id: str,
        *,
        discharged_at: datetime,
        diagnoses: tuple[Diagnosis, ...] = (),
        actor: str,
    ) -> Encounter:
        """HL7 A03 where the site settles at the billing desk: note the discharge, settle later."""
        require_aware(discharged_at, "discharged_at")
        with self._ctx.uow(immediate=True) as uow:
            lock_encounter(uow, encounter_id)
            record = uow.encounters.get(encounter_id)
            encounter = record.encounter
            if encounter.status not in (EncounterStatus.ADMITTED, EncounterStatus.REVOKED):
                raise InvalidTransition(
                    f"就诊状态为“{encounter.status.label}”，不能标记为待结算",
                    code="ENCOUNTER_NOT_SETTLEABLE",
                )
            self._ctx.policy.times.check_discharge(
                encounter, discharged_at, self._ctx.now(), zone=self._ctx.zone
            )
            # told now, at the A03, not only when the desk settles it
            refuse_overlap(
                self._ctx, uow, encounter.psn_no, encounter.admitted_at, discharged_at,
                besides=encounter.id,
            )  # fmt: skip
            changes: dict[str, Any] = {"discharged_at": discharged_at}
            if diagnoses:
                changes["diagnoses"] = tuple(diagnosis_texts(diagnoses))
            updated = dataclasses.replace(encounter, **changes)
            uow.encounters.update(updated, expected_version=record.version, ready_to_settle=True)
            uow.audit.append(
                actor=actor,
                action="encounter.ready_to_settle",
                subject_type="encounter",
                subject_id=encounter.id,
                details={"discharged_at": discharged_at.isoformat()},
            )
            uow.commit()
        return updated

    def withdraw_ready(self, encounter_id: str, *, reason: str, actor: str) -> Encounter | None:
        """HL7 A13 where the site settles at the billing desk: the discharge an A03 reported,
        not settled yet, is cancelled — off the clerk's ready-to-settle list, without its
        discharge time. ``None`` when the stay is not on that list."""
        with self._ctx.uow(immediate=True) as uow:
            lock_encounter(uow, encounter_id)
            record = uow.encounters.get(encounter_id)
            if not record.ready_to_settle:
                return None
            updated = dataclasses.replace(record.encounter, discharged_at=None)
            uow.encounters.update(updated, expected_version=record.version, ready_to_settle=False)
            uow.audit.append(
                actor=actor,
                action="encounter.ready_withdrawn",
                subject_type="encounter",
                subject_id=encounter_id,
                details={"reason": reason},
            )
            uow.commit()
        return updated
