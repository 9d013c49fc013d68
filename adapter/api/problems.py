"""Errors as ``application/problem+json`` (RFC 9457) with an ``errors`` list.

Every error names what went wrong in a way a program can act on (``code``, ``field``) and a
person can read to the worker (``message``, Chinese), with the ``article`` it enforces.
The adapter's exception hierarchy is translated here, in one place.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolExhausted
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapter.domain.errors import (
    AdapterError,
    ConfirmationRequired,
    Conflict,
    DomainError,
    EligibilityRefused,
    InvalidMessage,
    InvalidTransition,
    NotFound,
    PricingError,
    UpstreamError,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamUnavailable,
    is_storage_full,
)
from adapter.services.admission import OpenStayExists
from adapter.services.stay_overlaps import StayOverlaps

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("adapter.api")

_STATUS: tuple[tuple[type[AdapterError], int, str], ...] = (
    (ConfirmationRequired, 409, "须确认后才能继续"),
    (EligibilityRefused, 422, "不符合跨省异地就医直接结算条件"),
    (StayOverlaps, 409, "与已结算或已转手工报销的住院时间重叠"),
    (InvalidTransition, 409, "当前状态不允许该操作"),
    (OpenStayExists, 409, "该工伤职工已有未结束的住院"),
    (Conflict, 409, "数据已被他人修改或已处理"),
    (NotFound, 404, "未找到"),
    (PricingError, 422, "费用明细有误"),
    (DomainError, 422, "业务规则不允许"),
    (InvalidMessage, 400, "请求内容有误"),
    (UpstreamUnavailable, 503, "上级系统暂时无法访问"),
    (UpstreamRejected, 502, "上级系统拒绝了请求"),
    (UpstreamMalformed, 502, "上级系统返回的数据无法识别"),
    (UpstreamError, 502, "上级系统出错"),
)

_HTTP_TITLES = {
    400: "请求内容有误",
    401: "未登录或令牌无效",
    403: "无权进行该操作",
    404: "未找到",
    405: "不支持该请求方法",
    409: "冲突",
    415: "不支持的内容类型",
}


def problem(
    status: int, title: str, errors: Iterable[dict[str, str]], detail: str = "", **extra: Any
) -> JSONResponse:
    items = list(errors)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail or "；".join(e["message"] for e in items) or title,
        "errors": items,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_item(code: str, message: str, field: str = "", article: str = "") -> dict[str, str]:
    return {"code": code, "article": article, "field": field, "message": message}


# An id from the path is echoed back at most this long: a 100,000-character encounter id was
# answered with a 200 KB 404 repeating it twice (detail and message).
ECHOED_ID_CHARS = 64


def _echoed(request: Request, message: str) -> str:
    """``message`` with every long path parameter it repeats cut to its first characters."""
    for value in request.path_params.values():
        if isinstance(value, str) and len(value) > ECHOED_ID_CHARS and value in message:
            message = message.replace(value, value[:ECHOED_ID_CHARS] + "…")
    return message


def _adapter_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AdapterError)
    status, title = next((s, t) for cls, s, t in _STATUS if isinstance(exc, cls))
    if isinstance(exc, EligibilityRefused):
        items = [
            error_item(r.code, _echoed(request, r.message), r.field, r.article) for r in exc.reasons
        ]
    else:
        items = [error_item(exc.code, _echoed(request, exc.message), exc.field, exc.article)]
    extra: dict[str, Any] = dict(getattr(exc, "problem_extra", None) or {})
    if isinstance(exc, UpstreamError) and exc.upstream_message:
        extra["upstream_message"] = exc.upstream_message
    return problem(status, title, items, **extra)


_VALIDATION_MESSAGES = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不认识的字段",
    "json_invalid": "JSON 格式错误",
    "decimal_parsing": "须为金额数字",
    "decimal_max_places": "金额最多精确到分（两位小数）",
    "date_from_datetime_parsing": "须为日期（YYYY-MM-DD）",
    "date_parsing": "须为日期（YYYY-MM-DD）",
    "datetime_parsing": "须为带时区的时间（ISO 8601）",
    "datetime_from_date_parsing": "须为带时区的时间（ISO 8601）",
    "timezone_aware": "时间须带时区",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "string_too_short": "不能为空",
    "string_too_long": "内容过长",
    "string_pattern_mismatch": "格式不正确",
    "bool_parsing": "须为 true 或 false",
    "int_parsing": "须为整数",
    "list_type": "须为列表",
    "model_attributes_type": "须为对象",
    "dict_type": "须为对象",
}


# Bounds a field breaks: the message names the bound, so the HIS can correct the request
# without reading the OpenAPI document (``limit=5000`` → ``limit：须不大于 1000``).
_BOUND_MESSAGES = {
    "greater_than_equal": ("ge", "须不小于 {}"),
    "greater_than": ("gt", "须大于 {}"),
    "less_than_equal": ("le", "须不大于 {}"),
    "less_than": ("lt", "须小于 {}"),
    "string_too_long": ("max_length", "内容过长（最多 {} 个字符）"),
    "too_long": ("max_length", "条目过多（最多 {} 条）"),
    "too_short": ("min_length", "条目过少（至少 {} 条）"),
}

# A value outside its choices names them (``kind：取值不在允许范围内（可选：medical、rehab）``):
# pydantic's context says ``'medical' or 'rehab'``.
_CHOICES = frozenset({"literal_error", "enum"})
_CHOICE = re.compile(r"'((?:[^'\\]|\\.)*)'")

# Validation errors raised by our own validators, whose message already says what is wrong.
_OWN_MESSAGES = frozenset({"control_character", "datetime_out_of_range"})


def _bound_message(kind: str, context: dict[str, Any]) -> str | None:
    if kind in _CHOICES:
        choices = _CHOICE.findall(str(context.get("expected", "")))
        return f"取值不在允许范围内（可选：{'、'.join(choices)}）" if choices else None
    key, words = _BOUND_MESSAGES.get(kind, ("", ""))
    return words.format(context[key]) if key in context else None


def field_path(location: Sequence[Any]) -> str:
    """``("body", "lines", 2, "amount")`` → ``lines.2.amount``."""
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


# FastAPI reads a body as JSON only when its Content-Type says so; any other body reaches the
# model as bytes, which was answered "请求体：须为对象"
_NOT_READ_AS_JSON = frozenset({"model_attributes_type", "dict_type"})


def _not_json(request: Request, errors: Sequence[Any]) -> JSONResponse | None:
    """415 for a body the route wants as JSON but that came as another Content-Type."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if not media or media == "application/json" or media.endswith("+json"):
        return None
    if not any(
        e.get("type") in _NOT_READ_AS_JSON and tuple(e.get("loc", ())) == ("body",) for e in errors
    ):
        return None
    message = f"请求体须为 JSON，请以 Content-Type: application/json 发送（收到：{media}）"
    return problem(415, "不支持的内容类型", [error_item("UNSUPPORTED_MEDIA_TYPE", message)])


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    refused = _not_json(request, exc.errors())
    if refused is not None:
        return refused
    items = []
    for error in exc.errors():
        kind = error.get("type", "")
        if kind == "json_invalid":  # loc ("body", position): a place in the text, no field
            position = list(error.get("loc", ()))[-1:]
            at = (
                f"（第 {position[0] + 1} 个字符处）"
                if position and isinstance(position[0], int)
                else ""
            )
            message = f"请求体：JSON 格式错误{at}"
            items.append(error_item("INVALID_JSON_INVALID", message))
            continue
        message = _bound_message(kind, error.get("ctx") or {}) or _VALIDATION_MESSAGES.get(
            kind, "取值不正确"
        )
        location = list(error.get("loc", ()))
        if kind in _OWN_MESSAGES:  # the validator's own Chinese words; ``item``: which item
            message = str(error.get("msg", message))
            location += [v for k, v in (error.get("ctx") or {}).items() if k == "item"]
        path = field_path(location)
        items.append(
            error_item(f"INVALID_{kind.upper() or 'VALUE'}", f"{path or '请求体'}：{message}", path)
        )
    return problem(422, "请求内容有误", items)


