"""What a careless or hostile sender gets for a body that is not the JSON object asked for: a
problem+json in Chinese saying what is wrong with the body itself, and nothing written.

Before, a JSON body sent as ``text/plain`` was answered "请求体：须为对象" (the body was not
even read as JSON), broken JSON named a "field" ``9`` (the character position), JSON nested
100,000 deep was answered "须为 UTF-8 编码" though it was UTF-8, and a key given twice was
taken silently, its last value winning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, FastAPI, Request
from sqlalchemy import Engine

from adapter.api.duplicate_keys import PARSED_JSON, DuplicateKeys, ParsedOnce
from tests.integration.api.bodies import admit_over_api, line_body
from tests.integration.api.conftest import Api
from tests.integration.api.test_auth_and_input import ADMIT, _count, _problem
from tests.support.live import serving

JSON = {"Content-Type": "application/json"}


def test_a_json_body_sent_as_another_content_type_is_415_naming_the_content_type(
    api: Api, db: Engine
) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        answer = api.post(
            "/api/v1/encounters",
            role="admission",
            content=json.dumps(ADMIT).encode(),
            headers={"Content-Type": content_type},
        )
        (error,) = _problem(answer, 415)
        assert error["code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert "Content-Type: application/json" in error["message"], error
        assert content_type in error["message"]
    assert _count(db, "encounter") == 0


def test_broken_json_says_where_it_breaks_rather_than_naming_a_field(api: Api) -> None:
    answer = api.post("/api/v1/encounters", role="admission", content=b'{"card": ', headers=JSON)
    (error,) = _problem(answer, 422)
    assert error["code"] == "INVALID_JSON_INVALID" and error["field"] == ""
    assert error["message"].startswith("请求体：JSON 格式错误"), error
    assert "第 10 个字符" in error["message"], error


def test_json_nested_too_deep_is_refused_saying_so_not_blaming_the_encoding(
    api: Api, db: Engine
) -> None:
    for deep in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        (error,) = _problem(
            api.post("/api/v1/encounters", role="admission", content=deep, headers=JSON), 422
        )
        assert error["code"] == "INVALID_JSON_INVALID"
        assert "UTF-8" not in error["message"] and "嵌套" in error["message"], error
    assert _count(db, "encounter") == 0


def test_a_key_given_twice_is_refused_naming_it_and_nothing_is_written(
    api: Api, db: Engine
) -> None:
    body = json.dumps(ADMIT, ensure_ascii=False)
    twice = body.replace('"his_visit_id": "ZY1"', '"his_visit_id": "ZY1", "his_visit_id": "ZY2"')
    nested = body.replace('"kind": "physical"', '"kind": "physical", "kind": "ecard"', 1)
    for text, field in ((twice, "his_visit_id"), (nested, "card.kind")):
        answer = api.post(
            "/api/v1/encounters", role="admission", content=text.encode(), headers=JSON
        )
        (error,) = _problem(answer, 422)
        assert (error["code"], error["field"]) == ("INVALID_DUPLICATE_KEY", field), error
        assert f"{field}：" in error["message"] and "重复" in error["message"]
    assert _count(db, "encounter") == 0


def _pieces(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """The body sent chunked, so the adapter receives it in several parts."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_key_given_twice_deep_in_a_5000_line_fee_batch_is_refused_and_the_clean_batch_kept(
    api: Api, db: Engine
) -> None:
    admitted = admit_over_api(api)
    assert admitted.status_code == 201, admitted.text
    url = f"/api/v1/encounters/{admitted.json()['id']}/fees"
    lines = [line_body(f"L{n}", "XN02BEB001", "18.25") for n in range(5000)]
    clean = json.dumps({"lines": lines}, ensure_ascii=False)
    assert len(clean) > 1_000_000
    twice = clean.replace('"his_line_id": "L4321"', '"his_line_id": "L4321", "his_line_id": "L9"')
    assert twice != clean
    for sent in (twice.encode(), _pieces(twice.encode())):
        (error,) = _problem(api.post(url, role="billing", content=sent, headers=JSON), 422)
        assert (error["code"], error["field"]) == (
            "INVALID_DUPLICATE_KEY",
            "lines.4321.his_line_id",
        )
    assert _count(db, "fee_line") == 0
    # the same batch without it, in pieces: every line recorded as sent
    answer = api.post(url, role="billing", content=_pieces(clean.encode()), headers=JSON)
    assert answer.status_code == 200, answer.text[:500]
    assert _count(db, "fee_line") == 5000


def test_the_route_takes_the_body_the_duplicate_check_parsed_rather_than_parsing_it_again() -> None:
    # a 5,000-line fee batch parsed twice cost a second parse (about 7 ms for 1 MB); should a
    # Starlette upgrade stop Request.json() from keeping what it was given, this says so
    router = APIRouter(route_class=ParsedOnce)

    @router.post("/echo")
    async def echo(request: Request, payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        _bytes, document = request.scope[PARSED_JSON]
        return {"parsed_once": await request.json() is document, "payload": payload}

    app = FastAPI()
    app.include_router(router)
    app.add_middleware(DuplicateKeys)
    sent = {"lines": [{"his_line_id": f"L{n}", "amount": "18.25"} for n in range(100)]}
    body = json.dumps(sent).encode()
    with serving(app) as base:
        for content in (body, _pieces(body, 1000)):
            answer = httpx.post(f"{base}/echo", content=content, headers=JSON, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"parsed_once": True, "payload": sent}
