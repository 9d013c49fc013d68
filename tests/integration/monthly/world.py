"""The monthly tests' world: January 2026 at the demo institution.

The simulator is seeded for :data:`SIM_TODAY` (its demo workers' filings are valid around
New Year 2026); the services' clock is set by each step to when it happens, so a stay can be
admitted in December and discharged in January. Catalogue version ``2025.1`` (from
2025-01-01) is seeded beside the demo's ``2026.1`` (from 2026-01-01) so December fees price.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from adapter.domain.commands import Admit, Diagnosis
from adapter.domain.devices import DeviceItem
from adapter.domain.encounters import EncounterKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.settlement import Settlement
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.services.settlement import SettleRequest
from tests.integration.services.device_world import NAMES, NOTICE
from tests.integration.services.helpers import INSTITUTION, card, filed_part

ZONE = ZoneInfo("Asia/Shanghai")
SIM_TODAY = date(2026, 1, 10)
BEIJING = "110100"
DRUG = "XN02BEB001"  # 布洛芬缓释胶囊
BED = "110900001A"  # 普通病房床位费（三人间）, standard 50.00/日


class SetClock:
    """A clock the test sets; aware, UTC. Starts at :data:`SIM_TODAY` 09:00 Beijing."""

    def __init__(self) -> None:
        self._now = at(SIM_TODAY)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment.astimezone(UTC)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


def catalogue_2025() -> list[dict[str, Any]]:
    def item(kind: str, code: str, name: str, unit: str, cap: str | None = None) -> dict[str, Any]:
        return {"kind": kind, "code": code, "name": name, "region": BEIJING, "unit": unit,
                "price_cap": cap, "limit": None, "version": "2025.1",
                "begndate": "2025-01-01"}  # fmt: skip

    return [
        item("drug", DRUG, "布洛芬缓释胶囊", "盒"),
        item("service_standard", BED, "普通病房床位费（三人间）", "日", "50.00"),
    ]


def fee(line_id: str, code: str, amount: str, day: date, *, quantity: str = "1") -> FeeLine:
    qty, total = Decimal(quantity), Decimal(amount)
    category = FeeCategory.SERVICE if code == BED else FeeCategory.DRUG
    return FeeLine(
        line_id=line_id,
        item_code=code,
        item_name=code,
        category=category,
        quantity=qty,
        unit_price=abs(total / qty).quantize(Decimal("0.0001")),
        amount=total,
        occurred_at=at(day, 10),
    )


@dataclass
class Desk:
    """Admits, records fees and settles at the dates given, moving the clock as it goes."""

    services: Services
    clock: SetClock

    def stay(
        self, psn_no: str, visit: str, admitted: date, discharged: date, fees: list[FeeLine]
    ) -> Settlement:
        self.clock.set(at(admitted, 8))
        command = Admit(
            card=card(psn_no),
            his_visit_id=visit,
            kind=EncounterKind.MEDICAL,
            admitted_at=at(admitted, 8),
            diagnoses=(Diagnosis("S62.301", "左手第三掌骨骨折"),),
            injury_parts=(filed_part(psn_no),),
            department="骨科",
        )
        encounter = self.services.admissions.admit(command, actor="住院处-01").encounter
        self.clock.set(at(discharged, 10))  # the HIS sends the stay's fees by its end
        self.services.fees.record(encounter.id, fees, actor="his")
        return self.settle(encounter.id, discharged)

    def january_stay(self) -> Settlement:
        """P001's stay of 3 to 5 January 2026 with one drug line (36.50): a month for the
        monthly jobs to reconcile."""
        fees = [fee("L1", DRUG, "36.50", date(2026, 1, 4))]
        return self.stay("P001", "V-1", date(2026, 1, 3), date(2026, 1, 5), fees)

    def settle(self, encounter_id: str, discharged: date) -> Settlement:
        self.clock.set(at(discharged, 10))
        request = SettleRequest(encounter_id, at(discharged, 9))
        return self.services.settlements.settle(request, actor="结算处-01").settlement

    def fit(self, day: date, code: str, cost: str, *, psn_no: str = "P011") -> Settlement:
        """The device counter fits one item of the worker's notice at 09:00, settled at 10:00."""
        self.clock.set(at(day, 10))
        item = DeviceItem(code, NAMES[code], Decimal(cost))
        request = FitDevices(card(psn_no), NOTICE, (item,), at(day, 9))
        return self.services.devices.fit(request, actor="器具-01").settlement

    def revoke(self, settlement: Settlement, on: date) -> None:
        self.clock.set(at(on, 11))
        self.services.revocations.revoke(settlement.id, reason="明细有误", actor="结算处-01")


def seed(sim_url: str, **lists: list[dict[str, Any]]) -> None:
    reply = httpx.post(f"{sim_url}/_sim/seed", json=lists)
    assert reply.status_code == 200, reply.text


def upstream_settlement(
    setl_id: str,
    day: date,
    total: str,
    fund: str,
    *,
    psn_no: str = "P001",
    revoked: bool = False,
    kind: str = "medical",
) -> dict[str, Any]:
    return {
        "setl_id": setl_id,
        "msgid": f"{INSTITUTION}{day:%Y%m%d}1015000001",
        "psn_no": psn_no,
        "kind": kind,
        "setl_date": day.isoformat(),
        "total": total,
        "fund_pay": fund,
        "psn_pay": str(Decimal(total) - Decimal(fund)),
        "revoked": revoked,
    }
