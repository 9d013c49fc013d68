"""Control characters in any HL7 field are answered AR naming the field — never a dropped
connection — on SQLite and PostgreSQL (which cannot store a NUL), including MSH-10 (the ACK's
MSA-2 is then left empty) and PV1-19 (the visit number the log files the message under).

The fields are not listed by hand: every field each message kind sends is tried in turn.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.conftest import MllpClient, Running
from tests.unit.hl7 import messages as m

CONTROLS = ("\x00", "\x01", "\x1b", "\x7f")


def _messages() -> dict[str, str]:
    return {
        "A01": m.admit("CC-A01"),
        "A03": m.adt("A03", "CC-A03"),
        "A08": m.adt("A08", "CC-A08"),
        "A11": m.adt("A11", "CC-A11"),
        "P03": m.dft("CC-P03", [m.ft1("L1"), m.ft1("L2")]),
    }


def _fields(text: str) -> Iterator[tuple[int, str, int, int]]:
    """(segment index, segment name, sequence, field number) of every non-empty field."""
    counts: dict[str, int] = {}
    for index, line in enumerate(text.rstrip("\r").split("\r")):
        fields = line.split("|")
        name = fields[0]
        counts[name] = counts.get(name, 0) + 1
        for position, value in enumerate(fields[1:], 1):
            number = position + 1 if name == "MSH" else position
            if value and not (name == "MSH" and number <= 2):
                yield index, name, counts[name], number


def _poisoned(text: str, index: int, name: str, number: int, char: str) -> str:
    lines = text.rstrip("\r").split("\r")
    fields = lines[index].split("|")
    position = number - 1 if name == "MSH" else number
    fields[position] = char + fields[position]  # before the first component
    lines[index] = "|".join(fields)
    return "\r".join(lines) + "\r"


def _ack(client: MllpClient, text: str) -> Hl7Message:
    return Hl7Message(client.send(text.encode("utf-8")).decode("utf-8"))


@pytest.mark.parametrize("event", ["A01", "A03", "A08", "A11", "P03"])
def test_a_control_character_in_any_field_is_answered_ar_naming_it(
    running: Running, event: str
) -> None:
    text = _messages()[event]
    client = running.client()
    tried = 0
    for index, name, sequence, number in _fields(text):
        for char in CONTROLS:
            ack = _ack(client, _poisoned(text, index, name, number, char))
            msa, err = ack.require("MSA"), ack.require("ERR")
            where = f"{name}^{sequence}^{number}"
            assert msa.get(1) == "AR", (where, repr(char))
            assert err.get(2, 0).startswith(where), (where, err.get(2, 0))
            assert err.get(5) == "HL7_CONTROL_CHARACTER"
            assert f"U+{ord(char):04X}" in err.get(8)
            # MSA-2 echoes the control id, except when the control id itself is broken
            assert msa.get(2) == ("" if (name, number) == ("MSH", 10) else f"CC-{event}")
            tried += 1
    assert tried >= 4 * 12
    assert running.fake.calls == []  # nothing reached the use cases
    rows = running.log.search(limit=10_000)
    assert len(rows) == tried and all(r.outcome == "rejected" and r.ack for r in rows)


def test_nul_in_msh_10_and_pv1_19_gets_an_ack_and_the_connection_stays_open(
    running: Running,
) -> None:
    client = running.client()
    broken_id = _ack(client, m.admit("CC\x00-1"))
    assert broken_id.require("MSA").get(1) == "AR" and broken_id.require("MSA").get(2) == ""
    assert broken_id.require("ERR").get(2, 0).startswith("MSH^1^10")
    broken_visit = _ack(client, m.admit("CC-2", visit="V\x000001"))
    assert broken_visit.require("MSA").get(1) == "AR"
    assert broken_visit.require("MSA").get(2) == "CC-2"
    assert broken_visit.require("ERR").get(2, 0).startswith("PV1^1^19")
    escaped = _ack(client, m.admit("CC-3", visit="V\\X00\\0001"))  # a NUL as an HL7 escape
    assert escaped.require("ERR").get(2, 0).startswith("PV1^1^19")
    # the same connection still serves a good message
    assert _ack(client, m.admit("CC-4")).require("MSA").get(1) == "AA"
    assert [r.visit_number for r in running.log.search(limit=10)].count(None) == 3


def test_free_text_may_keep_tab_and_line_breaks_but_codes_may_not(running: Running) -> None:
    client = running.client()
    free = m.admit("CC-5").replace("左手舟骨骨折", "左手舟骨骨折\t\\X0D0A\\复查")
    assert _ack(client, free).require("MSA").get(1) == "AA"
    code = m.admit("CC-6").replace("S62.001", "S62\t001")
    ack = _ack(client, code)
    assert ack.require("MSA").get(1) == "AR"
    assert ack.require("ERR").get(2, 0).startswith("DG1^1^3^1^1")
    reason = m.adt("A11", "CC-7").replace("患者要求", "患者\t要求")
    assert _ack(client, reason).require("MSA").get(1) == "AA"
