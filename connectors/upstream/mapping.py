"""The reference dialect's ``output`` objects, read into domain types.

Field names are the dialect's (interfaces.md §3 and the simulator's seed format): dates
``YYYY-MM-DD``, money as strings; the variations a real upstream sends are read by
:mod:`connectors.upstream.fields`. Each ``read_*`` raises
:class:`~connectors.upstream.fields.BadField` (a ``ValueError`` naming the field's path) on
a missing or unreadable field; the client turns that into ``UpstreamMalformed``.

Output shapes, by transaction:

* WI9001 ``{"signinoutb": {"sign_no", "sign_time"}}``
* WI1101/WI1102 ``{"baseinfo": {psn_no, certno, psn_name, gend, brdy, insuplc_admdvs,
  card_no, card_sn, card_status}, "suspensions": [{since, until, reason}],
  "token_expires_at"?}``
* WI1201 ``{"filings": [<filing as seeded>]}``
* WI1301 ``{"institution": {fixmedins_code, fixmedins_name, kinds | kind, admvs,
  direct_settlement}}``
* WI1401 ``{"items": [<catalogue item as seeded>], "version"}``
* WI3201 ``{fixmedins_code, month, setl_cnt, total, fund_pay, psn_pay, settlements: [{setl_id,
  msgid, psn_no, kind, setl_date, total, fund_pay, psn_pay, revoked}]}`` (``kind``: medical,
  rehab or device, as the simulator sends it; optional)
* WI3202 ``{"deductions": [{deduction_no, month, setl_id, psn_no, item_code, item_name,
  amount, reason}]}``
"""

from __future__ import annotations

from datetime import date
from typing import Any

from adapter.domain.catalogue import CatalogueItem, CatalogueKind
from adapter.domain.filings import (
    Applicant,
    FiledDevice,
    Filing,
    FilingCategory,
    FilingPurpose,
    FilingStatus,
    FilingType,
)
from adapter.domain.institutions import DirectSettlementStatus, Institution
from adapter.domain.people import CardStatus, Gender, Person, Suspension
from adapter.domain.upstream import (
    AuditDeduction,
    PersonRecord,
    ReconciledSettlement,
    ReconciliationFigures,
)
from connectors.upstream.fields import (
    OPEN_ENDED,
    as_list,
    day,
    each,
    enum,
    fen,
    inside,
    integer,
    moment,
    obj,
    opt_day,
    opt_fen,
    text,
    yes_no,
)


def read_sign_no(output: dict[str, Any]) -> str:
    sign_no = text(obj(output, "signinoutb"), "sign_no")
    if not sign_no:
        raise ValueError("sign_no is empty")
    return sign_no


def read_person(output: dict[str, Any]) -> PersonRecord:
    base = obj(output, "baseinfo")
    with inside("baseinfo"):
        person = Person(
            psn_no=text(base, "psn_no"),
            citizen_id=text(base, "certno"),
            name=text(base, "psn_name"),
            gender=enum(base, "gend", Gender, "9"),
            birth_date=opt_day(base, "brdy"),
            insured_admdvs=text(base, "insuplc_admdvs"),
            card_no=text(base, "card_no", ""),
            card_sn=text(base, "card_sn", ""),
            card_status=enum(base, "card_status", CardStatus, "normal"),
        )
    suspensions = tuple(
        each(
            output,
            "suspensions",
            lambda item: Suspension(
                psn_no=person.psn_no,
                since=day(item, "since"),
                reason=text(item, "reason", ""),
                until=opt_day(item, "until"),
            ),
        )
    )
    return PersonRecord(
        person=person,
        suspensions=suspensions,
        token_expires_at=moment(output, "token_expires_at"),
    )


def _device(data: dict[str, Any]) -> FiledDevice:
    return FiledDevice(
        device_code=text(data, "device_code"),
        device_name=text(data, "device_name"),
        min_years=integer(data, "min_years", 0),
        limit=fen(data, "limit"),
    )


