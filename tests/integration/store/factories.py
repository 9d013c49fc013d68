"""Domain objects for store tests, built with the domain's own functions where it has them."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from adapter.domain.catalogue import Catalogue, CatalogueItem, CatalogueKind
from adapter.domain.devices import DeviceItem, price_devices
from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.filings import (
    Applicant,
    FiledDevice,
    Filing,
    FilingCategory,
    FilingPurpose,
)
from adapter.domain.pricing import price_lines
from adapter.domain.settlement import Bill, Breakdown, Settlement, make_bill

SHANGHAI = timezone(timedelta(hours=8))
REGION = "110100"
INSURED = "130100"
INSTITUTION = "H11010000001"


def at(day: str, hour: int = 9, minute: int = 0) -> datetime:
    """A Beijing local time (aware, +08:00), as the HIS sends it."""
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=SHANGHAI)


def catalogue() -> Catalogue:
    return Catalogue(
        [
            CatalogueItem(
                CatalogueKind.DRUG,
                "D001",
                "阿莫西林胶囊",
                REGION,
                "盒",
                None,
                None,
                "2025",
                date(2025, 1, 1),
            ),
            CatalogueItem(
                CatalogueKind.SERVICE_STANDARD,
                "BED1",
                "普通病房床位费",
                REGION,
                "日",
                Decimal("50.00"),
                None,
                "2025",
                date(2025, 1, 1),
                date(2026, 12, 31),
            ),
            CatalogueItem(
                CatalogueKind.DEVICE,
                "PROS1",
                "小腿假肢",
                INSURED,
                "具",
                None,
                Decimal("8000.00"),
                "2024",
                date(2024, 1, 1),
            ),
        ]
    )


def encounter(
    encounter_id: str = "E1",
    *,
    visit: str | None = None,
    kind: EncounterKind = EncounterKind.MEDICAL,
    status: EncounterStatus = EncounterStatus.ADMITTED,
) -> Encounter:
    return Encounter(
        id=encounter_id,
        kind=kind,
        psn_no="P001",
        filing_no="F001",
        institution_code=INSTITUTION,
        his_visit_id=visit or f"V-{encounter_id}",
        admitted_at=at("2025-12-28", 10, 15),
        status=status,
        insured_admdvs=INSURED,
        department="骨科",
        diagnoses=("S82.201 胫骨骨折",),
        injury_parts=("左小腿", "左踝"),
    )


def fee_lines() -> list[FeeLine]:
    def line(line_id: str, code: str, category: FeeCategory, qty: str, price: str, **kw: object):
        amount = (Decimal(qty) * Decimal(price)).quantize(Decimal("0.01"))
        return FeeLine(
            line_id,
            code,
            f"项目{code}",
            category,
            Decimal(qty),
            Decimal(price),
            amount,
            kw.pop("occurred_at", at("2025-12-30")),
            **kw,  # type: ignore[arg-type]
        )

    return [
        line("L1", "D001", FeeCategory.DRUG, "3", "12.35", unit="盒", department="骨科"),
        line("L2", "BED1", FeeCategory.SERVICE, "3", "80.00", unit="日"),  # over the standard
        line("L3", "X999", FeeCategory.TREATMENT, "1", "199.99"),  # out of catalogue
        line("L4", "D001", FeeCategory.DRUG, "1", "12.35", work_injury=False),  # 伤病分离
        line("L5", "MEAL", FeeCategory.MEAL, "6", "20.00"),  # excluded
        line(
            "L6",
            "D001",
            FeeCategory.DRUG,
            "-1",
            "12.35",
            reverses="L1",
            occurred_at=at("2026-01-02"),
        ),
        line("L7", "D001", FeeCategory.DRUG, "0.5", "0.0123"),  # a fraction of a fen per unit
    ]


def medical_bill() -> Bill:
    discharged = at("2026-01-03", 10)
    priced = price_lines(fee_lines(), catalogue(), REGION)
    return make_bill(priced, at("2025-12-28", 10, 15), discharged)


def settlement(
    settlement_id: str = "S1",
    *,
    enc: Encounter | None = None,
    slip_no: str = "H110100000012026010300001",
    bill: Bill | None = None,
    settled_at: datetime | None = None,
) -> Settlement:
    enc = enc or encounter(status=EncounterStatus.SETTLED)
    return Settlement(
        id=settlement_id,
        encounter=enc,
        slip_no=slip_no,
        settled_at=settled_at or at("2026-01-03", 10, 30),
        bill=bill or medical_bill(),
        operator="clerk01",
    )


def device_filing() -> Filing:
    return Filing(
        filing_no="F002",
        psn_no="P001",
        purpose=FilingPurpose.DEVICE,
        category=FilingCategory.REFERRAL,
        treatment_admdvs=REGION,
        valid_from=date(2025, 6, 1),
        valid_to=date(2026, 5, 31),
        filed_on=date(2025, 5, 20),
        name="张三",
        gender="1",
        citizen_id="110101199001011234",
        injury_parts=("左小腿",),
        injury_decision_no="京人社工伤认〔2025〕123号",
        applicant=Applicant.EMPLOYER,
        employer_name="某建筑公司",
        employer_credit_code="91110000MA01ABCDE1",
        treatment_province="110000",
        insured_admdvs=INSURED,
        device_assessment_no="冀辅结〔2025〕8号",
        approval_notice_no="冀核付〔2025〕15号",
        devices=(
            FiledDevice("PROS1", "小腿假肢", 3, Decimal("7500.00")),
            FiledDevice("CRUTCH", "肘拐", 2, Decimal("120.50")),
        ),
    )


def medical_filing(**changes: object) -> Filing:
    values: dict[str, object] = {
        "filing_no": "F001",
        "psn_no": "P001",
        "purpose": FilingPurpose.MEDICAL,
        "category": FilingCategory.LONG_TERM_RESIDENCE,
        "treatment_admdvs": REGION,
        "valid_from": date(2025, 3, 1),
        "valid_to": date(2026, 2, 28),
        "filed_on": date(2025, 2, 20),
        "injury_parts": ("左小腿", "左踝"),
        "phone": "13800001234",
        "third_party_liability": False,
    }
    values.update(changes)
    return Filing(**values)  # type: ignore[arg-type]


def device_bill() -> Bill:
    fitted = at("2026-01-05", 14)
    lines = price_devices(
        [
            DeviceItem("PROS1", "小腿假肢", Decimal("9000.00"), "D1"),  # above the filed limit
            DeviceItem("CRUTCH", "肘拐", Decimal("99.90"), "D2"),  # not in the catalogue
        ],
        device_filing(),
        catalogue(),
        INSURED,
        fitted,
    )
    return Bill(lines, (), Breakdown.of(lines), fitted.date(), False)
