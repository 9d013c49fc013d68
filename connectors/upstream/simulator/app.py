"""The simulator's HTTP face: the reference dialect plus ``/_sim/*`` (interfaces.md §3).

``POST /{infno}`` takes the envelope and answers it. In order: injected latency; an outage
or a random error (HTTP 503, nothing stored); gateway authentication (HTTP 401, nothing
stored); the envelope and ``sign_no`` (``infcode -1``, nothing stored); then for a write,
the ``msgid`` store — a repeat gets the first reply — and the transaction itself. With
``drop_reply_after_commit_rate`` a write is committed and its reply then lost: the headers
go out and the connection closes mid-body, as a dropped link would look to the client.

``/_sim/seed`` adds or replaces rows, ``/_sim/faults`` sets the faults (``{}`` clears),
``/_sim/received`` lists writes (``?infno=&msgid=``), ``/_sim/requests`` counts every
transaction received, ``/_sim/next_reply`` gives the next reply of one ``infno`` another shape
(:class:`NextReplyBody`: a real upstream's imperfect replies, for tests), ``/_sim/reset`` goes
back to the seed the simulator started with (received writes, sign-ins, shapes and faults
forgotten).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from adapter.domain.ports import Clock
from connectors.upstream.auth import AuthFailure, GatewayAuth, NoAuth
from connectors.upstream.clock import SystemClock
from connectors.upstream.simulator.checks import Refused
from connectors.upstream.simulator.state import SEED_LISTS, Faults, ReceivedWrite, SimState
from connectors.upstream.simulator.transactions import (
    HANDLERS,
    SIGN_EXPIRED,
    check_envelope,
    institution_may_write,
    reply,
)
from connectors.upstream.simulator.writes import WRITES

REQUIRED_SEED_KEYS = {
    "people": ("psn_no", "certno", "psn_name", "insuplc_admdvs"),
    "filings": ("filing_no", "psn_no", "category", "purpose", "mdtrtarea_admvs", "begndate",
                "enddate", "filed_on"),
    "suspensions": ("psn_no", "since"),
    "institutions": ("fixmedins_code", "fixmedins_name", "admvs", "direct_settlement"),
    "catalogue": ("kind", "code", "name", "region"),
    "figures": ("fixmedins_code", "month", "total", "fund_pay", "psn_pay"),
    "deductions": ("deduction_no", "month", "amount"),
}  # fmt: skip


class FaultsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latency_ms: int = Field(default=0, ge=0, le=120_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    outage: bool = False
    drop_reply_after_commit_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class NextReplyBody(BaseModel):
    """The next reply to ``infno``, after the transaction has run (a write is stored as
    usual): ``raw`` is sent verbatim instead (an HTML error page), else ``envelope`` is laid
    over the reply envelope and ``output`` over its output (a key set to a new value, the
    rest kept); ``status`` is its HTTP status."""

    model_config = ConfigDict(extra="forbid")
    infno: str = Field(min_length=1, max_length=16)
    status: int = Field(default=200, ge=100, le=599)
    raw: str | None = None
    envelope: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)


def _shaped(auth: GatewayAuth, answer: dict[str, Any], shape: dict[str, Any]) -> Response:
    if shape.get("raw") is not None:
        return Response(shape["raw"], status_code=shape["status"], media_type="text/html")
    envelope = answer | shape["envelope"]
    if shape["output"]:
        output = answer.get("output")
        envelope["output"] = (output if isinstance(output, dict) else {}) | shape["output"]
    response = _sealed(auth, envelope)
    response.status_code = shape["status"]
    return response


class DroppedReply(Response):
    """Sends the status line and headers, part of the body, then ends: the client's read fails."""

    def __init__(self) -> None:
        super().__init__(content=b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"infcode":', "more_body": True})


def _sealed(auth: GatewayAuth, envelope: dict[str, Any]) -> Response:
    body = json.dumps(envelope, ensure_ascii=False).encode()
    wire, headers = auth.seal_reply(body)
    return Response(wire, media_type="application/json; charset=utf-8", headers=headers)


def create_app(
    state: SimState | None = None,
    *,
    auth: GatewayAuth | None = None,
    clock: Clock | None = None,
    seed: dict[str, Any] | None = None,
) -> FastAPI:
    """The simulator app. Give ``state``, or a ``seed`` (and ``clock``) to make one."""
    state = state or SimState(clock=clock or SystemClock(), base_seed=seed or {})
    gateway = auth or NoAuth()
    app = FastAPI(title="工伤保险跨省异地就医 上游模拟器", docs_url="/_sim/docs", openapi_url=None)
    app.state.sim = state

    @app.post("/_sim/seed")
    async def seed_rows(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"detail": "body must be JSON"}, status_code=422)
        if not isinstance(body, dict):
            return JSONResponse({"detail": "body must be a JSON object"}, status_code=422)
        for kind in SEED_LISTS:
            rows = body.get(kind) or []
            if not isinstance(rows, list):
                return JSONResponse({"detail": f"{kind} must be a list"}, status_code=422)
            for index, row in enumerate(rows):
                missing = [k for k in REQUIRED_SEED_KEYS[kind] if not isinstance(row, dict)
                           or row.get(k) in (None, "")]  # fmt: skip
                if missing:
                    return JSONResponse(
                        {"detail": f"{kind}[{index}] lacks {', '.join(missing)}"}, status_code=422
                    )
        unknown = sorted(set(body) - set(SEED_LISTS))
        if unknown:
            return JSONResponse({"detail": f"unknown lists: {', '.join(unknown)}"}, 422)
        return JSONResponse({"seeded": state.seed(body)})

    @app.post("/_sim/faults")
    async def set_faults(body: FaultsBody) -> dict[str, Any]:
        with state.lock:
            state.faults = Faults(**body.model_dump())
        return body.model_dump()

    @app.get("/_sim/received")
    async def received(infno: str = "", msgid: str = "") -> dict[str, Any]:
        writes = state.writes(infno=infno, msgid=msgid)
        return {"count": len(writes), "writes": writes}

    @app.get("/_sim/requests")
    async def requests() -> dict[str, Any]:
        """How many transactions reached the simulator (to count against a call log)."""
        return {"count": state.requests}

    @app.post("/_sim/next_reply")
    async def next_reply(body: NextReplyBody) -> dict[str, Any]:
        state.shape_next(body.infno, body.model_dump())
        return body.model_dump()

    @app.post("/_sim/reset")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    @app.post("/{infno}")
    async def transaction(infno: str, request: Request) -> Response:
        state.count_request()
        faults = state.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.outage:
            return JSONResponse({"infcode": -1, "err_msg": "系统停机维护中（模拟中断）"}, 503)
        if state.roll(faults.error_rate):
            return JSONResponse({"infcode": -1, "err_msg": "服务繁忙，请稍后重试（模拟故障）"}, 503)
        if infno not in HANDLERS:
            return JSONResponse({"infcode": -1, "err_msg": f"交易编号 {infno} 不存在"}, 404)
        raw = await request.body()
        try:
            plain = gateway.open_request(raw, request.headers)
        except AuthFailure as exc:
            return JSONResponse({"infcode": -1, "err_msg": str(exc)}, 401)
        try:
            envelope = check_envelope(json.loads(plain) if plain else None, infno)
            if infno != "WI9001" and not state.sign_no_valid(str(envelope["sign_no"])):
                raise Refused(SIGN_EXPIRED)
        except ValueError:
            return _sealed(gateway, reply(state, {}, "报文格式错误：请求体不是合法的 JSON"))
        except Refused as exc:
            return _sealed(gateway, reply(state, {}, exc.err_msg))
        if infno not in WRITES:
            try:
                answer = reply(state, HANDLERS[infno](state, envelope))
            except Refused as exc:
                answer = reply(state, {}, exc.err_msg)
        else:
            answer = _write(state, infno, envelope)
            if state.roll(faults.drop_reply_after_commit_rate):
                return DroppedReply()
        shape = state.take_shape(infno)
        return _sealed(gateway, answer) if shape is None else _shaped(gateway, answer, shape)

    return app


def _write(state: SimState, infno: str, envelope: dict[str, Any]) -> dict[str, Any]:
    """The first reply for this ``msgid``: stored once, returned every time."""
    msgid = envelope["msgid"]
    with state.lock:
        seen = state.received.get(msgid)
        if seen is not None:
            seen.times_received += 1
            return seen.reply
        try:
            institution_may_write(state, envelope["fixmedins_code"])
            answer = reply(state, HANDLERS[infno](state, envelope))
        except Refused as exc:
            answer = reply(state, {}, exc.err_msg)
        state.received[msgid] = ReceivedWrite(
            infno=infno,
            msgid=msgid,
            fixmedins_code=envelope["fixmedins_code"],
            input=envelope["input"],
            reply=answer,
            received_at=state.clock.now(),
        )
        return answer
