"""What a careless or hostile sender gets for a body that is not the JSON object asked for: a
problem+json in Chinese saying what is wrong with the body itself, and nothing written.

Before, a JSON body sent as ``text/plain`` was answered "请求体：须为对象" (the body was not
even read as JSON), broken JSON named a "field" ``9`` (the character position), JSON nested
100,000 deep was answered "须为 UTF-8 编码" though it was UTF-8, and a key given twice was
taken silently, its last value winning.
"""

from __future__ import annotations

import json

from sqlalchemy import Engine

from tests.integration.api.conftest import Api
from tests.integration.api.test_auth_and_input import ADMIT, _count, _problem

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
