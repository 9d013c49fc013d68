"""The seeded workers' cards, local times, and fee lines, for the use-case tests."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from adapter.domain.commands import Admit, Diagnosis
from adapter.domain.encounters import EncounterKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.people import CardData, CardKind
from connectors.upstream.simulator.demo_seed import demo_seed

ZONE = ZoneInfo("Asia/Shanghai")
# The day the tests' stays happen on: today from 16:00 Beijing time, yesterday before. The
# tests discharge, fit and settle at hours of that day up to 15:00 (``local(0, 15)``), and
# the adapter refuses a time in the future; with the calendar date, every such test failed
# between midnight and that hour.
TODAY: date = (datetime.now(ZONE) - timedelta(hours=16)).date()
NOON = datetime.combine(TODAY, time(12), tzinfo=ZONE)  # the simulator's clock (fixtures.py)
INSTITUTION = "H11010000001"

# The simulator's demo seed (connectors/upstream/simulator/demo_seed.py): card numbers.
CARD_NO = {
    "P001": "310100A0001",
    "P002": "130100B0002",
    "P003": "410100C0003",
    "P004": "370100D0004",
    "P005": "320100E0005",
    "P006": "440100F0006",
    "P007": "420100G0007",
    "P008": "510100H0008",
    "P009": "210100J0009",
    "P010": "330100K0010",
    "P011": "310100L0011",
    "P012": "340100M0012",
    "P013": "140100N0013",
    "P014": "120100P0014",
}


def card(psn_no: str) -> CardData:
    return CardData(kind=CardKind.PHYSICAL, card_no=CARD_NO.get(psn_no, f"CARD{psn_no[1:]}"))


def local(days: int, hour: int = 9, minute: int = 0) -> datetime:
    """``days`` from today (negative: ago) at ``hour``, Beijing time."""
    return datetime.combine(TODAY + timedelta(days=days), time(hour, minute), tzinfo=ZONE)


def filed_part(psn_no: str) -> str:
    """The first injured part of the worker's filing in the demo seed; 左手 for a worker a
    test seeds itself (what the tests' own filings list)."""
    filings = demo_seed(TODAY)["filings"]
    parts = next((f["injury_parts"] for f in filings if f["psn_no"] == psn_no), None)
    return str(parts[0]) if parts else "左手"


def admit(
    psn_no: str,
    visit: str,
    *,
    days: int = -5,
    kind: EncounterKind = EncounterKind.MEDICAL,
    parts: tuple[str, ...] | None = None,
) -> Admit:
    """``psn_no``'s admission, treating ``parts`` — by default the first part of the worker's
    seeded filing (an admission names what it treats, N§16)."""
    if parts is None:
        parts = (filed_part(psn_no),)
    return Admit(
        card=card(psn_no),
        his_visit_id=visit,
        kind=kind,
        admitted_at=local(days),
        diagnoses=(Diagnosis("S62.301", "左手第三掌骨骨折"),),
        injury_parts=parts,
        department="骨科",
    )


def fee(
    line_id: str,
    code: str,
    amount: str,
    *,
    quantity: str = "1",
    category: FeeCategory = FeeCategory.DRUG,
    days: int = -4,
    work_injury: bool = True,
    reverses: str = "",
    name: str = "",
) -> FeeLine:
    qty, total = Decimal(quantity), Decimal(amount)
    return FeeLine(
        line_id=line_id,
        item_code=code,
        item_name=name or code,
        category=category,
        quantity=qty,
        unit_price=abs(total / qty).quantize(Decimal("0.0001")),
        amount=total,
        occurred_at=local(days, 10),
        work_injury=work_injury,
        reverses=reverses,
    )
