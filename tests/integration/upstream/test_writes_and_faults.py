"""Writes round-trip; msgid idempotency; every injected fault; gateway auth configured alike."""

from __future__ import annotations

import time

import httpx
import pytest

from adapter.domain.errors import UpstreamRejected, UpstreamUnavailable
from adapter.domain.upstream import Infno, WriteAck
from connectors.upstream.auth import HmacAuth
from connectors.upstream.client import ReferenceClient
from connectors.upstream.records import MemoryRecorder
from connectors.upstream.simulator import SimulatorServer
from connectors.upstream.sm_auth import SmAuth, generate_sm2_keypair

from .conftest import NOON, TODAY, Msgids, make_config, start_on_today

NOW = f"{NOON:%Y-%m-%d %H:%M:%S}"
MONTH = f"{TODAY:%Y-%m}"


def received(sim: SimulatorServer, **params: str) -> list[dict]:
    response = httpx.get(f"{sim.url}/_sim/received", params=params)
    assert response.status_code == 200
    return response.json()["writes"]


def faults(sim: SimulatorServer, **body: object) -> None:
    assert httpx.post(f"{sim.url}/_sim/faults", json=body).status_code == 200


def admit(client: ReferenceClient, msgid: Msgids, mdtrt_id: str = "E1", psn_no: str = "P001"):
    return client.submit(
        Infno.ADMISSION, msgid(), {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "begntime": NOW}
    )


def discharge_input(mdtrt_id: str = "E1", setl_id: str = "S1", **extra: object) -> dict:
    return {"mdtrt_id": mdtrt_id, "psn_no": "P001", "setl_id": setl_id, "setl_time": NOW,
            "medfee_sumamt": "1250.00", "fund_pay_sumamt": "1200.00", "psn_pay": "50.00",
            "feedetail": [{"feedetl_sn": "1"}, {"feedetl_sn": "2"}], **extra}  # fmt: skip


def test_a_stay_from_admission_to_revoked_settlement(
    client: ReferenceClient, sim: SimulatorServer, msgid: Msgids
) -> None:
    admit(client, msgid, psn_no="P010")
    with pytest.raises(UpstreamRejected, match="康复方案"):
        client.submit(Infno.DISCHARGE, msgid(), discharge_input(psn_no="P010", med_type="rehab"))
    plan = client.submit(
        Infno.REHAB_PLAN, msgid(), {"mdtrt_id": "E1", "plan": {"goals": ["手功能恢复"]}}
    )
    assert plan.output["plan_received"] is True
    ack = client.submit(Infno.DISCHARGE, msgid(), discharge_input(psn_no="P010", med_type="rehab"))
    assert isinstance(ack, WriteAck) and ack.output["setl_id"] == "S1" and ack.refmsgid
    with pytest.raises(UpstreamRejected, match="已结算"):
        client.submit(Infno.ADMISSION_REVOKE, msgid(), {"mdtrt_id": "E1"})
    figures = client.reconciliation(MONTH)
    assert [s.setl_id for s in figures.settlements if not s.revoked] == ["S1"]
    client.submit(Infno.SETTLEMENT_REVOKE, msgid(), {"setl_id": "S1"})
    figures = client.reconciliation(MONTH)
    assert [s.revoked for s in figures.settlements] == [True]
    assert figures.settlement_count == 0
    client.submit(Infno.ADMISSION_REVOKE, msgid(), {"mdtrt_id": "E1"})
    assert len(received(sim, infno="WI2301")) == 2  # the refused one is kept, not effective
    assert [w["took_effect"] for w in received(sim, infno="WI2301")] == [False, True]


def test_validation_refusals_keep_upstreams_message(client: ReferenceClient, msgid: Msgids) -> None:
    with pytest.raises(UpstreamRejected, match="入院登记"):
        client.submit(Infno.DISCHARGE, msgid(), discharge_input())
    admit(client, msgid)
    with pytest.raises(UpstreamRejected, match="金额不平") as caught:
        client.submit(Infno.DISCHARGE, msgid(), discharge_input(psn_pay="49.99"))
    assert "49.99" in caught.value.upstream_message
    with pytest.raises(UpstreamRejected, match="已办理入院登记"):
        admit(client, msgid)


