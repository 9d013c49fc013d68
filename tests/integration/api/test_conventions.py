"""The JSON conventions of every answer, walked over the running adapter (simulator over HTTP,
seeded catalogues, the queue delivering): every time carries the site's offset (+08:00) and
every amount is a string to the fen — the answers of the main writes and of every GET the
OpenAPI documents, with path parameters taken from the objects those writes made."""

from __future__ import annotations

import json
import os
import re
import typing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from adapter.api import examples
from adapter.api.routes import common
from adapter.bootstrap import build_app
from adapter.settings import load_settings
from adapter.store.migrate import upgrade
from adapter.store.tokens import ROLES, create_token
from adapter.wiring.runtime import build_runtime
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
            flag = isinstance(value, bool)  # out_of_catalogue: an amount, or a mapping's flag
            if (key in money and not flag) or (
                isinstance(value, str) and UPSTREAM_AMOUNT.search(key)
            ):
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


def _schema(db_url: str, engine: Engine) -> dict[str, Any]:
    upgrade(engine)
    settings = load_settings(database={"url": db_url})
    runtime = build_runtime(settings, engine=engine, workers=0, hl7=False, scheduled=False)
    return build_app(settings, runtime).openapi()  # type: ignore[no-any-return]


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.answers: dict[str, Any] = {}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        reply = httpx.request(method, f"{self.base}{path}", headers=headers, timeout=60, **kwargs)
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


def _admit(
    api: Client, card_no: str, visit: str, days: int, hour: int = 9, part: str = "左手"
) -> Any:
    return api.call("POST", "/api/v1/encounters", json={
        "card": {"kind": "physical", "card_no": card_no}, "his_visit_id": visit,
        "kind": "medical", "admitted_at": local(days, hour).isoformat(), "department": "骨科",
        "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
        "injury_parts": [part],
    })  # fmt: skip


def operation_ids(schema: dict[str, Any]) -> dict[tuple[str, re.Pattern[str]], str]:
    return {
        (method.upper(), re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")): op[
            "operationId"
        ]
        for path, item in schema["paths"].items()
        for method, op in item.items()
    }


