"""The reference dialect's ``output`` objects, read into domain types.

Field names are the dialect's (interfaces.md §3 and the simulator's seed format): dates
``YYYY-MM-DD``, money as strings. Each ``read_*`` raises ``KeyError``/``ValueError``/
``TypeError`` on a missing or wrong field; the client turns that into ``UpstreamMalformed``.

Output shapes, by transaction:

* WI9001 ``{"signinoutb": {"sign_no", "sign_time"}}``
* WI1101/WI1102 ``{"baseinfo": {psn_no, certno, psn_name, gend, brdy, insuplc_admdvs,
  card_no, card_sn, card_status}, "suspensions": [{since, until, reason}],
  "token_expires_at"?}``
* WI1201 ``{"filings": [<filing as seeded>]}``
* WI1301 ``{"institution": {fixmedins_code, fixmedins_name, kinds | kind, admvs,
  direct_settlement}}``
* WI1401 ``{"items": [<catalogue item as seeded>], "version"}``
* WI3201 ``{fixmedins_code, month, setl_cnt, total, fund_pay, psn_pay, settlements: [...]}``
* WI3202 ``{"deductions": [{deduction_no, month, setl_id, psn_no, item_code, item_name,
  amount, reason}]}``
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
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
from adapter.domain.money import is_fen
from adapter.domain.people import CardStatus, Gender, Person, Suspension
from adapter.domain.upstream import (
    AuditDeduction,
    PersonRecord,
    ReconciledSettlement,
    ReconciliationFigures,
)


def _str(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None:
        if default is not None:
            return default
        raise KeyError(key)
    if not isinstance(value, str | int):
        raise TypeError(f"{key} must be text, got {type(value).__name__}")
    return str(value)


def _date(data: dict[str, Any], key: str) -> date:
    return date.fromisoformat(_str(data, key))


def _opt_date(data: dict[str, Any], key: str) -> date | None:
    value = data.get(key)
    return date.fromisoformat(str(value)) if value else None


def _money(data: dict[str, Any], key: str) -> Decimal:
    value = data.get(key)
    if value is None or isinstance(value, float | bool):
        raise ValueError(f"{key} must be a money string, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{key} is not a money amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"{key} is not a money amount: {value!r}")
    return amount


def _fen(data: dict[str, Any], key: str) -> Decimal:
    """A settled amount: to the fen. A finer one is not a settlement's (the month and its
    deductions are compared and stored to the fen), so the reply is refused as malformed
    rather than kept or rounded."""
    amount = _money(data, key)
    if not is_fen(amount):
        raise ValueError(f"{key} is not to the fen: {data.get(key)!r}")
    return amount


def _opt_money(data: dict[str, Any], key: str) -> Decimal | None:
    return None if data.get(key) in (None, "") else _money(data, key)


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise TypeError(f"{key} must be a list")
    return value


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data[key]
    if not isinstance(value, dict):
        raise TypeError(f"{key} must be an object")
    return value


def read_sign_no(output: dict[str, Any]) -> str:
    sign_no = _str(_obj(output, "signinoutb"), "sign_no")
    if not sign_no:
        raise ValueError("sign_no is empty")
    return sign_no


def read_person(output: dict[str, Any]) -> PersonRecord:
    base = _obj(output, "baseinfo")
    person = Person(
        psn_no=_str(base, "psn_no"),
        citizen_id=_str(base, "certno"),
        name=_str(base, "psn_name"),
        gender=Gender(_str(base, "gend", "9")),
        birth_date=_opt_date(base, "brdy"),
        insured_admdvs=_str(base, "insuplc_admdvs"),
        card_no=_str(base, "card_no", ""),
        card_sn=_str(base, "card_sn", ""),
        card_status=CardStatus(_str(base, "card_status", "normal")),
    )
    suspensions = tuple(
        Suspension(
            psn_no=person.psn_no,
            since=_date(item, "since"),
            reason=_str(item, "reason", ""),
            until=_opt_date(item, "until"),
        )
        for item in _list(output, "suspensions")
    )
    expires = output.get("token_expires_at")
    return PersonRecord(
        person=person,
        suspensions=suspensions,
        token_expires_at=datetime.fromisoformat(expires) if expires else None,
    )


def read_filing(data: dict[str, Any]) -> Filing:
    devices = tuple(
        FiledDevice(
            device_code=_str(d, "device_code"),
            device_name=_str(d, "device_name"),
            min_years=int(d.get("min_years") or 0),
            limit=_money(d, "limit"),
        )
        for d in _list(data, "devices")
    )
    parts = data.get("injury_parts") or []
    if isinstance(parts, str):
        parts = [p for p in parts.replace("，", ",").split(",") if p]
    return Filing(
        filing_no=_str(data, "filing_no"),
        psn_no=_str(data, "psn_no"),
        purpose=FilingPurpose(_str(data, "purpose")),
        category=FilingCategory(_str(data, "category")),
        treatment_admdvs=_str(data, "mdtrtarea_admvs"),
        valid_from=_date(data, "begndate"),
        valid_to=_date(data, "enddate"),
        filed_on=_date(data, "filed_on"),
        status=FilingStatus(_str(data, "status", "active")),
        name=_str(data, "psn_name", ""),
        gender=_str(data, "gend", ""),
        citizen_id=_str(data, "certno", ""),
        injury_parts=tuple(str(p) for p in parts),
        injury_decision_no=_str(data, "injury_decision_no", ""),
        phone=_str(data, "tel", ""),
        address=_str(data, "addr", ""),
        filing_type=FilingType(_str(data, "filing_type", "new")),
        applicant=Applicant(_str(data, "applicant", "self")),
        relative_name=_str(data, "relative_name", ""),
        relative_citizen_id=_str(data, "relative_citizen_id", ""),
        relative_phone=_str(data, "relative_phone", ""),
        employer_name=_str(data, "employer_name", ""),
        employer_credit_code=_str(data, "employer_credit_code", ""),
        employer_contact=_str(data, "employer_contact", ""),
        employer_phone=_str(data, "employer_phone", ""),
        treatment_province=_str(data, "treatment_province", ""),
        insured_admdvs=_str(data, "insuplc_admdvs", ""),
        agency_opinion=_str(data, "agency_opinion", ""),
        terminated_on=_opt_date(data, "terminated_on"),
        successor_no=_str(data, "successor_no", ""),
        third_party_liability=bool(data.get("third_party_liability", False)),
        device_assessment_no=_str(data, "device_assessment_no", ""),
        approval_notice_no=_str(data, "approval_notice_no", ""),
        devices=devices,
    )


def read_filings(output: dict[str, Any]) -> list[Filing]:
    return [read_filing(item) for item in _list(output, "filings")]


def read_institution(output: dict[str, Any]) -> Institution:
    data = _obj(output, "institution")
    kinds = data.get("kinds")
    if kinds is None:
        kinds = [_str(data, "kind")]
    if not isinstance(kinds, list):
        raise TypeError("kinds must be a list")
    return Institution(
        code=_str(data, "fixmedins_code"),
        name=_str(data, "fixmedins_name"),
        kinds=frozenset(str(k) for k in kinds),
        admdvs=_str(data, "admvs"),
        status=DirectSettlementStatus(_str(data, "direct_settlement")),
    )


def read_catalogue_item(data: dict[str, Any]) -> CatalogueItem:
    return CatalogueItem(
        kind=CatalogueKind(_str(data, "kind")),
        code=_str(data, "code"),
        name=_str(data, "name"),
        region=_str(data, "region"),
        unit=_str(data, "unit", ""),
        price_cap=_opt_money(data, "price_cap"),
        limit=_opt_money(data, "limit"),
        version=_str(data, "version", ""),
        valid_from=_opt_date(data, "begndate") or date.min,
        valid_to=_opt_date(data, "enddate"),
    )


def read_catalogue(output: dict[str, Any]) -> list[CatalogueItem]:
    return [read_catalogue_item(item) for item in _list(output, "items")]


def read_reconciliation(output: dict[str, Any]) -> ReconciliationFigures:
    settlements = tuple(
        ReconciledSettlement(
            setl_id=_str(s, "setl_id"),
            msgid=_str(s, "msgid", ""),
            psn_no=_str(s, "psn_no"),
            kind=_str(s, "kind", "medical"),
            setl_date=_date(s, "setl_date"),
            total=_fen(s, "total"),
            fund_pay=_fen(s, "fund_pay"),
            personal_pay=_fen(s, "psn_pay"),
            revoked=bool(s.get("revoked", False)),
        )
        for s in _list(output, "settlements")
    )
    return ReconciliationFigures(
        fixmedins_code=_str(output, "fixmedins_code"),
        month=_str(output, "month"),
        settlement_count=int(output.get("setl_cnt", 0)),
        total=_fen(output, "total"),
        fund_pay=_fen(output, "fund_pay"),
        personal_pay=_fen(output, "psn_pay"),
        settlements=settlements,
    )


def read_deductions(output: dict[str, Any]) -> list[AuditDeduction]:
    return [
        AuditDeduction(
            deduction_no=_str(d, "deduction_no"),
            month=_str(d, "month"),
            setl_id=_str(d, "setl_id", ""),
            psn_no=_str(d, "psn_no", ""),
            item_code=_str(d, "item_code", ""),
            item_name=_str(d, "item_name", ""),
            amount=_fen(d, "amount"),
            reason=_str(d, "reason", ""),
        )
        for d in _list(output, "deductions")
    ]
