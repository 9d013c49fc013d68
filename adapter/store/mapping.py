"""Rows ↔ domain objects. Pure functions; the only place that knows both shapes.

Enum-valued fields are stored as their values (plain strings), so a renamed Python member
never rewrites data, and rows rebuild the domain's frozen dataclasses exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from adapter.domain.catalogue import CatalogueItem
from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.fees import FeeCategory, FeeLine
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
from adapter.domain.people import CardStatus, Gender, Person, Suspension, identity_key
from adapter.domain.pricing import PricedLine
from adapter.store.tables import (
    FilingRow,
)
from adapter.store.tables.encounters import FeeLineColumns

FEE_LINE_FIELDS = tuple(FeeLineColumns.model_fields)


def person_row(person: Person, seen_at: datetime) -> dict[str, Any]:
    """The worker as kept: the citizen ID and card number in the one form every lookup asks
    with (:func:`~adapter.domain.people.identity_key`), so a worker upstream sends as
    ``…137x `` is found by the card's ``…137X`` (migration 0015 for rows kept before)."""
    return {
        "psn_no": person.psn_no,
        "citizen_id": identity_key(person.citizen_id),
        "name": person.name,
        "gender": person.gender.value,
        "birth_date": person.birth_date,
        "insured_admdvs": person.insured_admdvs,
        "card_no": identity_key(person.card_no),
        "card_sn": person.card_sn,
        "card_status": person.card_status.value,
        "seen_at": seen_at,
    }


def person_of(row: Row[Any]) -> Person:
    return Person(
        psn_no=row.psn_no,
        citizen_id=row.citizen_id,
        name=row.name,
        gender=Gender(row.gender),
        birth_date=row.birth_date,
        insured_admdvs=row.insured_admdvs,
        card_no=row.card_no,
        card_sn=row.card_sn,
        card_status=CardStatus(row.card_status),
    )


_FILING_ENUMS = {
    "purpose": FilingPurpose,
    "category": FilingCategory,
    "status": FilingStatus,
    "filing_type": FilingType,
    "applicant": Applicant,
}
_FILING_SCALARS = tuple(
    name for name in FilingRow.model_fields if name not in ("injury_parts", "seen_at")
)


def filing_row(filing: Filing, seen_at: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(filing, name) for name in _FILING_SCALARS}
    for name in _FILING_ENUMS:
        values[name] = values[name].value
    values["injury_parts"] = list(filing.injury_parts)
    values["seen_at"] = seen_at
    return values


def filing_device_rows(filing: Filing) -> list[dict[str, Any]]:
    return [
        {
            "filing_no": filing.filing_no,
            "position": position,
            "device_code": device.device_code,
            "device_name": device.device_name,
            "min_years": device.min_years,
            "limit_amount": device.limit,
        }
        for position, device in enumerate(filing.devices)
    ]


def filing_of(row: Row[Any], devices: list[Row[Any]]) -> Filing:
    values: dict[str, Any] = {name: getattr(row, name) for name in _FILING_SCALARS}
    for name, enum in _FILING_ENUMS.items():
        values[name] = enum(values[name])
    return Filing(
        **values,
        injury_parts=tuple(row.injury_parts),
        devices=tuple(
            FiledDevice(d.device_code, d.device_name, d.min_years, d.limit_amount)
            for d in sorted(devices, key=lambda d: d.position)
        ),
    )


def suspension_of(row: Row[Any]) -> Suspension:
    return Suspension(psn_no=row.psn_no, since=row.since, reason=row.reason, until=row.until)


def institution_row(institution: Institution, seen_at: datetime) -> dict[str, Any]:
    return {
        "code": institution.code,
        "name": institution.name,
        "kinds": sorted(institution.kinds),
        "admdvs": institution.admdvs,
        "status": institution.status.value,
        "seen_at": seen_at,
    }


def institution_of(row: Row[Any]) -> Institution:
    return Institution(
        code=row.code,
        name=row.name,
        kinds=frozenset(row.kinds),
        admdvs=row.admdvs,
        status=DirectSettlementStatus(row.status),
    )


def catalogue_row(item: CatalogueItem) -> dict[str, Any]:
    return {
        "kind": item.kind.value,
        "code": item.code,
        "name": item.name,
        "region": item.region,
        "unit": item.unit,
        "price_cap": item.price_cap,
        "limit_amount": item.limit,
        "version": item.version,
        "valid_from": item.valid_from,
        "valid_to": item.valid_to,
    }


def encounter_values(encounter: Encounter) -> dict[str, Any]:
    return {
        "id": encounter.id,
        "kind": encounter.kind.value,
        "psn_no": encounter.psn_no,
        "filing_no": encounter.filing_no,
        "institution_code": encounter.institution_code,
        "his_visit_id": encounter.his_visit_id,
        "admitted_at": encounter.admitted_at,
        "discharged_at": encounter.discharged_at,
        "status": encounter.status.value,
        "insured_admdvs": encounter.insured_admdvs,
        "department": encounter.department,
        "diagnoses": list(encounter.diagnoses),
        "injury_parts": list(encounter.injury_parts),
    }


def encounter_of(row: Row[Any]) -> Encounter:
    return Encounter(
        id=row.id,
        kind=EncounterKind(row.kind),
        psn_no=row.psn_no,
        filing_no=row.filing_no,
        institution_code=row.institution_code,
        his_visit_id=row.his_visit_id,
        admitted_at=row.admitted_at,
        status=EncounterStatus(row.status),
        insured_admdvs=row.insured_admdvs,
        department=row.department,
        diagnoses=tuple(row.diagnoses),
        injury_parts=tuple(row.injury_parts),
        discharged_at=row.discharged_at,
    )


def fee_line_values(line: FeeLine) -> dict[str, Any]:
    values = {name: getattr(line, name) for name in FEE_LINE_FIELDS}
    values["category"] = line.category.value
    return values


def fee_line_of(row: Any) -> FeeLine:
    """Any row with the :class:`FeeLineColumns` fields (fee line, snapshot, excluded line)."""
    values = {name: getattr(row, name) for name in FEE_LINE_FIELDS}
    values["category"] = FeeCategory(values["category"])
    return FeeLine(**values)


def priced_line_values(priced: PricedLine) -> dict[str, Any]:
    """A settlement snapshot's line: the line, its price and the device limit it was priced
    against (the snapshot's own column; a fee line has none)."""
    return {
        **fee_line_values(priced.line),
        **price_values(priced),
        "priced_limit": priced.limit,
    }


def price_values(priced: PricedLine) -> dict[str, Any]:
    """The price of a line (split, rule, catalogue item), without the line's own fields."""
    item = priced.item
    return {
        "fund_pay": priced.fund_pay,
        "personal_pay": priced.personal_pay,
        "reason": priced.reason.value if priced.reason else "",
        "rule_code": priced.rule.code,
        "rule_article": priced.rule.article,
        "rule_template": priced.rule.message,
        "message": priced.message,
        "in_catalogue": item is not None,
        "cat_kind": item.kind.value if item else "",
        "cat_code": item.code if item else "",
        "cat_name": item.name if item else "",
        "cat_region": item.region if item else "",
        "cat_unit": item.unit if item else "",
        "cat_price_cap": item.price_cap if item else None,
        "cat_limit": item.limit if item else None,
        "cat_version": item.version if item else "",
        "cat_valid_from": item.valid_from if item else None,
        "cat_valid_to": item.valid_to if item else None,
    }