def test_device_settlement_checks_the_approval_notice_and_funds_are_confirmed(
    client: ReferenceClient, msgid: Msgids
) -> None:
    [filing] = client.query_filings("P011")
    body = {"setl_id": "D1", "psn_no": "P011", "setl_time": NOW, "medfee_sumamt": "30500.00",
            "fund_pay_sumamt": "29800.00", "psn_pay": "700.00",
            "items": [{"device_code": "SH-FZ-0101", "actual_cost": "28700.00"}]}  # fmt: skip
    with pytest.raises(UpstreamRejected, match="核付通知单"):
        client.submit(Infno.DEVICE_SETTLEMENT, msgid(), {**body, "approval_notice_no": "伪造"})
    ack = client.submit(
        Infno.DEVICE_SETTLEMENT, msgid(), {**body, "approval_notice_no": filing.approval_notice_no}
    )
    assert ack.output["fund_pay_sumamt"] == "29800.00"
    assert client.submit(
        Infno.DEVICE_FUNDS_CONFIRM, msgid(), {"month": MONTH, "amount": "29800.00"}
    ).output["confirmed"]


def test_refused_at_a_suspended_institution(sim: SimulatorServer, msgid: Msgids) -> None:
    config = make_config(sim.url, institution_code="H11010800003", institution_name="假肢中心")
    with (
        ReferenceClient.from_config(config) as client,
        pytest.raises(UpstreamRejected, match="未开通"),
    ):
        admit(client, msgid)


def test_the_same_msgid_twice_returns_the_first_reply_and_stores_nothing_new(
    client: ReferenceClient, sim: SimulatorServer, msgid: Msgids
) -> None:
    first_id = msgid()
    payload = {"mdtrt_id": "E1", "psn_no": "P001", "begntime": NOW}
    first = client.submit(Infno.ADMISSION, first_id, payload)
    again = client.submit(Infno.ADMISSION, first_id, payload)
    assert again == first
    [write] = received(sim, msgid=first_id)
    assert write["times_received"] == 2 and write["took_effect"]
    assert len(received(sim, infno="WI2401")) == 1


def test_a_reply_lost_after_commit_then_the_same_msgid_again(
    client: ReferenceClient, sim: SimulatorServer, msgid: Msgids
) -> None:
    admit(client, msgid)
    upload_id = msgid()
    faults(sim, drop_reply_after_commit_rate=1.0)
    with pytest.raises(UpstreamUnavailable):
        client.submit(Infno.DISCHARGE, upload_id, discharge_input())
    [write] = received(sim, msgid=upload_id)
    assert write["took_effect"], "upstream committed although the reply was lost"
    faults(sim)
    ack = client.submit(Infno.DISCHARGE, upload_id, discharge_input())
    assert ack.output["setl_id"] == "S1"
    [write] = received(sim, msgid=upload_id)
    assert write["times_received"] == 2
    figures = client.reconciliation(MONTH)
    assert [s.setl_id for s in figures.settlements] == ["S1"], "settled once, not twice"


def test_an_abandoned_write_is_undone_by_a_reversal(
    client: ReferenceClient, sim: SimulatorServer, msgid: Msgids
) -> None:
    admit(client, msgid)
    lost = msgid()
    faults(sim, drop_reply_after_commit_rate=1.0)
    with pytest.raises(UpstreamUnavailable):
        client.submit(Infno.DISCHARGE, lost, discharge_input())
    faults(sim)
    ack = client.submit(Infno.REVERSAL, msgid(), {"omsgid": lost, "oinfno": "WI2301"})
    assert ack.output["reversed"] is True
    [write] = received(sim, msgid=lost)
    assert not write["took_effect"] and write["reversed_by"] == ack.msgid
    assert client.reconciliation(MONTH).settlements == ()
    never = client.submit(Infno.REVERSAL, msgid(), {"omsgid": msgid(), "oinfno": "WI2301"})
    assert never.output["reversed"] is False


def test_outage_makes_writes_fail_fast_and_reads_give_up_within_the_budget(
    client: ReferenceClient, sim: SimulatorServer, msgid: Msgids, recorder: MemoryRecorder
) -> None:
    client.sign_in()
    faults(sim, outage=True)
    with pytest.raises(UpstreamUnavailable) as caught:
        admit(client, msgid)
    assert "停机" in caught.value.upstream_message
    assert received(sim) == [], "nothing stored during an outage"
    start = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        client.query_filings("P001")
    assert time.monotonic() - start < 3.0 + 1.0
    assert len([c for c in recorder.calls if c.infno == "WI1201"]) >= 2, "reads were retried"
    faults(sim)
    assert client.query_filings("P001")


def test_random_errors_are_retried_for_reads(
    client: ReferenceClient, sim: SimulatorServer, recorder: MemoryRecorder
) -> None:
    client.sign_in()
    faults(sim, error_rate=0.3)
    for _ in range(10):
        assert client.query_filings("P001")
    statuses = [c.http_status for c in recorder.calls if c.infno == "WI1201"]
    assert 503 in statuses and statuses.count(200) == 10


