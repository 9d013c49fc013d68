"""A refusal's REST-style field → the segment and field of the inbound message (AE ERR-2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.hl7.errors import Location
from connectors.hl7.fees import LINE_FIELDS
from connectors.hl7.fieldmap import USED_FIELDS
from connectors.hl7.locations import locate
from connectors.hl7.mapping import to_command
from connectors.hl7.profile import load_site_profile
from connectors.hl7.reader import Hl7Message
from tests.unit.hl7 import messages as m

PROFILE = load_site_profile(Path(__file__).parents[3] / "config" / "hl7_site.toml")


def located(text: str, field: str) -> Location | None:
    message = Hl7Message(text)
    return locate(field, message, to_command(message, PROFILE))


FEES = m.dft(
    "F1",
    [
        m.ft1("L1", set_id=1),
        m.ft1("L2", set_id=2),
        m.ft1("L3", kind="CD", quantity="-1", price="", amount="-12.00", reverses="L1", set_id=3),
        m.ft1("L4", quantity="", price="12.00", amount="", set_id=4),
    ],
)


@pytest.mark.parametrize(
    ("field", "where"),
    [
        ("lines.1.unit_price", Location("FT1", 2, 12)),
        ("lines.1.amount", Location("FT1", 2, 11)),
        ("lines.1.quantity", Location("FT1", 2, 10)),
        ("lines.0.occurred_at", Location("FT1", 1, 4)),
        ("lines.2.reverses", Location("FT1", 3, 3)),
        ("lines.0.item_code", Location("FT1", 1, 7, 1)),
        ("lines.2", Location("FT1", 3)),
        ("lines.2.work_injury", Location("FT1", 3)),  # no field of its own: the line's FT1
        # a value the HIS left out was derived from the one it sent: that is what to fix
        ("lines.2.unit_price", Location("FT1", 3, 11)),
        ("lines.3.amount", Location("FT1", 4, 12)),
        ("lines.3.quantity", Location("FT1", 4, 10)),  # FT1-10 missing means 1
        ("his_visit_id", Location("PV1", 1, 19)),
    ],
)
def test_a_fee_line_field_names_the_ft1_it_was_read_from(field: str, where: Location) -> None:
    assert located(FEES, field) == where


@pytest.mark.parametrize("field", ["", "lines.4.amount", "lines", "lines.x.amount", "card"])
def test_a_field_the_message_does_not_carry_has_no_location(field: str) -> None:
    assert located(FEES, field) is None


def test_every_ft1_field_named_is_one_the_mapping_reads() -> None:
    assert {("FT1", number) for number, _ in LINE_FIELDS.values()} <= set(USED_FIELDS)


@pytest.mark.parametrize(
    ("field", "where"),
    [
        ("admitted_at", Location("PV1", 1, 44)),
        ("injury_parts", Location("ZWI", 1, 4)),
        ("card.card_no", Location("ZWI", 1, 2)),
        ("kind", Location("ZWI", 1, 5)),
        ("card", None),  # the card, the PID and the ZWI at once
        ("discharged_at", None),  # an A01 carries no discharge
    ],
)
def test_an_admission_field_names_pv1_or_zwi(field: str, where: Location | None) -> None:
    assert located(m.admit(), field) == where


def test_a_rehab_stay_said_only_by_pv1_10_names_pv1_10() -> None:
    text = m.message(
        m.msh("A01"), "EVN|A01|20260301080000", m.pid(), m.pv1(service="REH"), m.dg1(),
        m.zwi(encounter=""),
    )  # fmt: skip
    assert located(text, "kind") == Location("PV1", 1, 10)


def test_a_discharge_names_pv1_45_and_not_what_it_did_not_read() -> None:
    text = m.adt("A03", "D1")
    assert located(text, "discharged_at") == Location("PV1", 1, 45)
    assert located(text, "admitted_at") is None  # checked against the stored stay, not PV1-44
