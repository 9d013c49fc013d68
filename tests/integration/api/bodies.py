"""What the HIS and the desks post over REST, as the API tests build it: an admission, a fee
line, a settlement (times relative to the tests' clock, :func:`local`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.integration.api.conftest import Api
from tests.integration.services.helpers import local

D = Decimal


def iso_at(days: int, hour: int = 9) -> str:
    return local(days, hour).isoformat()


def admit_over_api(
    api: Api, psn_card: str = "310100A0001", visit: str = "ZY1", **extra: Any
) -> Any:
    body = {
        "card": {"kind": "physical", "card_no": psn_card},
        "his_visit_id": visit,
        "kind": "medical",
        "admitted_at": iso_at(-5),
        "department": "骨科",
        "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
        "injury_parts": ["左手"],
        **extra,
    }
    return api.post("/api/v1/encounters", role="admission", json=body)


def line_body(
    line_id: str, code: str, amount: str, quantity: str = "1", **extra: Any
) -> dict[str, Any]:
    unit = str(abs(D(amount) / D(quantity)).quantize(D("0.0001")))
    return {
        "his_line_id": line_id, "item_code": code, "item_name": code, "category": "drug",
        "quantity": quantity, "unit_price": unit, "amount": amount,
        "occurred_at": iso_at(-4, 10), **extra,
    }  # fmt: skip


def settle_over_api(
    api: Api, encounter_id: str, role: str = "billing", **extra: Any
) -> httpx.Response:
    body = {"discharged_at": iso_at(0, 0), **extra}
    return api.post(f"/api/v1/encounters/{encounter_id}/settle", role=role, json=body)
