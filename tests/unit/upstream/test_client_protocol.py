"""The envelope, sign-in and its renewal, writes, and the mapping into domain types."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.errors import UpstreamRejected
from adapter.domain.filings import FilingPurpose, FilingStatus
from adapter.domain.institutions import DirectSettlementStatus
from adapter.domain.people import CardStatus, Gender
from adapter.domain.upstream import CertType, Infno, UpstreamGateway

from .helpers import PERSON_OUTPUT, make_client, reply, sent, sign_in_reply

MSGID = "H11010000001202611240930000001"


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url="https://upstream.test/wi/", assert_all_called=False)


def test_the_client_satisfies_the_port(router: respx.MockRouter) -> None:
    client, _, _ = make_client(router)
    gateway: UpstreamGateway = client
    assert gateway is client


def test_the_first_call_signs_in_and_every_call_carries_the_envelope(
    router: respx.MockRouter,
) -> None:
    sign_in = router.post("WI9001").mock(return_value=sign_in_reply("SIGN-7"))
    route = router.post("WI1201").mock(
        return_value=httpx.Response(200, json=reply({"filings": []}))
    )
    client, _, _ = make_client(router)
    client.query_filings("P001", insuplc_admdvs="310100")
    client.query_filings("P001", insuplc_admdvs="310100")
    assert sign_in.call_count == 1
    body = sent(route.calls.last.request)
    assert body["infno"] == "WI1201"
    assert body["sign_no"] == "SIGN-7"
    assert body["mdtrtarea_admvs"] == "110100"
    assert body["insuplc_admdvs"] == "310100"
    assert body["fixmedins_code"] == "H11010000001"
    assert body["fixmedins_name"] == "示例工伤协议医院"
    assert body["inf_time"] == "2026-11-24 09:30:00"
    assert body["input"] == {"psn_no": "P001"}
    assert body["msgid"].startswith("H1101000000120261124093000")
    for key in ("recer_sys_code", "infver", "opter_type", "opter", "opter_name"):
        assert body[key], key
    assert route.calls.last.request.url.path == "/wi/WI1201"
    assert sent(sign_in.calls.last.request)["sign_no"] == ""


def test_an_expired_sign_no_is_renewed_and_the_message_sent_again_once(
    router: respx.MockRouter,
) -> None:
    router.post("WI9001").mock(side_effect=[sign_in_reply("SIGN-1"), sign_in_reply("SIGN-2")])
    route = router.post("WI2301").mock(
        side_effect=[
            httpx.Response(200, json=reply(infcode=-1, err_msg="签到信息已失效，请重新签到")),
            httpx.Response(200, json=reply({"setl_id": "S1"})),
        ]
    )
    client, _, _ = make_client(router)
    ack = client.submit(Infno.DISCHARGE, MSGID, {"setl_id": "S1"})
    assert ack.output == {"setl_id": "S1"}
    first, second = (sent(call.request) for call in route.calls)
    assert (first["sign_no"], second["sign_no"]) == ("SIGN-1", "SIGN-2")
    assert first["msgid"] == second["msgid"] == MSGID
    assert client.sign_no == "SIGN-2"


def test_a_sign_no_that_keeps_expiring_is_rejected_not_looped(router: respx.MockRouter) -> None:
    router.post("WI9001").mock(return_value=sign_in_reply())
    expired = httpx.Response(200, json=reply(infcode=-1, err_msg="签到号已过期"))
    route = router.post("WI1201").mock(return_value=expired)
    client, _, _ = make_client(router)
    with pytest.raises(UpstreamRejected) as caught:
        client.query_filings("P001")
    assert route.call_count == 2
    assert caught.value.upstream_message == "签到号已过期"


def test_a_new_day_signs_in_again(router: respx.MockRouter) -> None:
    sign_in = router.post("WI9001").mock(
        side_effect=[sign_in_reply("DAY-1"), sign_in_reply("DAY-2")]
    )
    route = router.post("WI1201").mock(
        return_value=httpx.Response(200, json=reply({"filings": []}))
    )
    client, _, time = make_client(router)
    client.query_filings("P001")
    time.wall += timedelta(days=1)
    client.query_filings("P001")
    assert sign_in.call_count == 2
    assert sent(route.calls.last.request)["sign_no"] == "DAY-2"


def test_a_write_sends_the_callers_msgid_and_input_and_returns_the_ack(
    router: respx.MockRouter,
) -> None:
    router.post("WI9001").mock(return_value=sign_in_reply())
    route = router.post("WI2701").mock(
        return_value=httpx.Response(200, json=reply({"setl_id": "D1", "fund_pay": "8000.00"}))
    )
    client, recorder, _ = make_client(router)
    ack = client.submit(
        Infno.DEVICE_SETTLEMENT,
        MSGID,
        {"setl_id": "D1", "items": [1]},
        insuplc_admdvs="310100",
        context="enc-42",
    )
    body = sent(route.calls.last.request)
    assert body["msgid"] == MSGID and body["input"] == {"setl_id": "D1", "items": [1]}
    assert ack.msgid == MSGID and ack.infno == "WI2701"
    assert ack.refmsgid == "UP202611240930000001"
    assert ack.output["fund_pay"] == "8000.00"
    write = recorder.calls[-1]
    assert (write.is_write, write.context, write.msgid) == (True, "enc-42", MSGID)


@pytest.mark.parametrize(
    "infno",
    [
        Infno.ADMISSION,
        Infno.ADMISSION_REVOKE,
        Infno.REHAB_PLAN,
        Infno.DISCHARGE,
        Infno.SETTLEMENT_REVOKE,
        Infno.DEVICE_SETTLEMENT,
        Infno.DEVICE_FUNDS_CONFIRM,
    ],
)
def test_each_write_posts_to_its_infno(router: respx.MockRouter, infno: Infno) -> None:
    router.post("WI9001").mock(return_value=sign_in_reply())
    route = router.post(infno.value).mock(return_value=httpx.Response(200, json=reply({})))
    client, _, _ = make_client(router)
    ack = client.submit(infno, MSGID, {"x": 1})
    assert route.call_count == 1 and ack.infno == infno


def test_a_reversal_must_name_the_original(router: respx.MockRouter) -> None:
    client, _, _ = make_client(router)
    with pytest.raises(ValueError, match="omsgid"):
        client.submit(Infno.REVERSAL, MSGID, {"oinfno": "WI2301"})


def test_submit_refuses_a_read(router: respx.MockRouter) -> None:
    client, _, _ = make_client(router)
    with pytest.raises(ValueError, match="read"):
        client.submit(Infno.FILINGS, MSGID, {})


def test_person_query_yields_the_person_and_suspensions(router: respx.MockRouter) -> None:
    router.post("WI9001").mock(return_value=sign_in_reply())
    route = router.post("WI1101").mock(return_value=httpx.Response(200, json=reply(PERSON_OUTPUT)))
    client, _, _ = make_client(router)
    record = client.query_person(
        CertType.SOCIAL_SECURITY_CARD, "A12345678", card_sn="310100D15600000500"
    )
    assert sent(route.calls.last.request)["input"]["mdtrt_cert_type"] == "03"
    person = record.person
    assert (person.psn_no, person.gender, person.insured_admdvs) == ("P001", Gender.MALE, "310100")
    assert person.birth_date == date(1990, 3, 7) and person.card_status is CardStatus.NORMAL
    assert record.suspensions[0].since == date(2026, 6, 1)
    assert record.suspensions[0].in_force(date(2026, 11, 24))


def test_filings_institution_catalogue_and_monthly_figures_are_domain_types(
    router: respx.MockRouter,
) -> None:
    router.post("WI9001").mock(return_value=sign_in_reply())
    filing = {
        "filing_no": "F1", "psn_no": "P001", "category": "long_term_residence",
        "purpose": "device", "mdtrtarea_admvs": "110100", "begndate": "2026-01-10",
        "enddate": "2027-01-09", "filed_on": "2026-01-05", "status": "changed",
        "successor_no": "F2", "injury_parts": ["左手"],
        "approval_notice_no": "沪工伤辅核〔2026〕1号",
        "devices": [{"device_code": "D01", "device_name": "上肢假肢", "min_years": 3,
                     "limit": "12000.00"}],
    }  # fmt: skip
    router.post("WI1201").mock(return_value=httpx.Response(200, json=reply({"filings": [filing]})))
    institution = {"fixmedins_code": "H11010000001", "fixmedins_name": "示例工伤协议医院",
                   "kinds": ["medical", "rehab"], "admvs": "110100",
                   "direct_settlement": "suspended"}  # fmt: skip
    router.post("WI1301").mock(
        return_value=httpx.Response(200, json=reply({"institution": institution}))
    )
    item = {"kind": "service_standard", "code": "B01", "name": "床位费", "region": "110100",
            "unit": "日", "price_cap": "60.00", "version": "2026.1",
            "begndate": "2026-01-01"}  # fmt: skip
    catalogue = router.post("WI1401").mock(
        return_value=httpx.Response(200, json=reply({"items": [item]}))
    )
    figures = {"fixmedins_code": "H11010000001", "month": "2026-10", "setl_cnt": 1,
               "total": "100.00", "fund_pay": "80.00", "psn_pay": "20.00",
               "settlements": [{"setl_id": "S1", "msgid": MSGID, "psn_no": "P001",
                                "kind": "medical", "setl_date": "2026-10-03", "total": "100.00",
                                "fund_pay": "80.00", "psn_pay": "20.00"}]}  # fmt: skip
    router.post("WI3201").mock(return_value=httpx.Response(200, json=reply(figures)))
    deduction = {"deduction_no": "K1", "month": "2026-10", "setl_id": "S1", "psn_no": "P001",
                 "item_code": "XA01", "item_name": "布洛芬缓释胶囊", "amount": "12.50",
                 "reason": "超适应症用药"}  # fmt: skip
    router.post("WI3202").mock(
        return_value=httpx.Response(200, json=reply({"deductions": [deduction]}))
    )
    client, _, _ = make_client(router)

    [got] = client.query_filings("P001")
    assert got.purpose is FilingPurpose.DEVICE and got.status is FilingStatus.CHANGED
    assert got.successor_no == "F2" and got.devices[0].limit == Decimal("12000.00")
    inst = client.institution_status("H11010000001")
    assert inst.status is DirectSettlementStatus.SUSPENDED and inst.kinds == {"medical", "rehab"}
    [cap] = client.download_catalogue(CatalogueKind.SERVICE_STANDARD, "110100", since_version="1")
    assert cap.price_cap == Decimal("60.00") and cap.valid_from == date(2026, 1, 1)
    assert sent(catalogue.calls.last.request)["input"] == {
        "kind": "service_standard", "region": "110100", "ver": "1"
    }  # fmt: skip
    month = client.reconciliation("2026-10")
    assert month.fund_pay == Decimal("80.00") and month.settlements[0].msgid == MSGID
    [ded] = client.audit_deductions("2026-10")
    assert ded.amount == Decimal("12.50") and ded.reason == "超适应症用药"


def test_money_sent_as_a_json_number_is_read_by_its_own_digits(router: respx.MockRouter) -> None:
    """Never through a float: 12.51 as a binary float is 12.5099999…; and a number finer than
    the fen is refused as a string would be."""
    from adapter.domain.errors import UpstreamMalformed

    router.post("WI9001").mock(return_value=sign_in_reply())
    body = b'{"infcode": 0, "output": {"deductions": [{"deduction_no": "K1", "month": "2026-10", '
    router.post("WI3202").mock(
        side_effect=[
            httpx.Response(200, content=body + b'"amount": 12.51}]}}'),
            httpx.Response(200, content=body + b'"amount": 12.505}]}}'),
        ]
    )
    client, _, _ = make_client(router)
    [deduction] = client.audit_deductions("2026-10")
    assert deduction.amount == Decimal("12.51") and str(deduction.amount) == "12.51"
    with pytest.raises(UpstreamMalformed, match=r"deductions\[0\]\.amount"):
        client.audit_deductions("2026-10")


@pytest.mark.parametrize(
    ("infno", "reply_output", "read"),
    [
        ("WI3201", {"fixmedins_code": "H11010000001", "month": "2026-10", "total": "100.005",
                    "fund_pay": "80.00", "psn_pay": "20.00", "settlements": []},
         lambda client: client.reconciliation("2026-10")),
        ("WI3201", {"fixmedins_code": "H11010000001", "month": "2026-10", "total": "100.00",
                    "fund_pay": "80.00", "psn_pay": "20.00",
                    "settlements": [{"setl_id": "S1", "psn_no": "P001", "setl_date": "2026-10-03",
                                     "total": "100.00", "fund_pay": "79.999",
                                     "psn_pay": "20.00"}]},
         lambda client: client.reconciliation("2026-10")),
        ("WI3202", {"deductions": [{"deduction_no": "K1", "month": "2026-10",
                                    "amount": "12.505"}]},
         lambda client: client.audit_deductions("2026-10")),
    ],
)  # fmt: skip
def test_a_settled_amount_finer_than_the_fen_is_malformed(
    router: respx.MockRouter, infno: str, reply_output: dict[str, Any], read: Any
) -> None:
    """The month and its deductions are compared and stored to the fen: an amount finer than
    that is upstream's error, named, not a run that fails while storing its differences."""
    from adapter.domain.errors import UpstreamMalformed

    router.post("WI9001").mock(return_value=sign_in_reply())
    router.post(infno).mock(return_value=httpx.Response(200, json=reply(reply_output)))
    client, _, _ = make_client(router)
    with pytest.raises(UpstreamMalformed) as refused:
        read(client)
    assert "not to the fen" in refused.value.upstream_message


