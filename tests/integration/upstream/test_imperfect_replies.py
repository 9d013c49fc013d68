"""Replies a real upstream sends that the dialect does not quite document, over real HTTP.

The simulator answers the transaction as usual, then ``/_sim/next_reply`` gives that one reply
another shape (a field renamed in case, a date without dashes, money as a JSON number, an HTML
page). What a hospital needs: money read exactly or not at all (the field named), a harmless
format variation not turned into a refused stay, a clear Chinese message for the clerk.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.errors import UpstreamMalformed, UpstreamRefused
from adapter.domain.filings import FilingStatus
from adapter.domain.upstream import CertType
from connectors.upstream.client import ReferenceClient
from connectors.upstream.records import MemoryRecorder
from connectors.upstream.simulator import SimulatorServer

from .conftest import TODAY, make_config

LAST_MONTH = f"{TODAY.replace(day=1) - timedelta(days=1):%Y-%m}"


def next_reply(sim: SimulatorServer, infno: str, **shape: Any) -> None:
    response = httpx.post(f"{sim.url}/_sim/next_reply", json={"infno": infno, **shape})
    assert response.status_code == 200, response.text


def raw_output(client: ReferenceClient, infno: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What the simulator answers as documented (the base a test then reshapes)."""
    return copy.deepcopy(client.resend_read(infno, payload))


def p001_filing(client: ReferenceClient, **changes: Any) -> dict[str, Any]:
    filing = raw_output(client, "WI1201", {"psn_no": "P001"})["filings"][0]
    assert filing["filing_no"] == "F001" and filing["status"] == "active"
    return filing | changes


def filings_with(client: ReferenceClient, sim: SimulatorServer, **changes: Any) -> list[Any]:
    next_reply(sim, "WI1201", output={"filings": [p001_filing(client, **changes)]})
    return client.query_filings("P001")


# --- a harmless format variation is read, not refused ----------------------------------------


