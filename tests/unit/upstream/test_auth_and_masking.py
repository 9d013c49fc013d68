"""Gateway authentication (HMAC, 国密) and masking of what the call log keeps."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from adapter.domain.masking import looks_masked, mask_body, mask_text
from adapter.domain.upstream import CertType
from connectors.upstream.auth import AuthFailure, HmacAuth
from connectors.upstream.config import make_auth
from connectors.upstream.sm_auth import SmAuth, generate_sm2_keypair

from .helpers import PERSON_OUTPUT, make_client, reply, sign_in_reply

CITIZEN_ID = "110101199003078515"


@pytest.fixture
def router() -> respx.MockRouter:
    router = respx.MockRouter(base_url="https://upstream.test/wi/", assert_all_called=False)
    router.post("WI9001").mock(return_value=sign_in_reply())
    return router


def test_hmac_headers_are_sent_and_verify_on_the_other_side(router: respx.MockRouter) -> None:
    route = router.post("WI1201").mock(
        return_value=httpx.Response(200, json=reply({"filings": []}))
    )
    client, _, _ = make_client(router, auth="hmac", access_key="AK01", secret_key="s3cret")
    client.query_filings("P001")
    request = route.calls.last.request
    for header in ("X-Access-Key", "X-Timestamp", "X-Nonce", "X-Signature"):
        assert request.headers[header], header
    assert request.headers["X-Access-Key"] == "AK01"
    receiver = HmacAuth("AK01", "s3cret")
    assert receiver.open_request(request.content, request.headers) == request.content
    with pytest.raises(AuthFailure, match="签名"):
        receiver.open_request(request.content + b" ", request.headers)
    with pytest.raises(AuthFailure, match="签名"):
        HmacAuth("AK01", "other").open_request(request.content, request.headers)


def test_hmac_refuses_a_stale_timestamp() -> None:
    sender = HmacAuth("AK01", "s3cret", now=lambda: 1_000_000.0)
    wire, headers = sender.seal_request(b"{}")
    receiver = HmacAuth("AK01", "s3cret", now=lambda: 1_000_000.0 + 301)
    with pytest.raises(AuthFailure, match="时间戳"):
        receiver.open_request(wire, headers)


def test_hmac_without_keys_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="access_key"):
        make_auth("hmac", access_key="AK01")
    with pytest.raises(ValueError, match="unknown gateway auth"):
        make_auth("rsa")


SM4_KEY = "0123456789abcdeffedcba9876543210"


def sm_auth(own: tuple[str, str], peer_public: str) -> SmAuth:
    """One side of the 国密 gateway: its own key pair (private, public) and the other's key."""
    private, public = own
    return SmAuth(access_key="AK01", sm4_key=SM4_KEY, own_private_key=private,
                  own_public_key=public, peer_public_key=peer_public)  # fmt: skip


def test_sm_encrypts_signs_and_verifies_both_ways() -> None:
    client_keys, server_keys = generate_sm2_keypair(), generate_sm2_keypair()
    client = sm_auth(client_keys, server_keys[1])
    server = sm_auth(server_keys, client_keys[1])
    body = json.dumps({"certno": CITIZEN_ID, "name": "王建国"}, ensure_ascii=False).encode()
    wire, headers = client.seal_request(body)
    assert CITIZEN_ID.encode() not in wire and "王建国".encode() not in wire
    assert headers["X-Sign-Type"] == "SM3withSM2"
    assert server.open_request(wire, headers) == body
    answer, answer_headers = server.seal_reply(b'{"infcode":0}')
    assert client.open_reply(answer, answer_headers) == b'{"infcode":0}'
    forged = dict(headers, **{"X-Signature": headers["X-Signature"][:-4] + "0000"})
    with pytest.raises(AuthFailure, match="签名"):
        server.open_request(wire, forged)
    with pytest.raises(AuthFailure):
        client.open_reply(wire, headers)  # signed by the client's own key, not upstream's


