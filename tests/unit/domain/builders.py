"""Small builders for domain objects: one valid baseline, changed field by field in tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from adapter.domain.catalogue import Catalogue, CatalogueItem, CatalogueKind
from adapter.domain.eligibility_request import EligibilityRequest, Stage
from adapter.domain.encounters import EncounterKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.filings import FiledDevice, Filing, FilingCategory, FilingPurpose
from adapter.domain.institutions import Institution
from adapter.domain.people import CardData, CardKind, Gender, Person

SHANGHAI = ZoneInfo("Asia/Shanghai")
BEIJING = "110100"
INSURED = "310100"


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


def person(**changes: Any) -> Person:
    base = Person(
        psn_no="P001",
        citizen_id="310101199001011237",
        name="张三",
        gender=Gender.MALE,
        birth_date=date(1990, 1, 1),
        insured_admdvs=INSURED,
        card_no="A12345678",
    )
    return replace(base, **changes)


def card(**changes: Any) -> CardData:
    base = CardData(
        kind=CardKind.PHYSICAL, card_no="A12345678", citizen_id="310101199001011237", name="张三"
    )
    return replace(base, **changes)


def filing(**changes: Any) -> Filing:
    base = Filing(
        filing_no="F001",
        psn_no="P001",
        purpose=FilingPurpose.MEDICAL,
        category=FilingCategory.LONG_TERM_RESIDENCE,
        treatment_admdvs=BEIJING,
        valid_from=date(2026, 1, 10),
        valid_to=date(2027, 1, 9),
        filed_on=date(2026, 1, 5),
        name="张三",
        citizen_id="310101199001011237",
        injury_parts=("左手", "左前臂"),
        insured_admdvs=INSURED,
    )
    return replace(base, **changes)


def device_filing(**changes: Any) -> Filing:
    return filing(
        filing_no="F100",
        purpose=FilingPurpose.DEVICE,
        approval_notice_no="沪工伤辅核〔2026〕0123号",
        devices=(
            FiledDevice("D01", "上肢假肢", 3, Decimal("12000.00")),
            FiledDevice("D02", "轮椅", 5, Decimal("2500.00")),
        ),
        **changes,
    )


def institution(**changes: Any) -> Institution:
    base = Institution(
        code="H11010000001",
        name="示例工伤协议医院",
        kinds=frozenset({"medical", "rehab", "device"}),
        admdvs=BEIJING,
    )
    return replace(base, **changes)


def request(**changes: Any) -> EligibilityRequest:
    base = EligibilityRequest(
        card=card(),
        person=person(),
        filings=(filing(),),
        suspensions=(),
        institution=institution(),
        kind=EncounterKind.MEDICAL,
        admitted_on=date(2026, 11, 24),
        checked_on=date(2026, 11, 24),
        stage=Stage.ADMISSION,
    )
    return replace(base, **changes)


def item(kind: CatalogueKind, code: str, **changes: Any) -> CatalogueItem:
    base = CatalogueItem(kind=kind, code=code, name=code, region=BEIJING, version="2026.1")
    return replace(base, **changes)


def catalogue(*items: CatalogueItem) -> Catalogue:
    return Catalogue(items)


def fee(line_id: str, code: str, amount: str, **changes: Any) -> FeeLine:
    quantity = Decimal(changes.pop("quantity", "1"))
    base = FeeLine(
        line_id=line_id,
        item_code=code,
        item_name=code,
        category=FeeCategory.DRUG,
        quantity=quantity,
        unit_price=abs(Decimal(amount) / quantity),
        amount=Decimal(amount),
        occurred_at=at("2026-11-25"),
    )
    return replace(base, **changes)
