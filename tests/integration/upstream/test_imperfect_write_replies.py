"""A write's reply as a real upstream may send it, over real HTTP (``/_sim/next_reply``).

What the upload queue needs from the client: a write upstream took (infcode 0) is delivered
whatever its ``output`` looks like; a reply saying the message was received already is not a
refusal (the queue would record it as certainly without effect); a page that is no reply is
tried again with the same msgid and taken once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from adapter.domain.errors import UpstreamMalformed, UpstreamRefused, UpstreamUnavailable
from adapter.domain.upstream import Infno
from adapter.services.delivery import failure_kind
from connectors.upstream.client import ReferenceClient
from connectors.upstream.simulator import SimulatorServer
from connectors.upstream.translate import AlreadyReceived

from .conftest import Msgids
from .test_writes_and_faults import admit, discharge_input, received


def next_reply(sim: SimulatorServer, infno: str, **shape: Any) -> None:
    response = httpx.post(f"{sim.url}/_sim/next_reply", json={"infno": infno, **shape})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("output", [[{"setl_id": "S1"}], "OK", None, [1, 2]])
def test_a_settlement_taken_with_an_odd_output_is_delivered(
    client: ReferenceClient, sim: SimulatorServer, msgid: Msgids, output: object
) -> None:
    admit(client, msgid)
    sent = msgid()
    next_reply(sim, "WI2301", envelope={"output": output, "inf_refmsgid": 12345})
    ack = client.submit(Infno.DISCHARGE, sent, discharge_input())
    assert ack.msgid == sent and ack.refmsgid == "12345"
    (write,) = received(sim, infno="WI2301")
    assert write["took_effect"] and write["times_received"] == 1


@pytest.mark.parametrize(
    "err_msg",
    [
        "重复上传：该结算信息已接收",
        "该报文已经处理，请勿重复提交",
        "Duplicate msgid: already received",
    ],
)
def test_a_write_answered_already_received_is_not_a_refusal(
    client: ReferenceClient, sim: SimulatorServer, msgid: Msgids, err_msg: str
) -> None:
    admit(client, msgid)
    next_reply(sim, "WI2301", envelope={"infcode": -1, "err_msg": err_msg})
    with pytest.raises(AlreadyReceived) as caught:
        client.submit(Infno.DISCHARGE, msgid(), discharge_input())
    assert not isinstance(caught.value, UpstreamRefused)
    assert failure_kind(caught.value) == "permanent"  # dead for IT, but maybe in effect
    assert caught.value.upstream_message == err_msg
    assert "请勿重新结算" in caught.value.message


def test_a_plain_refusal_of_a_write_is_still_a_refusal(
    client: ReferenceClient, msgid: Msgids
) -> None:
    admit(client, msgid)
    with pytest.raises(UpstreamRefused) as caught:
        client.submit(Infno.DISCHARGE, msgid(), discharge_input(setl_id=""))
    assert failure_kind(caught.value) == "refused"


def test_a_read_answered_with_duplicate_words_is_a_plain_refusal(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    next_reply(sim, "WI1201", envelope={"infcode": -1, "err_msg": "重复查询过于频繁"})
    with pytest.raises(UpstreamRefused):
        client.query_filings("P001")


@pytest.mark.parametrize("status", [200, 502])
def test_a_gateway_page_instead_of_the_reply_is_tried_again_and_taken_once(
    client: ReferenceClient, sim: SimulatorServer, msgid: Msgids, status: int
) -> None:
    """Upstream took the write, then a gateway answered with its own page: the queue's
    re-send (the same msgid) gets the first reply, and upstream holds the settlement once."""
    admit(client, msgid)
    sent = msgid()
    next_reply(sim, "WI2301", raw="<html><h1>Bad Gateway</h1></html>", status=status)
    with pytest.raises((UpstreamMalformed, UpstreamUnavailable)) as caught:
        client.submit(Infno.DISCHARGE, sent, discharge_input())
    assert failure_kind(caught.value) == "transient"
    ack = client.submit(Infno.DISCHARGE, sent, discharge_input())
    assert ack.output["setl_id"] == "S1"
    (write,) = received(sim, infno="WI2301")
    assert write["took_effect"] and write["times_received"] == 2