def test_sm_signs_and_verifies_with_a_public_key_that_begins_with_04() -> None:
    # private key 11's public key begins "04": gmssl alone strips it to 126 digits ("lstrip")
    client_keys = (
        f"{11:064x}",
        "04b3cb10c9c6d8e27c1aab770f67f543125dcdd589c2ff82668c74d78ce20ace"
        "63516355287e39fe4918e5c02e2b0b930c94816e63c4bc72739a8fd805174a4b",
    )
    server_keys = generate_sm2_keypair()
    client = sm_auth(client_keys, server_keys[1])
    server = sm_auth(server_keys, client_keys[1])
    wire, headers = client.seal_request(b'{"psn_no":"P001"}')
    assert server.open_request(wire, headers) == b'{"psn_no":"P001"}'
    answer, answer_headers = server.seal_reply(b'{"infcode":0}')
    assert client.open_reply(answer, answer_headers) == b'{"infcode":0}'
    # the keys in the uncompressed form gateways hand out: "04" and the 128 digits
    server_04 = sm_auth((server_keys[0], f"04{server_keys[1]}"), f"04{client_keys[1]}")
    assert server_04.open_request(wire, headers) == b'{"psn_no":"P001"}'


def test_sm_refuses_bad_keys_at_construction() -> None:
    with pytest.raises(ValueError, match="sm4_key"):
        make_auth("sm", access_key="AK01", sm4_key="short")
    keys = generate_sm2_keypair()
    with pytest.raises(ValueError, match="upstream_sm2_public_key must be 128 hex digits"):
        sm_auth(keys, f"05{keys[1]}")


def test_call_log_records_never_hold_personal_data_in_full(router: respx.MockRouter) -> None:
    router.post("WI1101").mock(return_value=httpx.Response(200, json=reply(PERSON_OUTPUT)))
    client, recorder, _ = make_client(router)
    client.query_person(CertType.CITIZEN_ID, CITIZEN_ID, name="王建国", context="enc-1")
    [call] = [c for c in recorder.calls if c.infno == "WI1101"]
    text = json.dumps([call.request_body, call.reply_body], ensure_ascii=False)
    for secret in (CITIZEN_ID, "王建国", "A12345678", "310100D15600000500"):
        assert secret not in text, secret
    assert call.request_body["input"]["mdtrt_cert_no"] == "110101********8515"
    assert call.reply_body["output"]["baseinfo"]["psn_name"] == "王**"
    assert call.reply_body["output"]["baseinfo"]["psn_no"] == "P001"
    assert call.context == "enc-1" and call.outcome == "ok" and call.infcode == 0


def test_masking_by_key_and_in_free_text() -> None:
    masked = mask_body(
        {"tel": "13812345678", "ecqrcode": "QRTOKEN-123456", "note": f"身份证{CITIZEN_ID}",
         "items": [{"relative_citizen_id": CITIZEN_ID, "item_name": "床位费"}],
         "mdtrt_cert_type": "01", "mdtrt_cert_no": "QRTOKEN-999"}
    )  # fmt: skip
    assert masked["tel"] == "138****5678"
    assert masked["ecqrcode"] == "QRTO…"
    assert masked["note"] == "身份证110101********8515"
    assert masked["items"][0] == {
        "relative_citizen_id": "110101********8515",
        "item_name": "床位费",
    }
    assert masked["mdtrt_cert_no"] == "QRTO…"
    assert mask_text("电话13912345678") == "电话139****5678"
    assert mask_text("TEL13912345678") == "TEL139****5678"
    assert mask_text(f"ID{CITIZEN_ID}") == "ID110101********8515"
    assert looks_masked(masked) and not looks_masked({"psn_no": "P001"})


def test_record_ids_whose_digits_look_like_a_phone_or_citizen_id_stay_whole() -> None:
    # new_id: a letter and 24 hex digits; these hold a mobile-shaped and a citizen-ID-shaped run
    phone_shaped, id_shaped = "SA27EB7597B18412347295F10", "EA2110101199003078515CDE"
    ends_phone_shaped = "M0A27EB7597BCD13912345678"
    masked = mask_body({"setl_id": phone_shaped, "details_of": phone_shaped,
                        "mdtrt_id": id_shaped, "note": f"结算{phone_shaped}已撤销",
                        "memo": f"就诊{id_shaped}",
                        "text": f"MSH|{ends_phone_shaped}|"})  # fmt: skip
    assert masked == {"setl_id": phone_shaped, "details_of": phone_shaped, "mdtrt_id": id_shaped,
                      "note": f"结算{phone_shaped}已撤销", "memo": f"就诊{id_shaped}",
                      "text": f"MSH|{ends_phone_shaped}|"}  # fmt: skip
    assert not looks_masked(masked)
    # a number after a word, or written alone, is still a person's number
    assert mask_text("TEL13812345678;ID110101199003078515") == "TEL138****5678;ID110101********8515"
