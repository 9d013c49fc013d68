"""Inbound HL7 messages → the commands of :mod:`adapter.domain.commands` (interfaces.md §2).

=========  ==================  ==========================================================
message    command             fields read
=========  ==================  ==========================================================
ADT^A01    Admit               PID-3 (``NI`` citizen id, ``PI`` HIS patient id), PID-5,
                               PID-8, PV1-2 (``I`` or empty), PV1-3.1 department,
                               PV1-10 (``REH`` = rehab), PV1-19, PV1-44, DG1-3, ZWI (required)
ADT^A06    Admit               as A01, but PV1-2 must be ``I``; MRG is not read
ADT^A02    UpdateVisit         PV1-19, PV1-3.1 (the new department, required): a transfer
ADT^A08    UpdateVisit         PV1-19; PV1-3.1, DG1-3, ZWI-4, ZWI-5, PID-5 only when sent; PV1-3,
                               ZWI-4 or (every) DG1-3 sent as ``""`` clears it (ZWI-4 of a
                               direct stay: checked against its filing, never cleared, N§16)
ADT^A03    Discharge           PV1-19, PV1-45, DG1-3; ``settle_now`` from the site profile
ADT^A11    CancelAdmission     PV1-19, EVN-4 reason
ADT^A13    CancelDischarge     PV1-19, EVN-4 reason
DFT^P03    RecordFees          PV1-19, FT1 and its ZFT (see :mod:`connectors.hl7.fees`)
=========  ==================  ==========================================================

Every command after the admission also carries the citizen ID of PID-3 (``NI``) when the
message has one, so a message naming another worker than the stay's is refused (a HIS that
counts visits per patient reuses visit numbers) instead of changing that stay.

The event is MSH-9.2, or EVN-1 when MSH-9 carries none (v2.3 habits). The encounter kind is
ZWI-5 (``medical``/``rehab``), else ``rehab`` when PV1-10 is ``REH``; a ZWI-5 that contradicts
PV1-10 is refused. Missing optional fields are tolerated; a missing visit number, an
unreadable time or amount, an unknown code refuse the whole message (:class:`Hl7Error`).

ADT^A06 (change an outpatient to an inpatient) is how many HIS systems admit an emergency or
outpatient patient to a ward: PV1 carries the new inpatient visit, and MRG (MRG-5) the prior
outpatient visit. It is an admission like an A01 — same use case, checks and resend handling —
and MRG is ignored, since the outpatient visit was never direct settlement (N§3). What the
other events are answered (A04, A05, A07, …) is in :mod:`connectors.hl7.events`.
"""

from __future__ import annotations

from adapter.domain.commands import (
    Admit,
    CancelAdmission,
    CancelDischarge,
    Diagnosis,
    Discharge,
    EncounterCommands,
    Outcome,
    RecordFees,
    UpdateVisit,
)
from adapter.domain.encounters import EncounterKind
from adapter.domain.people import CardData, CardKind, Gender
from adapter.domain.text import MAX_DIAGNOSES, MAX_INJURY_PARTS
from connectors.hl7.errors import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    Hl7Error,
    Location,
)
from connectors.hl7.events import message_type
from connectors.hl7.fees import fee_lines
from connectors.hl7.profile import SiteProfile
from connectors.hl7.reader import Hl7Message, Segment
from connectors.hl7.values import parse_ts

Command = Admit | UpdateVisit | RecordFees | Discharge | CancelAdmission | CancelDischarge

MAX_VISIT_NUMBER = 64  # as over REST (his_visit_id)
_CARD_KINDS = {"P": CardKind.PHYSICAL, "E": CardKind.ECARD}
_GENDERS = {"M": Gender.MALE, "F": Gender.FEMALE, "1": Gender.MALE, "2": Gender.FEMALE}


def visit_number(message: Hl7Message) -> str:
    """PV1-19 (``his_visit_id``); required by every message we take."""
    pv1 = message.require("PV1")
    value = pv1.get(19)
    if not value:
        raise Hl7Error(
            "缺少就诊号（PV1-19）",
            pv1.location(19),
            hl7_code=REQUIRED_FIELD_MISSING,
            code="HL7_REQUIRED",
        )
    if len(value) > MAX_VISIT_NUMBER:
        raise Hl7Error(
            f"就诊号（PV1-19）超过{MAX_VISIT_NUMBER}个字符",
            pv1.location(19),
            hl7_code=DATA_TYPE_ERROR,
            code="HL7_TOO_LONG",
        )
    return value


