"""Admission (入院登记, N§33, B§28). What may happen to an admission afterwards, before
settlement (visit data updated, cancelled, discharge reported), is in :mod:`.stay_changes`.

Admit: the card is verified and the filings and this institution's status read upstream;
the domain decides eligibility; an eligible worker's encounter is registered and the
admission registration (``WI2401``) queued in the same transaction. A refusal carries every
reason with its article (and, for filing reasons, where to file: N§18, N§46, B§28, B§47); it
is audited and writes nothing else. The same HIS visit admitted twice returns the first encounter,
flagged ``replayed``, without asking upstream again — unless it is another admission: of
another worker, or under a visit cancelled since (:mod:`.visits`), or of another kind or
admission time (``VISIT_ID_REUSED``, HTTP 409, HL7 AE, naming what differs). Answered with
the first stay, the HIS would book the second admission's fees onto it.

One worker, one bed (N§33, B§28): while the worker has an open stay here (admitted, or its
settlement revoked) of either inpatient kind, an admission of either is refused with
:class:`OpenStayExists` naming it (HTTP 409, HL7 AE): medical to rehab is a settlement (or a
cancelled admission) first. A device fitting is no stay and may run beside one. The store's
partial unique index decides between concurrent admissions of one kind; two of different
kinds at once may both pass on PostgreSQL (the index is per kind: one across kinds would fail
upgrades where both are open, and revoking a settled stay while the next is open), and
settlement's :class:`~adapter.services.stay_overlaps.StayOverlaps` refuses the second to settle.
Upstream down at admission answers :class:`UpstreamDownAtAdmission` (N§38) — unless the desk
chose to record the stay as a manual-claim case from the start (see :mod:`.manual_claims`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapter.domain.commands import Admit, Diagnosis
from adapter.domain.eligibility_request import Stage
from adapter.domain.encounters import Encounter, EncounterKind
from adapter.domain.errors import (
    Conflict,
    EligibilityRefused,
    InvalidMessage,
    NotFound,
    UpstreamUnavailable,
)
from adapter.domain.filings import Filing, filed_part_for, listed_parts
from adapter.domain.people import Person
from adapter.domain.ports import QueuedUpload
from adapter.domain.rules import Finding
from adapter.domain.upstream import Infno
from adapter.services import ids, payloads
from adapter.services.context import ServiceContext
from adapter.services.eligibility import decide
from adapter.services.identity import (
    Identity,
    WorkerFacts,
    cache,
    masked_card,
    unverified_psn_no,
)
from adapter.services.stay_overlaps import refuse_overlap
from adapter.services.uploads import queue_upload
from adapter.services.upstream_outage import UpstreamDownAtDesk
from adapter.services.visits import require_resend, require_same_admission
from adapter.store import errors as store_errors
from adapter.store.repositories import EncounterRecord, StoredManualClaim
from adapter.store.uow import UnitOfWork

OPEN_STAY_ARTICLE = "N§33, B§28"
_SHORT = {EncounterKind.MEDICAL: "医疗", EncounterKind.REHAB: "康复"}


class OpenStayExists(Conflict):
    """The worker already has an open stay here (admitted, or its settlement revoked) of this
    kind, or of the other inpatient kind: one stay, one admission registration at a time
    (N§33, B§28). ``open_stay`` is that stay, so the desk can continue, settle or cancel it
    instead of admitting beside it."""

    code = store_errors.OPEN_STAY_EXISTS

    def __init__(
        self, open_stay: Encounter, zone_time: str, admitting: EncounterKind | None = None
    ):
        self.open_stay = open_stay
        kind = open_stay.kind
        if admitting is None or admitting is kind:
            then = "不能重复办理入院登记；请继续该次住院，或先取消该入院登记后再登记"
        else:  # a transfer (医疗转康复, 康复转医疗) starts when this stay has ended
            then = (
                f"同一时间只能有一次住院，不能再办理{admitting.label}入院登记；"
                f"{_SHORT[kind]}转{_SHORT[admitting]}请先办理本次住院的出院结算"
                "（或取消该入院登记）后再登记"
            )
        super().__init__(
            f"该工伤职工在本机构已有未结束的{kind.label}（就诊编号{open_stay.id}，"
            f"HIS住院号{open_stay.his_visit_id}，{zone_time}入院，状态“{open_stay.status.label}”），"
            + then,
            article=OPEN_STAY_ARTICLE,
        )

    @property
    def problem_extra(self) -> dict[str, object]:
        stay = self.open_stay
        return {
            "open_stay": {
                "id": stay.id,
                "his_visit_id": stay.his_visit_id,
                "kind": stay.kind.value,
                "status": stay.status.value,
                "admitted_at": stay.admitted_at.isoformat(),
            }
        }


@dataclass(frozen=True)
class Admitted:
    encounter: Encounter
    replayed: bool = False
    upload: QueuedUpload | None = None
    warnings: tuple[Finding, ...] = ()
    manual_claim_id: str = ""  # recorded as a manual-claim case from the start (N§38, B§27)


ADMISSION_OUTAGE_MESSAGE = (
    "上级系统（省级及国家工伤保险异地就医系统）当前无法访问，不能核验身份和备案，暂不能登记为"
    "跨省异地直接结算住院（N§38）。可稍后重试；或按手工报销登记本次住院（网络或系统故障，"
    "N§38、B§27）：费用照常记录，出院时打印费用清单由参保地经办机构手工报销；费用清单交付前"
    "上级系统恢复的，可在核验身份和备案后转为直接结算"
)


class UpstreamDownAtAdmission(UpstreamDownAtDesk):
    """A full upstream outage at admission: retry later, or a manual-claim case (N§38)."""

    code = "UPSTREAM_DOWN_AT_ADMISSION"
    article = "N§38, B§27"

    def __init__(self) -> None:
        super().__init__(
            ADMISSION_OUTAGE_MESSAGE,
            retry_label="稍后重试入院登记",
            manual_claim_label="按手工报销登记本次住院",
        )


def require_aware(value: datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidMessage(f"{field}须为带时区的时间（ISO 8601）", field=field)


class Admissions:
    def __init__(self, ctx: ServiceContext, identity: Identity):
        self._ctx = ctx
        self._identity = identity

    def open_stay(self, psn_no: str, kind: EncounterKind) -> Encounter | None:
        """The worker's open stay here that a ``kind`` admission may not start beside: one of
        ``kind``, else one of the other inpatient kind (N§33, B§28)."""
        with self._ctx.uow() as uow:
            return self._open_stay(uow, psn_no, kind)

    def _open_stay(self, uow: UnitOfWork, psn_no: str, kind: EncounterKind) -> Encounter | None:
        # the latest first: beside a stay a revoked settlement reopened, the one the worker is in
        found = [r.encounter for r in uow.encounters.open_stays(self._ctx.institution.code, psn_no)]
        found.reverse()
        return next((s for s in found if s.kind is kind), found[0] if found else None)

    def _refuse_open_stay(self, uow: UnitOfWork, psn_no: str, kind: EncounterKind) -> None:
        stay = self._open_stay(uow, psn_no, kind)
        if stay is not None:
            raise OpenStayExists(stay, self._ctx.wall_time(stay.admitted_at), kind)

    def admit(
        self, command: Admit, *, actor: str, manual_claim_if_upstream_down: bool = False
    ) -> Admitted:
        """Admit; with upstream down, refuse (N§38) or — when the desk chose so (the command's
        flag, or the keyword the pages pass) — record the stay as a manual-claim case from the
        start (:meth:`_admit_manual`)."""
        ctx = self._ctx
        manual_claim_if_upstream_down |= command.manual_claim_if_upstream_down
        if command.kind is EncounterKind.DEVICE:
            raise InvalidMessage("入院登记仅用于住院医疗或住院康复", field="kind")
        if not command.his_visit_id.strip():
            raise InvalidMessage("须提供 HIS 就诊号（his_visit_id）", field="his_visit_id")
        require_aware(command.admitted_at, "admitted_at")
        with ctx.uow() as uow:
            existing = stay_of_visit(self._ctx, uow, command.his_visit_id)
            if existing is not None:
                return self._replayed(uow, existing, command)
        ctx.policy.times.check_admission(command.admitted_at, ctx.now(), zone=ctx.zone)
        admitted_on = ctx.local_date(command.admitted_at)
        try:
            facts = self._identity.facts(command.card, context=command.his_visit_id)
        except EligibilityRefused as refused:
            self._audit_refusal(command, refused.reasons, actor)
            raise
        except UpstreamUnavailable as exc:
            if not manual_claim_if_upstream_down:
                raise UpstreamDownAtAdmission() from exc
            return self._admit_manual(command, actor)
        decision = decide(
            facts,
            command.kind,
            admitted_on=admitted_on,
            checked_on=admitted_on,
            stage=Stage.ADMISSION,
            injury_parts=command.injury_parts,
            parts_required=True,  # desk, REST and HL7 (ZWI-4) alike: N§16
            today=ctx.local_date(ctx.now()),
        )
        if not decision.eligible or decision.filing is None:
            self._audit_refusal(command, decision.reasons, actor, facts=facts)
            raise EligibilityRefused(decision.reasons)
        person, filing = facts.person, decision.filing
        with ctx.uow() as uow:
            self._refuse_open_stay(uow, person.psn_no, command.kind)
            refuse_overlap(ctx, uow, person.psn_no, command.admitted_at)
        encounter = Encounter(
            id=ids.encounter_id(),
            kind=command.kind,
            psn_no=person.psn_no,
            filing_no=filing.filing_no,
            institution_code=ctx.institution.code,
            his_visit_id=command.his_visit_id,
            admitted_at=command.admitted_at,
            insured_admdvs=person.insured_admdvs,
            department=command.department,
            diagnoses=tuple(payloads.diagnosis_text(d) for d in command.diagnoses),
            # N§16: kept in the filing's own spelling (左手部 typed, 左手 filed → 左手).
            injury_parts=tuple(
                filed_part_for(p, filing.injury_parts) for p in listed_parts(command.injury_parts)
            ),
        )
        with ctx.uow(immediate=True) as uow:
            raced = stay_of_visit(self._ctx, uow, command.his_visit_id)
            if raced is not None:
                return self._replayed(uow, raced, command, person.psn_no)
            self._refuse_open_stay(uow, person.psn_no, command.kind)
            refuse_overlap(ctx, uow, person.psn_no, command.admitted_at)
            try:
                uow.encounters.add(encounter)
            except Conflict as exc:
                if exc.code == store_errors.OPEN_STAY_EXISTS:
                    # Another admission of this worker won the race (the store's index).
                    self._refuse_open_stay(uow, person.psn_no, command.kind)
                if exc.code != store_errors.ENCOUNTER_DUPLICATE:
                    raise
                # Another clerk (or HIS retry) registered the same visit a moment ago.
                raced = stay_of_visit(self._ctx, uow, command.his_visit_id)
                if raced is None:
                    raise
                return self._replayed(uow, raced, command, person.psn_no)
            cache(uow, facts)
            upload = queue_admission(ctx, uow, encounter, person, filing)
            uow.audit.append(
                actor=actor,
                action="encounter.admit",
                subject_type="encounter",
                subject_id=encounter.id,
                details={
                    "his_visit_id": encounter.his_visit_id,
                    "kind": encounter.kind.value,
                    "psn_no": person.psn_no,
                    "filing_no": filing.filing_no,
                    "card": masked_card(command.card),
                    "msgid": upload.msgid,
                    "warnings": [w.code for w in decision.warnings],
                },
            )
            uow.commit()
        return Admitted(encounter, upload=upload, warnings=decision.warnings)

    def _admit_manual(self, command: Admit, actor: str) -> Admitted:
        """Upstream down at admission and the desk chose manual claim (N§38, B§27): the stay is
        recorded with its fees as usual but registered nowhere upstream, and marked a
        manual-claim case from the start so its fee list can be handed to the worker. It may
        still switch to direct settlement until that list is handed over
        (:meth:`~adapter.services.manual_claims.ManualClaims.switch_to_direct`)."""
        ctx = self._ctx
        card = command.card
        with ctx.uow(immediate=True) as uow:
            raced = stay_of_visit(self._ctx, uow, command.his_visit_id)
            if raced is not None:
                return self._replayed(uow, raced, command)
            found = uow.persons.find_by_citizen_id(card.citizen_id) if card.citizen_id else []
            known = found[0] if len(found) == 1 else None  # as last seen, never asked now
            psn_no = known.psn_no if known else unverified_psn_no(card)
            self._refuse_open_stay(uow, psn_no, command.kind)
            refuse_overlap(ctx, uow, psn_no, command.admitted_at)
            encounter = Encounter(
                id=ids.encounter_id(),
                kind=command.kind,
                psn_no=psn_no,
                filing_no="",
                institution_code=ctx.institution.code,
                his_visit_id=command.his_visit_id,
                admitted_at=command.admitted_at,
                insured_admdvs=known.insured_admdvs if known else "",
                department=command.department,
                diagnoses=tuple(payloads.diagnosis_text(d) for d in command.diagnoses),
                injury_parts=listed_parts(command.injury_parts),
            )
            uow.encounters.add(encounter)
            claim_id = ids.manual_claim_id()
            uow.manual_claims.add(
                StoredManualClaim(
                    id=claim_id,
                    encounter_id=encounter.id,
                    reason="upstream_unavailable",
                    detail="入院登记时上级系统无法访问，按手工报销登记（N§38、B§27）",
                    fee_list={},
                    created_at=ctx.now(),
                    created_by=actor,
                    from_start=True,
                    handed_over_at=None,
                )
            )
            uow.audit.append(
                actor=actor,
                action="encounter.admit_manual_claim",
                subject_type="encounter",
                subject_id=encounter.id,
                details={
                    "his_visit_id": encounter.his_visit_id,
                    "kind": encounter.kind.value,
                    "card": masked_card(card),
                    "claim_id": claim_id,
                },
            )
            uow.commit()
        return Admitted(encounter, manual_claim_id=claim_id)

    def _replayed(
        self, uow: UnitOfWork, record: EncounterRecord, command: Admit, psn_no: str = ""
    ) -> Admitted:
        """The stay the visit number names, if ``command`` is the admission that made it:
        the same worker (``psn_no`` once upstream named them), a stay not cancelled since
        (:func:`~adapter.services.visits.require_resend`), the same kind and time."""
        stay = record.encounter
        require_resend(uow, stay, command.card.citizen_id, psn_no)
        require_same_admission(uow, stay, command, self._ctx.wall_time)
        return Admitted(stay, replayed=True)

    def _audit_refusal(
        self,
        command: Admit,
        reasons: tuple[Finding, ...],
        actor: str,
        facts: WorkerFacts | None = None,
    ) -> None:
        with self._ctx.uow() as uow:
            if facts is not None:
                cache(uow, facts)
            uow.audit.append(
                actor=actor,
                action="encounter.admit_refused",
                subject_type="visit",
                subject_id=command.his_visit_id,
                details={
                    "card": masked_card(command.card),
                    "kind": command.kind.value,
                    "reasons": [f"{r.code} ({r.article})" for r in reasons],
                },
            )
            uow.commit()


def queue_admission(
    ctx: ServiceContext, uow: UnitOfWork, encounter: Encounter, person: Person, filing: Filing
) -> QueuedUpload:
    """The admission registration (WI2401) of a stay checked directly settleable, in the
    caller's transaction: at admission, or when a manual-claim case switches to direct."""
    return queue_upload(
        ctx,
        uow,
        infno=Infno.ADMISSION,
        input=payloads.admission_input(ctx, encounter, person, filing),
        encounter_id=encounter.id,
        insuplc_admdvs=person.insured_admdvs,
        deadline=ctx.now() + ctx.policy.admission_upload_within,
    )


def registered_upstream(uow: UnitOfWork, encounter_id: str) -> bool:
    """Was an admission registration (WI2401) queued for the encounter?"""
    return Infno.ADMISSION.value in uow.uploads.infnos(encounter_id)


def diagnosis_texts(diagnoses: tuple[Diagnosis, ...]) -> list[str]:
    return [payloads.diagnosis_text(d) for d in diagnoses]


def stay_of_visit(
    ctx: ServiceContext, uow: UnitOfWork, his_visit_id: str, *, lock: bool = False
) -> EncounterRecord | None:
    """The stay the HIS names by its visit number, which is unique only within one institution;
    ``lock``: its row held until the unit of work ends, as :mod:`.locks` holds it."""
    return uow.encounters.find_by_visit(ctx.institution.code, his_visit_id, lock=lock)


def not_found_visit(his_visit_id: str) -> NotFound:
    # named, so the HIS's ACK points at PV1-19 and a REST problem at the field
    return NotFound(
        f"HIS就诊号{his_visit_id}未办理入院登记", code="VISIT_NOT_FOUND", field="his_visit_id"
    )
