"""Repetitions and repeated segments have the same bounds over HL7 as lists over REST
(adapter/domain/text.py): beyond them the message is answered AR naming where, and nothing
reaches the use cases."""

from __future__ import annotations

from adapter.domain.text import MAX_DIAGNOSES, MAX_FEE_LINES, MAX_INJURY_PARTS
from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.conftest import Running
from tests.unit.hl7 import messages as m


def _ack(running: Running, text: str) -> Hl7Message:
    return Hl7Message(running.client().send(text.encode()).decode())


def _refused_at(ack: Hl7Message, where: str) -> None:
    assert ack.require("MSA").get(1) == "AR"
    assert ack.require("ERR").get(5) == "HL7_TOO_MANY"
    assert ack.require("ERR").get(2, 0).startswith(where), ack.require("ERR").get(2, 0)


def test_more_injury_parts_than_the_bound_are_refused_at_zwi_4(running: Running) -> None:
    parts = "~".join(f"部位{n}" for n in range(MAX_INJURY_PARTS + 1))
    text = m.admit("B-1").replace("左手~右腕", parts)
    _refused_at(_ack(running, text), "ZWI^1^4")
    within = m.admit("B-2").replace("左手~右腕", "~".join(["左手"] * MAX_INJURY_PARTS))
    assert _ack(running, within).require("MSA").get(1) == "AA"


def test_more_diagnoses_than_the_bound_are_refused_at_the_first_extra_dg1(
    running: Running,
) -> None:
    dg1s = "\r".join(m.dg1(f"S62.{n:03d}") for n in range(MAX_DIAGNOSES + 1))
    text = m.admit("B-3").replace(m.dg1(), dg1s)
    _refused_at(_ack(running, text), f"DG1^{MAX_DIAGNOSES + 1}")
    assert running.fake.calls == []


def test_more_fee_lines_than_the_bound_in_one_dft_are_refused(running: Running) -> None:
    lines = [m.ft1(f"L{n}") for n in range(MAX_FEE_LINES + 1)]
    _refused_at(_ack(running, m.dft("B-4", lines)), f"FT1^{MAX_FEE_LINES + 1}")
    assert running.fake.calls == []