def to_command(message: Hl7Message, profile: SiteProfile) -> Command:
    """The command a message asks for (raises :class:`Hl7Error`)."""
    code, event = message_type(message)
    visit = visit_number(message)
    pv1 = message.require("PV1")
    if event in ("A01", "A06"):  # an A06 admits an outpatient to a ward: its MRG is not read
        return _admit(message, pv1, visit, profile, event)
    pid = message.first("PID")
    citizen_id = _identifiers(pid)[0] if pid else ""
    if code == "DFT":
        return RecordFees(
            his_visit_id=visit, lines=fee_lines(message, profile), citizen_id=citizen_id
        )
    if event == "A08":
        return _update(message, pv1, visit, citizen_id)
    if event == "A02":  # 转科: the stay's department is where it moved to
        department = _required(pv1, 3, "转入科室")
        return UpdateVisit(his_visit_id=visit, department=department, citizen_id=citizen_id)
    if event == "A03":
        discharged_at = parse_ts(_required(pv1, 45, "出院时间"), profile.zone, pv1.location(45))
        return Discharge(
            his_visit_id=visit,
            discharged_at=discharged_at,
            discharge_diagnoses=_diagnoses(message),
            settle_now=profile.discharge_settles,
            citizen_id=citizen_id,
        )
    evn = message.first("EVN")
    reason = (evn.get(4, 2) or evn.get(4, 1)) if evn else ""
    if event == "A11":
        return CancelAdmission(his_visit_id=visit, reason=reason, citizen_id=citizen_id)
    # The revocation records a reason, and the HIS's A13 often carries none in EVN-4.
    return CancelDischarge(
        his_visit_id=visit, reason=reason or "HIS取消出院（ADT^A13）", citizen_id=citizen_id
    )


def dispatch(command: Command, commands: EncounterCommands, actor: str) -> Outcome:
    """Hand a command to the matching use case."""
    if isinstance(command, Admit):
        return commands.admit(command, actor=actor)
    if isinstance(command, UpdateVisit):
        return commands.update_visit(command, actor=actor)
    if isinstance(command, RecordFees):
        return commands.record_fees(command, actor=actor)
    if isinstance(command, Discharge):
        return commands.discharge(command, actor=actor)
    if isinstance(command, CancelAdmission):
        return commands.cancel_admission(command, actor=actor)
    return commands.cancel_discharge(command, actor=actor)


def _update(message: Hl7Message, pv1: Segment, visit: str, citizen_id: str) -> UpdateVisit:
    """An A08 changes what it sends: a field left out is unchanged, one sent as HL7's null
    ``""`` is cleared (an injury part struck off, a department no longer known)."""
    zwi = message.first("ZWI")
    pid = message.first("PID")
    parts: tuple[str, ...] | None = None
    if zwi is not None:
        parts = () if zwi.is_null(4) else (_injury_parts(zwi) or None)
    segments = message.all("DG1")
    cleared = bool(segments) and all(dg1.is_null(3) for dg1 in segments)
    return UpdateVisit(
        his_visit_id=visit,
        # only a ZWI-5 said: PV1-10 alone may follow a medical stay to the rehab ward
        kind=_kind(zwi, pv1) if zwi is not None and zwi.get(5) else None,
        department="" if pv1.is_null(3) else (pv1.get(3) or None),
        diagnoses=() if cleared else (_diagnoses(message) or None),
        injury_parts=parts,
        patient_name=(_name(pid) or None) if pid else None,
        citizen_id=citizen_id,
    )


def _admit(
    message: Hl7Message, pv1: Segment, visit: str, profile: SiteProfile, event: str
) -> Admit:
    pid = message.require("PID")
    zwi = message.first("ZWI")
    if zwi is None:
        raise Hl7Error(
            f"入院登记（{event}）缺少ZWI工伤信息段（社保卡类型、卡号）",
            Location("ZWI"),
            hl7_code="100",
            code="HL7_SEGMENT_MISSING",
        )
    patient_class = pv1.get(2).upper()
    if event == "A06" and patient_class != "I":
        # A06 names the class the patient changes to; anything but I is no admission to a ward
        raise Hl7Error(
            "门诊转住院（ADT^A06）的患者类别（PV1-2）须为I（住院），"
            f"收到：{patient_class or '（空）'}；门诊就诊不属于直接结算（N§3）",
            pv1.location(2),
            hl7_code=REQUIRED_FIELD_MISSING if not patient_class else TABLE_VALUE_NOT_FOUND,
            code="HL7_BAD_PATIENT_CLASS",
        )
    if patient_class not in ("", "I"):
        raise Hl7Error(
            f"仅支持住院（PV1-2=I），收到：{patient_class}",
            pv1.location(2),
            hl7_code=TABLE_VALUE_NOT_FOUND,
            code="HL7_BAD_PATIENT_CLASS",
        )
    citizen_id, patient_id = _identifiers(pid)
    card = _card(zwi, citizen_id, _name(pid), _GENDERS.get(pid.get(8).upper(), Gender.UNKNOWN))
    admitted_at = parse_ts(_required(pv1, 44, "入院时间"), profile.zone, pv1.location(44))
    return Admit(
        card=card,
        his_visit_id=visit,
        kind=_kind(zwi, pv1),
        admitted_at=admitted_at,
        diagnoses=_diagnoses(message),
        injury_parts=_injury_parts(zwi),
        department=pv1.get(3),
        his_patient_id=patient_id,
        patient_name=card.name,
    )


