"""The ADT events a HIS sends on its whole ADT feed that the adapter does not take, over a real
MLLP socket: each is refused (AR 201 at MSH-9.2) saying why and what to send instead, never a
bare "不支持的事件" that reads as a gap in the adapter."""

from __future__ import annotations

import pytest

from tests.integration.hl7.conftest import Running
from tests.integration.hl7.test_flow import parse_ack
from tests.unit.hl7 import messages as m


def _pre_admit(event: str, control_id: str, version: str = "2.5") -> bytes:
    """ADT^A05 (预住院) as a HIS sends it the day before a planned admission."""
    planned = m.seg("PV1", {1: "1", 2: "P", 3: "骨科病区", 19: "ZY0501"})
    header = m.msh(event, control_id, version=version)
    return m.message(header, f"EVN|{event}|20260301080000", m.pid(), planned).encode()


def _refusal(running: Running, raw: bytes, control_id: str) -> tuple[str, str, str]:
    """(ERR-3.1, ERR-5, ERR-8) of an AR at MSH-9.2 answering ``raw``."""
    ack = parse_ack(running.client().send(raw))
    msa, err = ack.require("MSA"), ack.require("ERR")
    assert (msa.get(1), msa.get(2), err.get(2, 0)) == ("AR", control_id, "MSH^1^9^1^2")
    return err.get(3, 1), err.get(5), err.get(8)


@pytest.mark.parametrize("version", ["2.5", "2.3"])
def test_HL7_NOT_AN_ADMISSION_n33_b28_a_pre_admission_says_to_send_an_a01_at_admission(
    running: Running, version: str
) -> None:
    """ADT^A05 was answered "不支持的事件：ADT^A05", as if the adapter lacked a feature. A
    pre-admission is not an admission: identity and filing are checked when the worker is
    admitted (N§33, B§28), so the AR says nothing was registered, no resend is needed, and an
    ADT^A01 is what to send when the worker is admitted; the log keeps it as rejected."""
    raw = _pre_admit("A05", "P1", version)
    ack = parse_ack(running.client().send(raw))
    msa = ack.require("MSA")
    assert (msa.get(1), msa.get(2)) == ("AR", "P1")
    if version == "2.5":
        err = ack.require("ERR")
        assert (err.get(2, 0), err.get(3, 1), err.get(5)) == (
            "MSH^1^9^1^2",
            "201",
            "HL7_NOT_AN_ADMISSION",
        )
        text = err.get(8)
    else:  # no ERR-2…8 before 2.5: the text is in MSA-3
        assert ack.require("ERR").get(1, 0) == "MSH^1^9^201&Unsupported event code&HL70357"
        text = msa.get(3)
    for part in ("预住院（ADT^A05）", "不是入院登记", "N§33", "B§28", "无需重发", "ADT^A01"):
        assert part in text, text
    assert running.fake.calls == []
    logged = running.log.search(control_id="P1")[0]
    assert (logged.raw, logged.message_type, logged.outcome) == (raw, "ADT^A05", "rejected")
    assert '"article": "N§33, B§28"' in (logged.detail or "")


def test_HL7_NOT_AN_ADMISSION_a_pending_admission_and_the_cancels_say_nothing_was_registered(
    running: Running,
) -> None:
    """A14 (待入院) is refused as A05 is; A38 (cancel pre-admit) and A27 (cancel pending
    admit) got the bare "不支持的事件" although there is nothing to cancel: the AR says so."""
    code, reason, text = _refusal(running, _pre_admit("A14", "P2"), "P2")
    assert (code, reason) == ("201", "HL7_NOT_AN_ADMISSION")
    assert all(part in text for part in ("待入院（ADT^A14）", "ADT^A01", "无需重发")), text
    for event, control_id, what in (("A38", "P3", "ADT^A05"), ("A27", "P4", "ADT^A14")):
        code, reason, text = _refusal(running, _pre_admit(event, control_id), control_id)
        assert (code, reason) == ("201", "HL7_NOT_AN_ADMISSION")
        assert all(part in text for part in (f"ADT^{event}", what, "无需撤销", "无需重发")), text
    assert running.fake.calls == []


@pytest.mark.parametrize(
    ("event", "instead"),
    [
        ("A12", "ADT^A02"),  # cancel transfer: move the stay back
        ("A23", "ADT^A11"),  # delete a visit: cancel the admission
        ("A28", "ADT^A01"),  # add person: identity travels with the admission
        ("A31", "ADT^A08"),  # update person: a name change during the stay
        ("A40", "PID-3"),  # merge patients: the stay is the worker's by citizen ID
    ],
)
def test_other_adt_feed_events_say_what_to_send_instead(
    running: Running, event: str, instead: str
) -> None:
    """Events every ADT feed carries got the same bare "不支持的事件：ADT^Axx": the HIS team could
    not tell a gap in the adapter from an event that is not needed. Each now says what to send
    instead (or that nothing is needed), and lists the ADT events the adapter takes."""
    raw = m.adt(event, "E1").encode()
    code, reason, text = _refusal(running, raw, "E1")
    assert (code, reason) == ("201", "HL7_UNSUPPORTED_EVENT")
    assert f"ADT^{event}" in text and instead in text, text
    assert "A01、A02、A03、A06、A08、A11、A13" in text, text
    assert running.fake.calls == []
    assert running.log.search(control_id="E1")[0].outcome == "rejected"


def test_an_unknown_event_lists_the_events_the_adapter_takes(running: Running) -> None:
    code, reason, text = _refusal(running, m.adt("A99", "E2").encode(), "E2")
    assert (code, reason) == ("201", "HL7_UNSUPPORTED_EVENT")
    assert "ADT^A99" in text and "A01、A02、A03、A06、A08、A11、A13" in text, text