# FastAPI's words when a JSON body's bytes do not decode (UnicodeDecodeError, not a
# JSONDecodeError): a HIS sending GB 18030 where JSON must be UTF-8 (RFC 8259)
_UNDECODABLE_BODY = "There was an error parsing the body"
UNDECODABLE_JSON_MESSAGE = "请求体：JSON 格式错误（须为 UTF-8 编码）"


# FastAPI answers any failure of json.loads other than a syntax error so too: JSON nested
# deeper than the parser recurses was told "须为 UTF-8 编码" though it was UTF-8
TOO_DEEP_JSON_MESSAGE = "请求体：JSON 格式错误（嵌套层数过多）"


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if (
        exc.status_code == 400
        and exc.detail == _UNDECODABLE_BODY
        and "json" in request.headers.get("content-type", "").lower()
    ):
        deep = isinstance(exc.__cause__, RecursionError)
        message = TOO_DEEP_JSON_MESSAGE if deep else UNDECODABLE_JSON_MESSAGE
        return problem(422, "请求内容有误", [error_item("INVALID_JSON_INVALID", message)])
    title = _HTTP_TITLES.get(exc.status_code, "请求失败")
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else title
    return problem(exc.status_code, title, [error_item(f"HTTP_{exc.status_code}", message)])


DATABASE_FULL_MESSAGE = "数据库所在磁盘已满，本次操作未保存，请联系信息科清理磁盘后重试"