def _identifiers(pid: Segment) -> tuple[str, str]:
    """(citizen id from the ``NI`` repetition, HIS patient id from ``PI``)."""
    citizen_id = patient_id = ""
    for index in range(1, len(pid.repetitions(3)) + 1):
        kind = pid.get(3, 5, index).upper()
        value = pid.get(3, 1, index)
        if kind == "NI" and not citizen_id:
            # GB 11643's check digit is an upper-case X; HIS systems store what was typed
            citizen_id = value.upper()
        elif kind == "PI" and not patient_id:
            patient_id = value
    return citizen_id, patient_id


def _name(pid: Segment) -> str:
    """PID-5: Chinese names usually arrive whole in the family-name component."""
    return (pid.get(5, 1) + pid.get(5, 2)).strip()


def _card(zwi: Segment, citizen_id: str, name: str, gender: Gender) -> CardData:
    kind_text = zwi.get(1).upper()
    kind = _CARD_KINDS.get(kind_text)
    if kind is None:
        raise Hl7Error(
            f"ZWI-1社保卡类型应为P（实体卡）或E（电子社保卡），收到：{kind_text or '（空）'}",
            zwi.location(1),
            hl7_code=TABLE_VALUE_NOT_FOUND if kind_text else REQUIRED_FIELD_MISSING,
            code="HL7_BAD_CARD_KIND",
        )
    card_no, token = zwi.get(2), zwi.get(3)
    if kind is CardKind.PHYSICAL and not card_no:
        raise Hl7Error(
            "实体社保卡须填写卡号（ZWI-2）",
            zwi.location(2),
            hl7_code=REQUIRED_FIELD_MISSING,
            code="HL7_REQUIRED",
        )
    if kind is CardKind.ECARD and not token:
        raise Hl7Error(
            "电子社保卡须填写二维码凭证（ZWI-3）",
            zwi.location(3),
            hl7_code=REQUIRED_FIELD_MISSING,
            code="HL7_REQUIRED",
        )
    return CardData(
        kind=kind, card_no=card_no, citizen_id=citizen_id, name=name, gender=gender, qr_token=token
    )


def _kind(zwi: Segment, pv1: Segment) -> EncounterKind:
    text = zwi.get(5).lower()
    rehab_service = pv1.get(10).upper() == "REH"
    if not text:
        return EncounterKind.REHAB if rehab_service else EncounterKind.MEDICAL
    if text not in ("medical", "rehab"):
        raise Hl7Error(
            f"ZWI-5就诊类型应为medical或rehab，收到：{text}",
            zwi.location(5),
            hl7_code=TABLE_VALUE_NOT_FOUND,
            code="HL7_BAD_ENCOUNTER_KIND",
        )
    kind = EncounterKind(text)
    if rehab_service and kind is not EncounterKind.REHAB:
        raise Hl7Error(
            "ZWI-5就诊类型（medical）与PV1-10（REH康复）不一致",
            zwi.location(5),
            hl7_code=TABLE_VALUE_NOT_FOUND,
            code="HL7_KIND_CONFLICT",
        )
    return kind


def _injury_parts(zwi: Segment) -> tuple[str, ...]:
    repetitions = zwi.repetitions(4)
    if len(repetitions) > MAX_INJURY_PARTS:
        raise _too_many(f"受伤部位（ZWI-4）超过{MAX_INJURY_PARTS}项", zwi.location(4))
    parts = (zwi.unescape(part).strip() for part in repetitions)
    return tuple(part for part in parts if part)


def _diagnoses(message: Hl7Message) -> tuple[Diagnosis, ...]:
    found = []
    for dg1 in message.iter("DG1"):
        if dg1.sequence > MAX_DIAGNOSES:
            raise _too_many(f"诊断（DG1段）超过{MAX_DIAGNOSES}个", dg1.location())
        code = dg1.get(3, 1)
        if not code:
            raise Hl7Error(
                "DG1段缺少诊断编码（DG1-3）",
                dg1.location(3),
                hl7_code=REQUIRED_FIELD_MISSING,
                code="HL7_REQUIRED",
            )
        found.append(Diagnosis(code=code, name=dg1.get(3, 2) or dg1.get(4)))
    return tuple(found)


def _too_many(message: str, location: Location) -> Hl7Error:
    return Hl7Error(message, location, hl7_code=DATA_TYPE_ERROR, code="HL7_TOO_MANY")


def _required(segment: Segment, number: int, label: str) -> str:
    value = segment.get(number)
    if not value:
        raise Hl7Error(
            f"缺少{label}（{segment.name}-{number}）",
            segment.location(number),
            hl7_code=REQUIRED_FIELD_MISSING,
            code="HL7_REQUIRED",
        )
    return value