def test_latency_within_the_budget_is_waited_for_and_beyond_it_fails(
    sim: SimulatorServer,
) -> None:
    config = make_config(sim.url, read_timeout_s=1.0, read_budget_s=1.5)
    with ReferenceClient.from_config(config) as client:
        client.sign_in()
        faults(sim, latency_ms=300)
        assert client.query_filings("P001")
        faults(sim, latency_ms=2000)
        start = time.monotonic()
        with pytest.raises(UpstreamUnavailable) as caught:
            client.query_filings("P001")
        assert caught.value.code == "UPSTREAM_TIMEOUT"
        assert time.monotonic() - start < 1.5 + 0.5


def test_clearing_faults_and_reset(client: ReferenceClient, sim: SimulatorServer) -> None:
    faults(sim, outage=True, latency_ms=10)
    assert httpx.post(f"{sim.url}/_sim/faults", json={}).json() == {
        "latency_ms": 0, "error_rate": 0.0, "outage": False, "drop_reply_after_commit_rate": 0.0
    }  # fmt: skip
    bad = httpx.post(f"{sim.url}/_sim/faults", json={"error_rate": 2})
    assert bad.status_code == 422
    assert client.query_filings("P001")


def test_after_a_reset_the_old_sign_no_is_refused_and_the_client_renews_it(
    client: ReferenceClient, sim: SimulatorServer, recorder: MemoryRecorder, msgid: Msgids
) -> None:
    old = client.sign_in()
    httpx.post(f"{sim.url}/_sim/reset")
    ack = admit(client, msgid)
    assert ack.output["registered"] and client.sign_no != old
    attempts = [c for c in recorder.calls if c.infno == "WI2401"]
    assert [c.outcome for c in attempts] == ["rejected", "ok"]
    assert attempts[0].msgid == attempts[1].msgid
    [write] = received(sim, infno="WI2401")
    assert write["times_received"] == 1, "the refused sign-in was not stored under the msgid"


@pytest.fixture
def hmac_sim():
    server = start_on_today(auth=HmacAuth("AK-DEMO", "demo-secret"))
    try:
        yield server
    finally:
        server.stop()


def test_hmac_gateway_auth_against_a_simulator_configured_alike(hmac_sim: SimulatorServer) -> None:
    good = make_config(hmac_sim.url, auth="hmac", access_key="AK-DEMO", secret_key="demo-secret")
    with ReferenceClient.from_config(good) as client:
        assert client.query_filings("P001")
    wrong = make_config(hmac_sim.url, auth="hmac", access_key="AK-DEMO", secret_key="guess")
    with (
        ReferenceClient.from_config(wrong) as client,
        pytest.raises(UpstreamRejected, match="签名") as caught,
    ):
        client.sign_in()
    assert "HTTP 401" in caught.value.message
    with (
        ReferenceClient.from_config(make_config(hmac_sim.url)) as client,
        pytest.raises(UpstreamRejected, match="access key"),
    ):
        client.sign_in()


def test_sm_gateway_auth_against_a_simulator_configured_alike() -> None:
    ours_private, ours_public = generate_sm2_keypair()
    theirs_private, theirs_public = generate_sm2_keypair()
    key = "8f3a1c2b4d5e6f708192a3b4c5d6e7f8"
    upstream = SmAuth(access_key="AK-SM", sm4_key=key, own_private_key=theirs_private,
                      own_public_key=theirs_public, peer_public_key=ours_public)  # fmt: skip
    server = start_on_today(auth=upstream)
    try:
        config = make_config(server.url, auth="sm", access_key="AK-SM", sm4_key=key,
                             sm2_private_key=ours_private, sm2_public_key=ours_public,
                             upstream_sm2_public_key=theirs_public)  # fmt: skip
        with ReferenceClient.from_config(config) as client:
            [filing] = client.query_filings("P001")
            assert filing.name == "王建国"
        forged_private, forged_public = generate_sm2_keypair()
        forged = make_config(server.url, auth="sm", access_key="AK-SM", sm4_key=key,
                             sm2_private_key=forged_private, sm2_public_key=forged_public,
                             upstream_sm2_public_key=theirs_public)  # fmt: skip
        with (
            ReferenceClient.from_config(forged) as client,
            pytest.raises(UpstreamRejected, match="签名验证不通过"),
        ):
            client.sign_in()
    finally:
        server.stop()
