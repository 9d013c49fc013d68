"""The JSON conventions of every answer, walked over the running adapter (simulator over HTTP,
seeded catalogues, the queue delivering): every time carries the site's offset (+08:00) and
every amount is a string to the fen — the answers of the main writes and of every GET the
OpenAPI documents, with path parameters taken from the objects those writes made."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from adapter.api.routes import common
from adapter.store.tokens import ROLES, create_token
from tests.integration.operations.conftest import live_adapter
from tests.integration.services.device_world import ARM, NAMES, NOTICE
from tests.integration.services.helpers import TODAY, local

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
TWO_DECIMALS = re.compile(r"^-?\d+\.\d{2}$")
# a unit price is priced to 0.0001 yuan: two decimals at least, four at most
UNIT_PRICE = re.compile(r"^\d+\.\d{2,4}$")
# upstream-shaped bodies (a manual claim's fee list) name amounts as the interface does
UPSTREAM_AMOUNT = re.compile(r"(^|_)(sumamt|amt)$")
MONEY_SERIALIZER = typing.get_args(common.Money)[1]
# upstream messages shown as sent and received (a queued job's payload, the call log, the fee
# list for the insured place): the interface's own "YYYY-MM-DD HH:MM:SS" local times, verbatim
WIRE = {"payload", "request_body", "reply_body", "fee_list"}


def _is_money(annotation: Any) -> bool:
    if MONEY_SERIALIZER in getattr(annotation, "__metadata__", ()):
        return True
    return any(_is_money(arg) for arg in typing.get_args(annotation))


def _subclasses(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    for sub in model.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def money_fields() -> set[str]:
    """Every field a response model types as money, by name (``amount``, ``fund_pay``, …)."""
    import adapter.api.monthly
    import adapter.api.routes  # noqa: F401 - every response model defined

    return {
        name
        for model in _subclasses(common.Out)
        for name, field in model.model_fields.items()
        if _is_money(field.annotation) or any(m is MONEY_SERIALIZER for m in field.metadata)
    }


def walk(body: Any, where: str, money: set[str], bad: list[str], wire: bool = False) -> None:
    if isinstance(body, dict):
        for key, value in body.items():
            here = f"{where}.{key}"
            if key in WIRE:
                walk(value, here, money, bad, wire=True)
                continue
            if key in money or (isinstance(value, str) and UPSTREAM_AMOUNT.search(key)):
                if value is not None and not (isinstance(value, str) and TWO_DECIMALS.match(value)):
                    bad.append(f"{here}={value!r}: not an amount to the fen")
            elif key == "unit_price" and not (isinstance(value, str) and UNIT_PRICE.match(value)):
                bad.append(f"{here}={value!r}: not a unit price")
            else:
                walk(value, here, money, bad, wire)
    elif isinstance(body, list):
        for index, value in enumerate(body):
            walk(value, f"{where}[{index}]", money, bad, wire)
    elif wire:
        return
    elif isinstance(body, str) and TIME.match(body) and not body.endswith("+08:00"):
        bad.append(f"{where}={body!r}: not with the site's offset")


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.answers: dict[str, Any] = {}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = httpx.request(
            method, f"{self.base}{path}", headers=self.headers, timeout=60, **kwargs
        )
        assert reply.status_code < 300, (method, path, reply.text)
        self.answers[f"{method} {path}"] = reply.json()
        return reply.json()


def _line(
    line_id: str, code: str, amount: str, quantity: str, unit: str, days: int = -4
) -> dict[str, Any]:
    return {
        "his_line_id": line_id, "item_code": code, "item_name": code, "category": "drug",
        "quantity": quantity, "unit_price": unit, "amount": amount,
        "occurred_at": local(days, 10).isoformat(),
    }  # fmt: skip


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_answer_has_times_at_plus_0800_and_amounts_to_the_fen(
    db_url: str, engine: Engine
) -> None:
    money = money_fields()
    assert {"amount", "total", "fund_pay", "personal_pay", "limit"} <= money
    with live_adapter(db_url, engine) as live:
        token = create_token(live.runtime.engine, "主管-01", list(ROLES), datetime.now(UTC))
        api = Client(live.base, token)
        admitted = api.call("POST", "/api/v1/encounters", json={
            "card": {"kind": "physical", "card_no": "310100A0001"}, "his_visit_id": "ZY1",
            "kind": "medical", "admitted_at": local(-5).isoformat(), "department": "骨科",
            "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
            "injury_parts": ["左手"],
        })  # fmt: skip
        eid = admitted["id"]
        api.call("POST", f"/api/v1/encounters/{eid}/fees", json={"lines": [
            _line("L1", "XN02BEB001", "36.50", "2", "18.25"),
            _line("L2", "XN02BEB001", "2800.00", "1", "2800"),
        ]})  # fmt: skip
        api.call("POST", f"/api/v1/encounters/{eid}/presettle", json={})
        settled = api.call(
            "POST",
            f"/api/v1/encounters/{eid}/settle",
            json={"discharged_at": local(0, 0).isoformat()},
        )
        api.call("POST", "/api/v1/device-fittings", json={
            "card": {"kind": "physical", "card_no": "310100L0011"},
            "approval_notice_no": NOTICE,
            "items": [{"device_code": ARM, "device_name": NAMES[ARM], "actual_cost": "20000"}],
            "fitted_at": local(0, 9).isoformat(),
        })  # fmt: skip
        second = api.call("POST", "/api/v1/encounters", json={
            "card": {"kind": "physical", "card_no": "310100A0001"}, "his_visit_id": "ZY2",
            "kind": "medical", "admitted_at": local(0, 2).isoformat(), "department": "骨科",
            "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
            "injury_parts": ["左手"],
        })  # fmt: skip
        api.call("POST", f"/api/v1/encounters/{second['id']}/fees", json={
            "lines": [_line("M1", "XN02BEB001", "18.25", "1", "18.25", days=0)]})  # fmt: skip
        claim = api.call("POST", "/api/v1/manual-claims", json={
            "encounter_id": second["id"], "reason": "card_failure", "detail": "读卡器故障",
        })  # fmt: skip
        month = TODAY.strftime("%Y-%m")
        api.call("POST", f"/api/v1/reconciliation/{month}/run")
        api.call("POST", f"/api/v1/deductions/{month}/fetch")

        params = {
            "encounter_id": eid,
            "settlement_id": settled["id"],
            "claim_id": claim["id"],
            "month": month,
        }
        schema = httpx.get(f"{live.base}/openapi.json").json()
        walked = []
        for path, item in schema["paths"].items():
            get = item.get("get")
            if get is None or "application/json" not in get["responses"]["200"].get("content", {}):
                continue
            api.call("GET", path.format(**params))
            walked.append(path)
        assert "/api/v1/encounters/{encounter_id}" in walked and len(walked) >= 20

    bad: list[str] = []
    for call, body in api.answers.items():
        walk(body, call, money, bad)
    assert not bad, "\n".join(bad)
    shown = api.answers[f"GET /api/v1/settlements/{settled['id']}"]
    assert {line["unit_price"] for line in shown["lines"]} == {"18.25", "2800.00"}
