"""Control characters (C0 and DEL) in any text a REST client sends are refused with a 422 that
names the field, never a 500 (PostgreSQL cannot store a NUL) — on SQLite and PostgreSQL.

The fields are not listed by hand: every string in every request body, every path parameter
and every query parameter is found in the OpenAPI document the app publishes, so a route or
field added later is covered without touching this test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from adapter.api.routes.common import Strict
from tests.integration.api.conftest import Api

CONTROLS = ("\x00", "\x08", "\x1b", "\x7f")
LAYOUT = ("\t", "\n")
CODE = "INVALID_CONTROL_CHARACTER"


def _strict_models() -> dict[str, type[Strict]]:
    found: dict[str, type[Strict]] = {}
    pending: list[type[Strict]] = [Strict]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _resolve(
    schema: dict[str, Any], components: dict[str, Any]
) -> tuple[dict[str, Any], str, bool]:
    """The schema behind a ``$ref`` (and its component name), or an ``anyOf``'s first branch
    that can hold a string or an object; ``True`` if that was a choice (a number or string)."""
    name = ""
    mixed = False
    while True:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = components[name]
            continue
        options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
        if options:
            usable = [o for o in options if o.get("type") != "null"]
            preferred = [o for o in usable if o.get("type") == "string"] or usable
            mixed = mixed or len(usable) > 1
            schema = preferred[0]
            continue
        return schema, name, mixed


def _strings(
    schema: dict[str, Any], components: dict[str, Any], path: tuple[str | int, ...], model: str
) -> Iterator[tuple[tuple[str | int, ...], str, dict[str, Any]]]:
    """Every string field below ``schema``: (path, owning model, its schema)."""
    schema, name, mixed = _resolve(schema, components)
    model = name or model
    kind = schema.get("type")
    if kind == "object":
        for key, child in schema.get("properties", {}).items():
            yield from _strings(child, components, (*path, key), model)
    elif kind == "array":
        yield from _strings(schema.get("items", {}), components, (*path, 0), model)
    elif kind == "string":
        yield path, model, schema | ({"anyOf": "mixed"} if mixed else {})


def _body_at(path: tuple[str | int, ...], value: str) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    inner = _body_at(rest, value)
    return [inner] if isinstance(head, int) else {head: inner}


@pytest.fixture
def http(api: Api) -> Iterator[httpx.Client]:
    """One keep-alive connection with every role (a fresh connection per call is slow)."""
    headers = {"Authorization": f"Bearer {api.tokens['all']}"}
    with httpx.Client(base_url=api.base, headers=headers, timeout=30) as client:
        yield client


def _operations(api: Api) -> Iterator[tuple[str, str, dict[str, Any]]]:
    document = httpx.get(f"{api.base}/openapi.json", timeout=30).json()
    schemas = document["components"]["schemas"]
    for template, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), template, operation | {"_components": schemas}


def _fill(template: str, value: str = "X1", only: str | None = None) -> str:
    parts = []
    for part in template.split("/"):
        if part.startswith("{") and part.endswith("}"):
            part = quote(value, safe="") if only in (None, part[1:-1]) else "X1"
        parts.append(part)
    return "/".join(parts)


def _errors(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 422, (response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    return list(response.json()["errors"])


def _refused(response: httpx.Response, field: str) -> None:
    errors = _errors(response)
    named = [e for e in errors if e["code"] == CODE and e["field"] == field]
    assert named, (response.request.url, errors)
    assert "控制字符" in named[0]["message"] and field in named[0]["message"]


def test_control_characters_in_every_body_field_are_refused_naming_it(
    api: Api, http: httpx.Client
) -> None:
    strict = _strict_models()
    checked = 0
    for method, template, operation in _operations(api):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        schema = content["application/json"]["schema"]
        url = _fill(template)
        for path, model, field_schema in _strings(schema, operation["_components"], (), ""):
            field = ".".join(str(p) for p in path)
            for char in CONTROLS:
                body = _body_at(path, f"A{char}B")
                _refused(http.request(method, url, json=body), field)
            plain = not ({"format", "enum", "pattern", "const", "anyOf"} & field_schema.keys())
            if model in strict and plain:
                free = path[-1] in strict[model].free_text
                for char in LAYOUT:
                    response = http.request(method, url, json=_body_at(path, f"A{char}B"))
                    if free:  # kept; whatever else the route says of the body, not a 500
                        assert response.status_code < 500, response.text
                        errors = response.json().get("errors", [])
                    else:
                        errors = _errors(response)
                    flagged = [e for e in errors if e["code"] == CODE and e["field"] == field]
                    assert bool(flagged) is not free, (template, field, char, errors)
            checked += 1
    assert checked >= 40  # every body field of every route, not a handful


def test_control_characters_in_path_and_query_parameters_are_refused_naming_them(
    api: Api, http: httpx.Client
) -> None:
    checked = 0
    for method, template, operation in _operations(api):
        for parameter in operation.get("parameters", []):
            name, where = parameter["name"], parameter["in"]
            for char in ("\x00", "\x1b", "\t", "\x7f"):
                value = f"A{char}B"
                if where == "path":
                    response = http.request(method, _fill(template, value, only=name))
                elif where == "query":
                    response = http.request(method, _fill(template), params={name: value})
                else:
                    continue
                _refused(response, name)
            checked += 1
    assert checked >= 10


def test_free_text_keeps_its_layout_and_nul_still_never_reaches_the_database(api: Api) -> None:
    admit = {
        "card": {"kind": "physical", "card_no": "310100A0001"},
        "his_visit_id": "ZY-CC-1",
        "kind": "medical",
        "admitted_at": "2026-11-20T09:00:00+08:00",
        "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折\t（闭合性）\r\n复查"}],
    }
    errors = _errors(api.post("/api/v1/encounters", json={**admit, "his_visit_id": "ZY\t1"}))
    assert [(e["code"], e["field"]) for e in errors] == [(CODE, "his_visit_id")]
    nul = {**admit, "diagnoses": [{"code": "S62.301", "name": "左手\u0000骨折"}]}
    _refused(api.post("/api/v1/encounters", json=nul), "diagnoses.0.name")
    parts = {**admit, "injury_parts": ["左手", "右\u0007手"]}
    errors = _errors(api.post("/api/v1/encounters", json=parts))
    assert [e["field"] for e in errors] == ["injury_parts.1"]
    # a JSON string that only mentions an escape is not a control character
    assert api.get("/api/v1/encounters/E%5Cu0000").status_code == 404