def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    # The database is down, read-only or full: nothing was written (the transaction rolled
    # back), and the clerk can try again once IT has fixed it.
    if is_storage_full(exc):
        log.error("database_full", extra={"error": type(exc).__name__})
        return problem(503, "数据库磁盘已满", [error_item("DATABASE_FULL", DATABASE_FULL_MESSAGE)])
    log.error("database_unavailable", extra={"error": type(exc).__name__})
    message = "数据库暂时无法写入或无法连接，本次操作未保存，请稍后重试或联系信息科"
    return problem(503, "数据库暂时不可用", [error_item("DATABASE_UNAVAILABLE", message)])


DATABASE_BUSY_MESSAGE = "适配器当前繁忙（数据库连接已全部占用），本次操作未保存，请稍后重试"


def _pool_exhausted(_request: Request, exc: Exception) -> JSONResponse:
    # Every pooled connection stayed busy for [database] pool_timeout_s: nothing was written.
    log.error("database_pool_exhausted", extra={"error": type(exc).__name__})
    response = problem(503, "适配器繁忙", [error_item("DATABASE_BUSY", DATABASE_BUSY_MESSAGE)])
    response.headers["Retry-After"] = "2"
    return response


def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected_error", exc_info=exc)
    message = "系统内部错误，本次操作未完成，请联系信息科"
    return problem(500, "系统内部错误", [error_item("INTERNAL_ERROR", message)])


def install(app: FastAPI) -> None:
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(InternalError, _database_error)  # e.g. a read-only transaction
    app.add_exception_handler(PoolExhausted, _pool_exhausted)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_exception_handler(AdapterError, _adapter_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `errors` says what went wrong, field by field.",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "upstream_message": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "article", "field", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["EL_FILING_EXISTS"]},
                    "article": {"type": "string", "examples": ["N§16, B§26"]},
                    "field": {"type": "string", "examples": ["card"]},
                    "message": {"type": "string", "description": "Chinese, for the worker"},
                },
            },
        },
    },
}
_ERROR_STATUSES = {
    "400": "请求内容有误",
    "401": "未登录或令牌无效",
    "403": "无权进行该操作",
    "404": "未找到",
    "406": "不支持所要求的内容类型",
    "409": "冲突：已被他人修改或当前状态不允许",
    "415": "不支持的内容类型",
    "422": "请求内容或业务规则不允许",
    "502": "上级系统拒绝或返回无法识别的数据",
    "503": "上级系统或数据库暂时不可用，本次操作未保存，可原样重试（errors[].code："
    "DATABASE_UNAVAILABLE 数据库无法写入或无法连接，DATABASE_FULL 数据库磁盘已满，"
    "DATABASE_BUSY 数据库连接已全部占用）",
}


def document(app: FastAPI) -> None:
    """Say in the OpenAPI schema what every operation may answer besides success: a
    problem+json body for each error status (the handlers above produce nothing else)."""
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = plain_openapi()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = _PROBLEM_SCHEMA
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                for status, description in _ERROR_STATUSES.items():
                    if path in ("/healthz", "/livez", "/readyz") and status != "503":
                        continue
                    said = responses.get(status, {}).get("description")  # the route's own
                    responses[status] = {"description": said or description, "content": problem}
        schema["components"]["schemas"].pop("HTTPValidationError", None)
        schema["components"]["schemas"].pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    # why: replacing app.openapi is FastAPI's documented way to customise the schema
    app.openapi = openapi  # type: ignore[method-assign]
