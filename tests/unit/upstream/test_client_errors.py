"""Every edge of the HTTP exchange, translated into the domain's upstream errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from adapter.domain.errors import (
    UpstreamMalformed,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamUnavailable,
)
from adapter.domain.upstream import CertType, Infno
from adapter.services.delivery import failure_kind

from .helpers import PERSON_OUTPUT, make_client, reply, sign_in_reply

MSGID = "H11010000001202611240930000001"


@pytest.fixture
def router() -> respx.MockRouter:
    router = respx.MockRouter(base_url="https://upstream.test/wi/", assert_all_called=False)
    router.post("WI9001").mock(return_value=sign_in_reply())
    return router


def test_a_read_that_times_out_every_time_fails_as_unavailable_within_the_budget(
    router: respx.MockRouter,
) -> None:
    client, recorder, time = make_client(router)

    def hang(request: httpx.Request) -> httpx.Response:
        time.advance(request.extensions["timeout"]["read"])
        raise httpx.ReadTimeout("timed out", request=request)

    route = router.post("WI1201").mock(side_effect=hang)
    start = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        client.query_filings("P001")
    assert caught.value.code == "UPSTREAM_TIMEOUT"
    assert "超时" in caught.value.message
    assert caught.value.infno == "WI1201"
    assert time.monotonic() - start <= 6.0 + 1e-9
    assert route.call_count >= 2
    attempts = [c for c in recorder.calls if c.infno == "WI1201"]
    assert [c.attempt for c in attempts] == list(range(1, route.call_count + 1))
    assert all(c.outcome == "unavailable" and c.http_status is None for c in attempts)


def test_a_connection_reset_is_retried_and_the_clerk_gets_the_answer(
    router: respx.MockRouter,
) -> None:
    client, _, _ = make_client(router)
    route = router.post("WI1101").mock(
        side_effect=[
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpx.Response(200, json=reply(PERSON_OUTPUT)),
        ]
    )
    record = client.query_person(CertType.CITIZEN_ID, "110101199003078515")
    assert record.person.name == "王建国"
    assert route.call_count == 2


def test_connection_refused_is_unavailable(router: respx.MockRouter) -> None:
    client, _, _ = make_client(router, read_budget_s=0.5)
    router.post("WI1301").mock(side_effect=httpx.ConnectError("Connection refused"))
    with pytest.raises(UpstreamUnavailable) as caught:
        client.institution_status("H11010000001")
    assert "Connection refused" in caught.value.upstream_message


def test_malformed_json_is_malformed_and_not_retried(router: respx.MockRouter) -> None:
    client, recorder, _ = make_client(router)
    route = router.post("WI1201").mock(return_value=httpx.Response(200, text="<html>网关错误"))
    with pytest.raises(UpstreamMalformed) as caught:
        client.query_filings("P001")
    assert route.call_count == 1
    assert "网关错误" in caught.value.upstream_message
    assert recorder.calls[-1].outcome == "malformed"
    assert recorder.calls[-1].reply_body == "<html>网关错误"


@pytest.mark.parametrize(
    "body",
    [
        [1, 2, 3],
        {"output": {}},
        {"infcode": "zero", "output": {}},
        {"infcode": True, "output": {}},
        {"infcode": 0, "output": [1]},
    ],
    ids=["list", "no-infcode", "text-infcode", "bool-infcode", "output-not-object"],
)
def test_a_reply_outside_the_envelope_is_malformed(router: respx.MockRouter, body: object) -> None:
    client, _, _ = make_client(router)
    router.post("WI1201").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(UpstreamMalformed):
        client.query_filings("P001")


def test_an_output_missing_a_field_is_malformed(router: respx.MockRouter) -> None:
    client, _, _ = make_client(router)
    broken = {"baseinfo": {"psn_no": "P001"}}
    router.post("WI1101").mock(return_value=httpx.Response(200, json=reply(broken)))
    with pytest.raises(UpstreamMalformed) as caught:
        client.query_person(CertType.CITIZEN_ID, "110101199003078515")
    assert "certno" in caught.value.upstream_message


def test_infcode_minus_one_is_rejected_with_upstreams_own_words(router: respx.MockRouter) -> None:
    client, recorder, _ = make_client(router)
    route = router.post("WI1101").mock(
        return_value=httpx.Response(200, json=reply(infcode=-1, err_msg="未查询到该人员参保信息"))
    )
    with pytest.raises(UpstreamRejected) as caught:
        client.query_person(CertType.CITIZEN_ID, "110101199003078515")
    assert caught.value.upstream_message == "未查询到该人员参保信息"
    assert "未查询到该人员参保信息" in caught.value.message
    assert route.call_count == 1
    assert recorder.calls[-1].infcode == -1
    assert recorder.calls[-1].err_msg == "未查询到该人员参保信息"


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_5xx_and_429_are_retried_for_a_read(router: respx.MockRouter, status: int) -> None:
    client, _, time = make_client(router)
    route = router.post("WI1201").mock(
        side_effect=[
            httpx.Response(status, json={"err_msg": "系统繁忙"}),
            httpx.Response(200, json=reply({"filings": []})),
        ]
    )
    assert client.query_filings("P001") == []
    assert route.call_count == 2
    assert time.slept, "the retry waited before trying again"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_write_is_never_retried_by_the_client(router: respx.MockRouter, status: int) -> None:
    client, _, _ = make_client(router)
    route = router.post("WI2301").mock(
        return_value=httpx.Response(status, json={"err_msg": "系统繁忙"})
    )
    with pytest.raises(UpstreamUnavailable) as caught:
        client.submit(Infno.DISCHARGE, MSGID, {"setl_id": "S1"})
    assert route.call_count == 1
    assert caught.value.msgid == MSGID
    assert caught.value.upstream_message == "系统繁忙"


def test_a_write_that_times_out_is_unavailable_after_one_attempt(
    router: respx.MockRouter,
) -> None:
    client, _, _ = make_client(router)
    route = router.post("WI2401").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(UpstreamUnavailable):
        client.submit(Infno.ADMISSION, MSGID, {"mdtrt_id": "E1"})
    assert route.call_count == 1
    assert route.calls.last.request.extensions["timeout"]["read"] == 30.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_4xx_is_rejected_and_keeps_the_message(router: respx.MockRouter, status: int) -> None:
    client, _, _ = make_client(router)
    route = router.post("WI1201").mock(
        return_value=httpx.Response(status, json={"infcode": -1, "err_msg": "参数校验失败：psn_no"})
    )
    with pytest.raises(UpstreamRejected) as caught:
        client.query_filings("P001")
    assert caught.value.upstream_message == "参数校验失败：psn_no"
    assert route.call_count == 1


def test_a_slow_reply_within_the_budget_is_waited_for(router: respx.MockRouter) -> None:
    client, _, time = make_client(router)

    def slow(request: httpx.Request) -> httpx.Response:
        time.advance(3.5)
        return httpx.Response(200, json=reply({"filings": []}))

    route = router.post("WI1201").mock(side_effect=slow)
    assert client.query_filings("P001") == []
    assert route.call_count == 1


def test_a_slow_reply_beyond_the_budget_gets_only_what_is_left(router: respx.MockRouter) -> None:
    client, _, time = make_client(router, read_budget_s=5.0, read_timeout_s=4.0)
    timeouts: list[float] = []

    def slow(request: httpx.Request) -> httpx.Response:
        allowed = request.extensions["timeout"]["read"]
        timeouts.append(allowed)
        time.advance(allowed)
        raise httpx.ReadTimeout("timed out", request=request)

    start = time.monotonic()
    router.post("WI1201").mock(side_effect=slow)
    with pytest.raises(UpstreamUnavailable):
        client.query_filings("P001")
    assert timeouts[0] == 4.0
    assert timeouts[-1] < 1.0, "the last attempt only had what was left of the budget"
    assert time.monotonic() - start <= 5.0 + 1e-9


def test_a_written_record_upstream_refused_is_a_refusal_the_queue_may_rely_on(
    router: respx.MockRouter,
) -> None:
    """infcode -1 in upstream's own reply: the write certainly took no effect (the queue
    records a refused attempt, which may let a revocation of it go unsent)."""
    client, _, _ = make_client(router)
    router.post("WI2301").mock(
        return_value=httpx.Response(200, json=reply(infcode=-1, err_msg="结算信息不完整"))
    )
    with pytest.raises(UpstreamRefused) as caught:
        client.submit(Infno.DISCHARGE, MSGID, {"setl_id": "S1"})
    assert failure_kind(caught.value) == "refused"


@pytest.mark.parametrize("status", [400, 404, 408, 409])
def test_a_written_record_refused_by_http_4xx_is_permanent_but_not_a_refusal(
    router: respx.MockRouter, status: int
) -> None:
    """A gateway between may answer 4xx: what upstream did with the write is not known."""
    client, _, _ = make_client(router)
    router.post("WI2301").mock(
        return_value=httpx.Response(status, json={"infcode": -1, "err_msg": "请求无效"})
    )
    with pytest.raises(UpstreamRejected) as caught:
        client.submit(Infno.DISCHARGE, MSGID, {"setl_id": "S1"})
    assert not isinstance(caught.value, UpstreamRefused)
    assert failure_kind(caught.value) == "permanent"


def test_a_reply_sent_in_chunks_without_a_length_stops_being_read_past_the_limit(
    router: respx.MockRouter,
) -> None:
    """A runaway reply whose size is not announced (the simulator's replies always are)."""
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"infcode": 0, "output": {"filings": [], "memo": "'
        for _ in range(10_000):
            sent.append(1)
            yield b"x" * 1024

    router.post("WI1201").mock(return_value=httpx.Response(200, content=chunks()))
    client, recorder, _ = make_client(router, max_reply_bytes=16 * 1024)
    with pytest.raises(UpstreamMalformed, match="超过 16 KB 上限"):
        client.query_filings("P001")
    assert len(sent) < 100  # not read to its end
    assert recorder.calls[-1].outcome == "malformed"