def read_filing(data: dict[str, Any]) -> Filing:
    parts = data.get("injury_parts") or []
    if isinstance(parts, str):
        parts = [p for p in parts.replace("，", ",").split(",") if p]
    return Filing(
        filing_no=text(data, "filing_no"),
        psn_no=text(data, "psn_no"),
        purpose=enum(data, "purpose", FilingPurpose),
        category=enum(data, "category", FilingCategory),
        treatment_admdvs=text(data, "mdtrtarea_admvs"),
        valid_from=day(data, "begndate"),
        valid_to=opt_day(data, "enddate") or OPEN_ENDED,  # none set by the province: N§11
        filed_on=day(data, "filed_on"),
        status=enum(data, "status", FilingStatus, "active"),
        name=text(data, "psn_name", ""),
        gender=text(data, "gend", ""),
        citizen_id=text(data, "certno", ""),
        injury_parts=tuple(str(p) for p in parts),
        injury_decision_no=text(data, "injury_decision_no", ""),
        phone=text(data, "tel", ""),
        address=text(data, "addr", ""),
        filing_type=enum(data, "filing_type", FilingType, "new"),
        applicant=enum(data, "applicant", Applicant, "self"),
        relative_name=text(data, "relative_name", ""),
        relative_citizen_id=text(data, "relative_citizen_id", ""),
        relative_phone=text(data, "relative_phone", ""),
        employer_name=text(data, "employer_name", ""),
        employer_credit_code=text(data, "employer_credit_code", ""),
        employer_contact=text(data, "employer_contact", ""),
        employer_phone=text(data, "employer_phone", ""),
        treatment_province=text(data, "treatment_province", ""),
        insured_admdvs=text(data, "insuplc_admdvs", ""),
        agency_opinion=text(data, "agency_opinion", ""),
        terminated_on=opt_day(data, "terminated_on"),
        successor_no=text(data, "successor_no", ""),
        third_party_liability=yes_no(data, "third_party_liability"),
        device_assessment_no=text(data, "device_assessment_no", ""),
        approval_notice_no=text(data, "approval_notice_no", ""),
        devices=tuple(each(data, "devices", _device)),
    )


def read_filings(output: dict[str, Any]) -> list[Filing]:
    return each(output, "filings", read_filing, required=True)


def read_institution(output: dict[str, Any]) -> Institution:
    data = obj(output, "institution")
    with inside("institution"):
        kinds = data.get("kinds")
        if kinds is None:
            kinds = text(data, "kind")
        if isinstance(kinds, str):  # "medical,rehab" as well as "medical"
            kinds = [k for k in kinds.replace("，", ",").split(",") if k.strip()]
        kinds = [str(k).strip().lower() for k in as_list({"kinds": kinds}, "kinds")]
        return Institution(
            code=text(data, "fixmedins_code"),
            name=text(data, "fixmedins_name"),
            kinds=frozenset(kinds),
            admdvs=text(data, "admvs"),
            status=enum(data, "direct_settlement", DirectSettlementStatus),
        )


def read_catalogue_item(data: dict[str, Any]) -> CatalogueItem:
    return CatalogueItem(
        kind=enum(data, "kind", CatalogueKind),
        code=text(data, "code"),
        name=text(data, "name"),
        region=text(data, "region"),
        unit=text(data, "unit", ""),
        price_cap=opt_fen(data, "price_cap"),
        limit=opt_fen(data, "limit"),
        version=text(data, "version", ""),
        valid_from=opt_day(data, "begndate") or date.min,
        valid_to=opt_day(data, "enddate"),
    )


def read_catalogue(output: dict[str, Any]) -> list[CatalogueItem]:
    return each(output, "items", read_catalogue_item, required=True)


def _settlement(s: dict[str, Any]) -> ReconciledSettlement:
    return ReconciledSettlement(
        setl_id=text(s, "setl_id"),
        msgid=text(s, "msgid", ""),
        psn_no=text(s, "psn_no"),
        # "": the row names no kind (compared without one), never a guess of "medical"
        kind=text(s, "kind", ""),
        setl_date=day(s, "setl_date"),
        total=fen(s, "total"),
        fund_pay=fen(s, "fund_pay"),
        personal_pay=fen(s, "psn_pay"),
        revoked=yes_no(s, "revoked"),
    )


def read_reconciliation(output: dict[str, Any]) -> ReconciliationFigures:
    return ReconciliationFigures(
        fixmedins_code=text(output, "fixmedins_code"),
        month=text(output, "month"),
        settlement_count=integer(output, "setl_cnt", 0),
        total=fen(output, "total"),
        fund_pay=fen(output, "fund_pay"),
        personal_pay=fen(output, "psn_pay"),
        settlements=tuple(each(output, "settlements", _settlement, required=True)),
    )


def _deduction(d: dict[str, Any]) -> AuditDeduction:
    return AuditDeduction(
        deduction_no=text(d, "deduction_no"),
        month=text(d, "month"),
        setl_id=text(d, "setl_id", ""),
        psn_no=text(d, "psn_no", ""),
        item_code=text(d, "item_code", ""),
        item_name=text(d, "item_name", ""),
        amount=fen(d, "amount"),
        reason=text(d, "reason", ""),
    )


def read_deductions(output: dict[str, Any]) -> list[AuditDeduction]:
    return each(output, "deductions", _deduction, required=True)