def test_a_filing_status_in_another_case_is_the_same_status(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    (filing,) = filings_with(client, sim, status="Active ")
    assert filing.status is FilingStatus.ACTIVE
    assert filing.status_on(TODAY) == "有效"


def test_filing_dates_without_dashes_or_with_a_time_are_the_same_days(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    documented = client.query_filings("P001")[0]
    (filing,) = filings_with(
        client,
        sim,
        begndate=f"{documented.valid_from:%Y%m%d}",
        enddate=int(f"{documented.valid_to:%Y%m%d}"),
        filed_on=f"{documented.filed_on:%Y-%m-%d} 09:30:00",
    )
    assert (filing.valid_from, filing.valid_to, filing.filed_on) == (
        documented.valid_from,
        documented.valid_to,
        documented.filed_on,
    )


@pytest.mark.parametrize("enddate", ["", None])
def test_a_filing_without_an_end_date_is_valid_until_it_is_ended(
    client: ReferenceClient, sim: SimulatorServer, enddate: object
) -> None:
    """N§11: the insured province sets the validity, and may leave it open (长期有效) until
    the filing is changed or cancelled (N§15) — not a malformed reply refusing the stay."""
    (filing,) = filings_with(client, sim, enddate=enddate)
    assert filing.valid_on(TODAY) and filing.valid_on(TODAY + timedelta(days=3650))
    assert filing.status_on(TODAY) == "有效"
    (ended,) = filings_with(client, sim, enddate=enddate, terminated_on=f"{TODAY:%Y-%m-%d}")
    assert not ended.valid_on(TODAY)


def test_extra_fields_are_ignored(client: ReferenceClient, sim: SimulatorServer) -> None:
    (filing,) = filings_with(client, sim, ext_field={"a": [1, 2]}, memo="备注")
    assert filing.filing_no == "F001"


def test_an_object_sent_as_a_list_of_one_is_that_object(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    card = CertType.SOCIAL_SECURITY_CARD
    person = client.query_person(card, "310100A0001")
    output = raw_output(client, "WI1101", {"mdtrt_cert_type": "03", "mdtrt_cert_no": "310100A0001"})
    next_reply(sim, "WI1101", output={"baseinfo": [output["baseinfo"]]})
    assert client.query_person(card, "310100A0001") == person
    next_reply(sim, "WI1201", output={"filings": p001_filing(client)})
    assert [f.filing_no for f in client.query_filings("P001")] == ["F001"]


def test_an_output_sent_as_text_holding_json_is_that_object(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    """Some gateways serialise ``output`` twice: the text's object is read, its money from
    its own digits (a filed device limit written ``12000.10`` stays 12000.10, not a float)."""
    card = CertType.SOCIAL_SECURITY_CARD
    person = client.query_person(card, "310100A0001")
    output = raw_output(client, "WI1101", {"mdtrt_cert_type": "03", "mdtrt_cert_no": "310100A0001"})
    next_reply(sim, "WI1101", envelope={"output": json.dumps(output, ensure_ascii=False)})
    assert client.query_person(card, "310100A0001") == person
    filing = p001_filing(client)
    text = json.dumps({"filings": [filing]}, ensure_ascii=False)
    next_reply(sim, "WI1201", envelope={"output": text})
    assert [f.filing_no for f in client.query_filings("P001")] == ["F001"]


@pytest.mark.parametrize(
    "text",
    ["这不是JSON", "[1, 2]", '"{}"', "[" * 100_000 + "]" * 100_000],
    ids=["words", "list", "string", "deep"],
)
def test_an_output_text_that_is_no_object_is_malformed(
    client: ReferenceClient, sim: SimulatorServer, recorder: MemoryRecorder, text: str
) -> None:
    next_reply(sim, "WI1201", envelope={"output": text})
    with pytest.raises(UpstreamMalformed) as caught:
        client.query_filings("P001")
    assert caught.value.message.startswith("工伤保险信息系统返回的数据无法识别，请联系信息科")
    assert recorder.calls[-1].outcome == "malformed"


def test_an_output_of_blank_text_is_no_output(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    """Blank text is read as an absent output: a list the reply is for is then missing."""
    next_reply(sim, "WI1201", envelope={"output": "  "})
    with pytest.raises(UpstreamMalformed) as caught:
        client.query_filings("P001")
    assert "filings" in caught.value.upstream_message


@pytest.mark.parametrize(
    ("sent", "read"),
    [(False, False), ("0", False), ("false", False), ("N", False), ("否", False), (0, False),
     (True, True), ("1", True), ("true", True), ("是", True), (None, False), ("", False)],
)  # fmt: skip
def test_third_party_liability_sent_as_text_is_what_it_says(
    client: ReferenceClient, sim: SimulatorServer, sent: object, read: bool
) -> None:
    """A third party liable for the injury changes who pays; "0" is not a yes."""
    (filing,) = filings_with(client, sim, third_party_liability=sent)
    assert filing.third_party_liability is read


def test_a_yes_or_no_that_is_neither_is_refused_naming_the_field(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    with pytest.raises(UpstreamMalformed) as caught:
        filings_with(client, sim, third_party_liability="unknown")
    assert "filings[0].third_party_liability" in caught.value.message


# --- money: exactly, or refused naming the field ---------------------------------------------


def test_a_filed_device_limit_sent_as_a_json_number_is_read_exactly(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    """The number's own digits, not the float nearest to them."""
    device = {"device_code": "D01", "device_name": "上肢假肢", "min_years": 3, "limit": 12000.1}
    (filing,) = filings_with(client, sim, devices=[device])
    assert filing.devices[0].limit == Decimal("12000.1")
    assert str(filing.devices[0].limit) == "12000.1"


@pytest.mark.parametrize("limit", ["12,000.00", "12000.005", "1e4", "12 000", "￥12000", True])
def test_a_filed_device_limit_not_readable_to_the_fen_is_refused_naming_it(
    client: ReferenceClient, sim: SimulatorServer, limit: object
) -> None:
    device = {"device_code": "D01", "device_name": "上肢假肢", "min_years": 3, "limit": limit}
    with pytest.raises(UpstreamMalformed) as caught:
        filings_with(client, sim, devices=[device])
    assert "filings[0].devices[0].limit" in caught.value.message
    assert caught.value.message.startswith("工伤保险信息系统返回的数据无法识别")


def test_reconciliation_amounts_as_json_numbers_or_three_places_ending_in_zero_are_exact(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    documented = client.reconciliation(LAST_MONTH)
    output = raw_output(client, "WI3201", {"fixmedins_code": "H11010000001", "month": LAST_MONTH})
    first = output["settlements"][0]
    numbers = [
        first,
        {**first, "setl_id": "S-NUM", "total": 100.1, "fund_pay": 90.0, "psn_pay": "10.100"},
    ]
    next_reply(sim, "WI3201", output={"settlements": numbers, "setl_cnt": "3"})
    figures = client.reconciliation(LAST_MONTH)
    read = figures.settlements[1]
    assert (read.total, read.fund_pay, read.personal_pay) == (
        Decimal("100.1"),
        Decimal("90.0"),
        Decimal("10.100"),
    )
    assert read.fund_pay + read.personal_pay == read.total
    assert figures.total == documented.total and figures.settlement_count == 3


@pytest.mark.parametrize(
    ("where", "value"),
    [("settlements[0].total", "18,650.40"), ("settlements[0].total", "18650.405"),
     ("settlements[0].fund_pay", 17982.105), ("total", "NaN"), ("psn_pay", None)],
)  # fmt: skip
def test_a_reconciliation_amount_not_readable_to_the_fen_is_refused_naming_it(
    client: ReferenceClient,
    sim: SimulatorServer,
    recorder: MemoryRecorder,
    where: str,
    value: object,
) -> None:
    output = raw_output(client, "WI3201", {"fixmedins_code": "H11010000001", "month": LAST_MONTH})
    if where.startswith("settlements[0]."):
        output["settlements"][0][where.split(".")[1]] = value
        shape = {"settlements": output["settlements"]}
    else:
        shape = {where: value}
    next_reply(sim, "WI3201", output=shape)
    with pytest.raises(UpstreamMalformed) as caught:
        client.reconciliation(LAST_MONTH)
    assert f"WI3201 返回的 {where} 无法识别" in caught.value.message
    assert recorder.calls[-1].outcome == "malformed"  # IT finds it in the call log by msgid
    assert recorder.calls[-1].msgid == caught.value.msgid


@pytest.mark.parametrize(("sent", "revoked"), [("false", False), ("0", False), ("1", True)])
def test_a_settlement_revoked_flag_sent_as_text_is_what_it_says(
    client: ReferenceClient, sim: SimulatorServer, sent: str, revoked: bool
) -> None:
    """A live settlement read as revoked would drop its money from the month (N§35)."""
    output = raw_output(client, "WI3201", {"fixmedins_code": "H11010000001", "month": LAST_MONTH})
    output["settlements"][0]["revoked"] = sent
    next_reply(sim, "WI3201", output={"settlements": output["settlements"]})
    assert client.reconciliation(LAST_MONTH).settlements[0].revoked is revoked


# --- an unusable reply: a clear message for the clerk ----------------------------------------


def test_an_html_page_with_status_200_is_malformed_and_502_is_unavailable(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    next_reply(sim, "WI1201", raw=page)
    with pytest.raises(UpstreamMalformed) as caught:
        client.query_filings("P001")
    assert caught.value.message == "工伤保险信息系统返回的数据无法识别，请联系信息科"
    next_reply(sim, "WI1201", raw=page, status=502)  # transient: the read's retry answers
    assert [f.filing_no for f in client.query_filings("P001")] == ["F001"]


@pytest.mark.parametrize("err_msg", ["", None, 12, "人员信息不存在" * 2000])
def test_a_refusal_with_an_empty_or_endless_message_reads_well(
    client: ReferenceClient, sim: SimulatorServer, err_msg: object
) -> None:
    next_reply(sim, "WI1201", envelope={"infcode": -1, "err_msg": err_msg, "output": {}})
    with pytest.raises(UpstreamRefused) as caught:
        client.query_filings("P001")
    message = caught.value.message
    assert message.startswith("工伤保险信息系统拒绝了本次请求：")
    assert len(message) <= 300
    if isinstance(err_msg, str) and err_msg:
        assert caught.value.upstream_message == err_msg  # IT keeps upstream's own words
        assert message.endswith("…")
    elif err_msg in ("", None):
        assert message.endswith("无说明")


def test_infcode_as_text_zero_is_accepted(client: ReferenceClient, sim: SimulatorServer) -> None:
    next_reply(sim, "WI1201", envelope={"infcode": "0"})
    assert [f.filing_no for f in client.query_filings("P001")] == ["F001"]


def test_a_reply_naming_another_inf_refmsgid_is_still_ours(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    """``inf_refmsgid`` is upstream's own reference for the reply (interfaces.md §3), not an
    echo of our msgid: it cannot mismatch, and it is not checked."""
    next_reply(sim, "WI1201", envelope={"inf_refmsgid": "ANOTHER"})
    assert [f.filing_no for f in client.query_filings("P001")] == ["F001"]


def test_a_reply_far_too_large_is_not_read_on(sim: SimulatorServer) -> None:
    """A runaway reply must not take the adapter's memory (and every desk) with it."""
    recorder = MemoryRecorder()
    config = make_config(sim.url, max_reply_bytes=64 * 1024)
    with ReferenceClient.from_config(config, recorder=recorder) as small:
        assert [f.filing_no for f in small.query_filings("P001")] == ["F001"]
        huge = '{"infcode": 0, "output": {"filings": [], "memo": "' + "x" * 200_000 + '"}}'
        next_reply(sim, "WI1201", raw=huge)
        with pytest.raises(UpstreamMalformed) as caught:
            small.query_filings("P001")
    assert caught.value.message == (
        "工伤保险信息系统返回的数据无法识别，请联系信息科"
        "（WI1201 返回的数据超过 64 KB 上限，未读取）"
    )
    assert recorder.calls[-1].outcome == "malformed"


@pytest.mark.parametrize("missing", [None, ""])
def test_a_reply_without_the_list_it_is_for_is_not_read_as_none(
    client: ReferenceClient, sim: SimulatorServer, missing: object
) -> None:
    """A worker's filings missing from the reply are not "not filed" (which refuses the stay
    telling them to file, N§16), nor a month's deductions missing "no deductions"."""
    next_reply(sim, "WI1201", output={"filings": missing})
    with pytest.raises(UpstreamMalformed, match=r"WI1201 返回的 filings 无法识别"):
        client.query_filings("P001")
    next_reply(sim, "WI3202", output={"deductions": missing})
    with pytest.raises(UpstreamMalformed, match=r"WI3202 返回的 deductions 无法识别"):
        client.audit_deductions(LAST_MONTH)
    next_reply(sim, "WI1201", output={"filings": []})  # an answer: none
    assert client.query_filings("P001") == []


def test_an_ecard_expiry_that_is_not_a_time_is_refused_naming_it(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    next_reply(sim, "WI1102", output={"token_expires_at": "明天"})
    with pytest.raises(UpstreamMalformed, match=r"WI1102 返回的 token_expires_at 无法识别"):
        client.verify_ecard("ECQR-P001-DEMO")


def test_an_institution_status_in_capitals_and_kinds_as_text_are_read(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    """Every admission checks the institution's direct settlement (N§16): "ENABLED" refusing
    it would refuse every stay."""
    documented = client.institution_status("H11010000001")
    institution = raw_output(client, "WI1301", {"fixmedins_code": "H11010000001"})["institution"]
    institution.pop("kind", None)
    kinds = ",".join(sorted(documented.kinds)).upper()
    shaped = institution | {"direct_settlement": "ENABLED", "kinds": kinds}
    next_reply(sim, "WI1301", output={"institution": shaped})
    assert client.institution_status("H11010000001") == documented


@pytest.mark.parametrize("depth", [900, 100_000])
def test_a_reply_nested_beyond_reading_is_malformed_and_logged(
    client: ReferenceClient, sim: SimulatorServer, recorder: MemoryRecorder, depth: int
) -> None:
    next_reply(sim, "WI1201", raw="[" * depth + "]" * depth)
    with pytest.raises(UpstreamMalformed) as caught:
        client.query_filings("P001")
    assert caught.value.message == "工伤保险信息系统返回的数据无法识别，请联系信息科"
    assert recorder.calls[-1].outcome == "malformed" and recorder.calls[-1].infcode is None


@pytest.mark.parametrize(("sent", "read"), [(".50", "0.50"), ("-.5", "-0.5"), ("36.", "36")])
def test_money_as_a_database_prints_it_is_read_exactly(
    client: ReferenceClient, sim: SimulatorServer, sent: str, read: str
) -> None:
    next_reply(sim, "WI3202", output={"deductions": [
        {"deduction_no": "K9", "month": LAST_MONTH, "amount": sent}]})  # fmt: skip
    [deduction] = client.audit_deductions(LAST_MONTH)
    assert deduction.amount == Decimal(read)


def test_an_unusable_reply_is_logged_for_it_with_the_msgid_and_the_field(
    client: ReferenceClient, sim: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    next_reply(sim, "WI1201", output={"filings": [p001_filing(client, begndate="next week")]})
    with (
        caplog.at_level(logging.WARNING, logger="connectors.upstream"),
        pytest.raises(UpstreamMalformed) as caught,
    ):
        client.query_filings("P001")
    (event,) = [r for r in caplog.records if r.getMessage() == "upstream.reply_unusable"]
    assert event.msgid == caught.value.msgid and event.infno == "WI1201"  # type: ignore[attr-defined]
    assert "filings[0].begndate" in event.detail  # type: ignore[attr-defined]


def catalogue_with(client: ReferenceClient, sim: SimulatorServer, **changes: Any) -> Any:
    payload = {"kind": "device", "region": "310100", "ver": ""}
    item = raw_output(client, "WI1401", payload)["items"][0] | changes
    next_reply(sim, "WI1401", output={"items": [item]})
    return client.download_catalogue(CatalogueKind.DEVICE, "310100")


@pytest.mark.parametrize("key", ["limit", "price_cap"])
def test_a_catalogue_amount_finer_than_the_fen_is_refused_naming_it(
    client: ReferenceClient, sim: SimulatorServer, key: str
) -> None:
    """A catalogue limit or standard is what the fund pays up to, in fen like every payment
    (the CSV import refuses it so): "25000.005" was read, and the store then refused to keep
    it with a database error instead of the reply's field being named (N§32, N§34)."""
    with pytest.raises(UpstreamMalformed) as caught:
        catalogue_with(client, sim, **{key: "25000.005"})
    assert f"items[0].{key}" in caught.value.message


def test_a_catalogue_amount_with_trailing_zeros_is_to_the_fen(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    (item,) = catalogue_with(client, sim, limit="25000.500", price_cap=None)
    assert item.limit == Decimal("25000.5")
    assert item.price_cap is None