def record(answers: dict[str, Any], schema: dict[str, Any]) -> None:
    """Rewrite adapter/api/examples.json from this run's answers (the first answer of each
    operation), keeping the hand-kept examples of operations this run does not reach."""
    ids = operation_ids(schema)
    recorded: dict[str, Any] = dict(examples.load())
    seen: set[str] = set()
    for call, body in answers.items():
        method, path = call.split(" ", 1)
        path = path.split("?")[0]
        for (verb, pattern), operation in ids.items():
            if verb == method and pattern.match(path) and operation not in seen:
                recorded[operation] = examples.trim(body)
                seen.add(operation)
                break
    text = json.dumps(recorded, ensure_ascii=False, indent=1, sort_keys=True)
    examples.FILE.write_text(text + "\n", "utf-8")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_answer_has_times_at_plus_0800_and_amounts_to_the_fen(
    db_url: str, engine: Engine
) -> None:
    money = money_fields()
    assert {"amount", "total", "fund_pay", "personal_pay", "limit"} <= money
    month = TODAY.strftime("%Y-%m")
    with live_adapter(db_url, engine) as live:
        token = create_token(live.runtime.engine, "主管-01", list(ROLES), datetime.now(UTC))
        api = Client(live.base, token)
        api.call("POST", "/api/v1/identity/verify", json={
            "card": {"kind": "ecard", "qr_token": "ECQR-P001-DEMO"}})  # fmt: skip
        api.call("POST", "/api/v1/eligibility", json={
            "card": {"kind": "physical", "card_no": "310100A0001"}, "kind": "medical",
            "on": TODAY.isoformat(), "injury_parts": ["左手"]})  # fmt: skip
        eid = _admit(api, "310100A0001", "ZY1", -5)["id"]
        api.call("POST", f"/api/v1/encounters/{eid}/fees", json={"lines": [
            _line("L1", "XN02BEB001", "36.50", "2", "18.25"),
            _line("L2", "XN02BEB001", "2800.00", "1", "2800"),
            _line("L3", "HIS-NEW-1", "42.00", "1", "42"),
        ]})  # fmt: skip
        api.call("PUT", f"/api/v1/encounters/{eid}/fees/L3/mapping",
                 json={"catalogue_code": "XJ01DCC061"})  # fmt: skip
        api.call("POST", f"/api/v1/encounters/{eid}/presettle", json={})
        settled = api.call(
            "POST",
            f"/api/v1/encounters/{eid}/settle",
            json={"discharged_at": local(0, 0).isoformat()},
        )
        fitting = {
            "card": {"kind": "physical", "card_no": "310100L0011"},
            "approval_notice_no": NOTICE,
            "items": [{"device_code": ARM, "device_name": NAMES[ARM], "actual_cost": "20000"}],
            "fitted_at": local(0, 9).isoformat(),
        }
        api.call("POST", "/api/v1/device-fittings/presettle", json=fitting)
        api.call("POST", "/api/v1/device-fittings", json=fitting)
        second = _admit(api, "310100A0001", "ZY2", 0, 2)
        api.call("POST", f"/api/v1/encounters/{second['id']}/fees", json={
            "lines": [_line("M1", "XN02BEB001", "18.25", "1", "18.25", days=0)]})  # fmt: skip
        claim = api.call("POST", "/api/v1/manual-claims", json={
            "encounter_id": second["id"], "reason": "card_failure", "detail": "读卡器故障",
        })  # fmt: skip
        api.call("POST", f"/api/v1/manual-claims/{claim['id']}/hand-over", json={})
        third = _admit(api, "130100B0002", "ZY3", 0, 3, part="腰椎")
        api.call("POST", f"/api/v1/encounters/{third['id']}/cancel", json={"reason": "未入院"})
        api.call("POST", f"/api/v1/reconciliation/{month}/run")
        api.call("POST", f"/api/v1/deductions/{month}/fetch")
        last_month = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        api.call("POST", f"/api/v1/device-funds/{last_month}/confirm", json={"amount": "20000"})
        api.call("POST", "/api/v1/catalogue/sync")
        api.call(
            "POST", "/api/v1/catalogue/import",
            params={"kind": "drug", "region": "110100", "version": "2026.9"},
            content="code,name,unit,price_cap,valid_from\nXT001,测试药品,盒,12.5,2026-01-01\n",
            headers={"Content-Type": "text/csv; charset=utf-8"},
        )  # fmt: skip

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
        api.call("POST", f"/api/v1/settlements/{settled['id']}/revoke", json={"reason": "录入有误"})

    bad: list[str] = []
    for call, body in api.answers.items():
        walk(body, call, money, bad)
    assert not bad, "\n".join(bad)
    shown = api.answers[f"GET /api/v1/settlements/{settled['id']}"]
    assert {line["unit_price"] for line in shown["lines"]} == {"18.25", "2800.00", "42.00"}
    if os.environ.get("WI_RECORD_API_EXAMPLES"):
        record(api.answers, schema)


def test_every_json_operation_documents_a_response_example_that_keeps_the_conventions(
    engine: Engine, db_url: str
) -> None:
    schema = examples.attach(json.loads(json.dumps(_schema(db_url, engine))))
    missing, bad = [], []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            media = [
                answer["content"]["application/json"]
                for code, answer in op["responses"].items()
                if code.startswith("2") and "application/json" in answer.get("content", {})
            ]
            if media and not any("example" in m for m in media):
                missing.append(f"{method.upper()} {path}")
            for m in media:
                walk(m.get("example"), op["operationId"], money_fields(), bad)
    assert not missing, missing
    assert not bad, bad