def test_request_body_is_utf8_json(router: respx.MockRouter) -> None:
    router.post("WI9001").mock(return_value=sign_in_reply())
    route = router.post("WI1101").mock(return_value=httpx.Response(200, json=reply(PERSON_OUTPUT)))
    client, _, _ = make_client(router)
    client.query_person(CertType.CITIZEN_ID, "110101199003078515", name="王建国")
    request = route.calls.last.request
    assert "王建国" in request.content.decode("utf-8")
    assert request.headers["content-type"].startswith("application/json")
    assert json.loads(request.content)["input"]["psn_name"] == "王建国"


def test_a_reconciliation_row_names_its_kind_or_none_never_a_guessed_one() -> None:
    """WI3201's rows carry the settlement's kind (medical, rehab, device) as the simulator
    sends it; a row without one is read as naming none, so reconciliation does not compare
    kinds on it — not as "medical", which would set every rehab and device settlement
    against upstream."""
    from connectors.upstream.mapping import read_reconciliation

    row = {"setl_id": "S1", "msgid": MSGID, "psn_no": "P001", "setl_date": "2026-10-03",
           "total": "100.00", "fund_pay": "80.00", "psn_pay": "20.00"}  # fmt: skip
    figures = {"fixmedins_code": "H11010000001", "month": "2026-10", "setl_cnt": 2,
               "total": "200.00", "fund_pay": "160.00", "psn_pay": "40.00",
               "settlements": [row, row | {"setl_id": "S2", "kind": "rehab"}]}  # fmt: skip
    unnamed, named = read_reconciliation(figures).settlements
    assert (unnamed.kind, named.kind) == ("", "rehab")
