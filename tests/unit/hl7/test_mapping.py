"""Parsing inbound messages and mapping them to the domain's commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hl7apy.parser import parse_message

from adapter.domain.commands import (
    Admit,
    CancelAdmission,
    CancelDischarge,
    Discharge,
    RecordFees,
    UpdateVisit,
)
from adapter.domain.encounters import EncounterKind
from adapter.domain.fees import FeeCategory
from adapter.domain.people import CardKind, Gender
from connectors.hl7.errors import Hl7Error
from connectors.hl7.fieldmap import USED_FIELDS, segment_fields
from connectors.hl7.header import SUPPORTED_VERSIONS, read_header
from connectors.hl7.mapping import to_command
from connectors.hl7.profile import load_site_profile
from connectors.hl7.reader import Hl7Message, escape
from tests.unit.hl7 import messages as m

PROFILE = load_site_profile(Path(__file__).parents[3] / "config" / "hl7_site.toml")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def command(text: str, charset: str = "UNICODE UTF-8"):
    raw = m.encode(text, charset)
    header = read_header(raw)
    assert header.codec is not None
    return to_command(Hl7Message(raw.decode(header.codec)), PROFILE)


def refusal(text: str) -> Hl7Error:
    with pytest.raises(Hl7Error) as caught:
        command(text)
    return caught.value


@pytest.mark.parametrize("charset", ["UNICODE UTF-8", "GB 18030-2000"])
@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_admission_maps_to_admit_in_every_version_and_charset(version: str, charset: str) -> None:
    admit = command(m.admit(version=version, charset=charset), charset)
    assert isinstance(admit, Admit)
    assert admit.his_visit_id == "V0001"
    assert admit.card.kind is CardKind.PHYSICAL
    assert admit.card.card_no == "A12345678"
    assert admit.card.citizen_id == "110101199001011234"
    assert admit.card.name == "张三" == admit.patient_name
    assert admit.card.gender is Gender.MALE
    assert admit.his_patient_id == "P0001"
    assert admit.kind is EncounterKind.MEDICAL
    assert admit.admitted_at == datetime(2026, 3, 1, 8, 0, tzinfo=SHANGHAI)
    assert admit.injury_parts == ("左手", "右腕")
    assert [(d.code, d.name) for d in admit.diagnoses] == [("S62.001", "左手舟骨骨折")]
    assert admit.department == "骨科病区"


def test_gb18030_bytes_really_are_gb18030() -> None:
    raw = m.encode(m.admit(charset="GB 18030-2000"), "GB 18030-2000")
    assert "张三".encode("gb18030") in raw
    assert "张三".encode() not in raw


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"])
def test_segment_separators_and_trailing_bars_are_tolerated(sep: str) -> None:
    text = m.message(
        m.msh("A01") + "|||", "EVN|A01||", m.pid() + "|||", m.pv1() + "||||", m.zwi() + "|", sep=sep
    )
    admit = command(text + sep + sep)
    assert isinstance(admit, Admit)
    assert admit.his_visit_id == "V0001"
    assert admit.diagnoses == ()


def test_ecard_admission_uses_the_qr_token() -> None:
    text = m.admit().replace(m.zwi(), m.zwi(kind="E", card_no="", token="QR-TOKEN-1"))
    admit = command(text)
    assert admit.card.kind is CardKind.ECARD
    assert admit.card.qr_token == "QR-TOKEN-1"


def test_rehab_from_pv1_10_or_zwi_5() -> None:
    by_service = (
        m.admit().replace(m.pv1(), m.pv1(service="REH")).replace(m.zwi(), m.zwi(encounter=""))
    )
    assert command(by_service).kind is EncounterKind.REHAB
    by_zwi = m.admit().replace(m.zwi(), m.zwi(encounter="rehab"))
    assert command(by_zwi).kind is EncounterKind.REHAB
    conflict = m.admit().replace(m.pv1(), m.pv1(service="REH"))
    assert refusal(conflict).field.startswith("ZWI-5")


def test_time_with_offset_is_taken_as_sent_and_without_is_site_time() -> None:
    with_offset = m.admit().replace(m.pv1(), m.pv1(admitted="20260301080000+0000"))
    assert command(with_offset).admitted_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    minus = m.admit().replace(m.pv1(), m.pv1(admitted="202603010800-0530"))
    assert command(minus).admitted_at == datetime(
        2026, 3, 1, 8, tzinfo=timezone(-timedelta(hours=5, minutes=30))
    )
    no_offset = command(m.admit()).admitted_at
    assert no_offset.utcoffset() == timedelta(hours=8)


def test_discharge_cancel_and_update() -> None:
    discharge = command(m.adt("A03", "C3"))
    assert isinstance(discharge, Discharge)
    assert discharge.discharged_at == datetime(2026, 3, 10, 9, tzinfo=SHANGHAI)
    assert discharge.settle_now is PROFILE.discharge_settles
    assert discharge.discharge_diagnoses[0].code == "S62.001"
    cancel = command(m.adt("A11", "C4"))
    assert cancel == CancelAdmission(
        his_visit_id="V0001", reason="患者要求", citizen_id="110101199001011234"
    )
    assert isinstance(command(m.adt("A13", "C5")), CancelDischarge)
    update = command(m.adt("A08", "C6"))
    assert isinstance(update, UpdateVisit)
    assert update.department == "骨科病区"
    assert update.patient_name == "张三"
    assert update.injury_parts is None  # no ZWI sent: unchanged
    # the worker PID-3 names (NI), for the stay to be checked against
    assert {c.citizen_id for c in (discharge, update)} == {"110101199001011234"}


def test_event_can_come_from_evn_1_in_v23() -> None:
    text = m.adt("A11", "C7", version="2.3").replace("ADT^A11", "ADT")
    assert isinstance(command(text), CancelAdmission)


def test_charge_and_credit_lines() -> None:
    fees = command(
        m.dft(
            "F1",
            [
                m.ft1("L1"),
                m.ft1("L2", kind="CD", reverses="L1", quantity="2", amount="24.00"),
                m.ft1(
                    "L3",
                    code="BED01",
                    name="床位费",
                    system="",
                    quantity="1",
                    amount="",
                    price="60.00",
                ),
                m.ft1(
                    "L4",
                    code="RH001",
                    name="运动疗法",
                    system="",
                    price="",
                    amount="90.00",
                    quantity="3",
                ),
            ],
        )
    )
    assert isinstance(fees, RecordFees)
    charge, credit, bed, rehab = fees.lines
    assert charge.quantity == Decimal(2) and charge.amount == Decimal("24.00")
    assert charge.category is FeeCategory.DRUG and charge.department == "骨科"
    assert charge.item_name == "布洛芬缓释胶囊" and charge.reverses == ""
    assert credit.line_id == "L2" and credit.reverses == "L1"
    assert credit.quantity == Decimal(-2) and credit.amount == Decimal("-24.00")
    assert credit.unit_price == Decimal("12.00") and credit.is_reversal
    assert bed.category is FeeCategory.SERVICE and bed.amount == Decimal("60.00")
    assert rehab.category is FeeCategory.REHAB and rehab.unit_price == Decimal("30.0000")


def test_credit_sent_with_negative_numbers_is_the_same_reversal() -> None:
    fees = command(
        m.dft("F2", [m.ft1("L2", kind="CD", reverses="L1", quantity="-2", amount="-24.00")])
    )
    assert fees.lines[0].quantity == Decimal(-2) and fees.lines[0].amount == Decimal("-24.00")


def test_category_from_coding_system_beats_prefix() -> None:
    fees = command(m.dft("F3", [m.ft1("L1", code="XA01", system="99REHAB")]))
    assert fees.lines[0].category is FeeCategory.REHAB


def test_escaped_separators_in_item_names_are_unescaped() -> None:
    name = escape("复方|甘草^片&")
    fees = command(m.dft("F4", [m.ft1("L1", name=name)]))
    assert fees.lines[0].item_name == "复方|甘草^片&"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (m.admit().replace(m.pv1(), m.pv1(visit="")), "PV1-19"),
        (m.admit().replace(m.pv1(), m.pv1(admitted="2026-03-01")), "PV1-44"),
        (m.admit().replace(m.pv1(), m.pv1(admitted="20260231")), "PV1-44"),
        (m.admit().replace(m.pv1(), m.pv1(admitted="")), "PV1-44"),
        (m.admit().replace(m.zwi() + "\r", ""), "ZWI"),
        (m.admit().replace(m.zwi(), m.zwi(kind="X")), "ZWI-1"),
        (m.admit().replace(m.zwi(), m.zwi(card_no="")), "ZWI-2"),
        (m.admit().replace(m.zwi(), m.zwi(encounter="device")), "ZWI-5"),
        (m.admit().replace(m.pv1() + "\r", ""), "PV1"),
        (m.admit().replace("PV1|1|I|", "PV1|1|O|"), "PV1-2"),
        (m.admit().replace("ADT^A01^ADT_A01", "ADT^A99"), "MSH-9.2"),
        (m.admit().replace("ADT^A01^ADT_A01", "ORM^O01"), "MSH-9.1"),
        (m.admit().replace(m.dg1(), "DG1|1||^^I10"), "DG1-3"),
        (m.admit().replace(m.zwi(), "ZW"), "ZW"),
        (m.dft("F", [m.ft1("L1", kind="PY")]), "FT1-6"),
        (m.dft("F", [m.ft1("")]), "FT1-2"),
        (m.dft("F", [m.ft1("L1", when="")]), "FT1-4"),
        (m.dft("F", [m.ft1("L1", when="yesterday")]), "FT1-4"),
        (m.dft("F", [m.ft1("L1", amount="12,00")]), "FT1-11"),
        (m.dft("F", [m.ft1("L1", amount="24.001", price="")]), "FT1-11"),
        (m.dft("F", [m.ft1("L1", amount="25.00")]), "FT1-11"),
        (m.dft("F", [m.ft1("L1", amount="", price="")]), "FT1-11"),
        (m.dft("F", [m.ft1("L1", amount="24.00&USD")]), "FT1-11"),
        (m.dft("F", [m.ft1("L1", quantity="0")]), "FT1-10"),
        (m.dft("F", [m.ft1("L1", quantity="abc")]), "FT1-10"),
        (m.dft("F", [m.ft1("L1", quantity="-2", amount="-24.00")]), "FT1-10"),
        (m.dft("F", [m.ft1("L1", kind="CD")]), "FT1-3"),
        (m.dft("F", [m.ft1("L1", code="")]), "FT1-7"),
        (m.dft("F", [m.ft1("L1", name="")]), "FT1-7.2"),
        (m.dft("F", [m.ft1("L1", code="QQ1", system="")]), "FT1-7"),
        (m.dft("F", [m.ft1("L1"), m.ft1("L1")]), "FT1-2 (#2)"),
        (m.dft("F", []), "FT1"),
    ],
)
def test_strict_where_meaning_would_change(text: str, field: str) -> None:
    assert refusal(text).field == field


def test_missing_msh_is_refused() -> None:
    with pytest.raises(Hl7Error) as caught:
        Hl7Message("PID|1||x\r")
    assert caught.value.field == "MSH"


def test_every_field_we_read_exists_with_that_meaning_in_every_version() -> None:
    for version in SUPPORTED_VERSIONS:
        for (segment, position), names in USED_FIELDS.items():
            assert segment_fields(segment, version).get(position) in names, (version, segment)


def test_fast_reader_agrees_with_hl7apy_on_the_fields_we_use() -> None:
    text = m.dft("F9", [m.ft1("L1"), m.ft1("L2", kind="CD", reverses="L1")])
    ours = Hl7Message(text)
    theirs = parse_message(text.replace("\r", "\r"), find_groups=False)
    assert ours.msh.get(10) == theirs.msh.msh_10.value
    pv1 = theirs.children.get("PV1") if hasattr(theirs.children, "get") else None
    pv1 = pv1[0] if pv1 else next(c for c in theirs.children if c.name == "PV1")
    assert ours.require("PV1").get(19) == pv1.pv1_19.to_er7()
    ft1s = [c for c in theirs.children if c.name == "FT1"]
    for mine, other in zip(ours.all("FT1"), ft1s, strict=True):
        assert mine.get(2) == other.ft1_2.to_er7()
        assert mine.get(7, 2) == other.ft1_7.ce_2.to_er7()
        assert mine.get(11) == other.ft1_11.to_er7()
