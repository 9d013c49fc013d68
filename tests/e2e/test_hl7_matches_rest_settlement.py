"""A complete stay over HL7 (A01, DFT^P03 ×3, A03) settles exactly as the same stay over REST,
and A13 revokes its settlement as A11 cancels an admission.

Both faces drive the same front door (``EncounterCommands``) on the real runtime — services,
store, upload queue, the MLLP listener on a real socket, the simulator over real HTTP — as
`wi-adapter serve` wires them. One worker's two stays may not share days (N§33, N§38): the HL7
stay ends when the REST stay begins.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from tests.e2e.hl7_rest import (
    CARD_NO,
    CITIZEN_ID,
    NAME,
    SHANGHAI,
    Live,
    ack_code,
    msh,
    send,
    settle_over_hl7,
    settle_over_rest,
    settlement_of,
    visit_segments,
)


@pytest.fixture
def adapter(live: Live) -> tuple[str, int, dict[str, str]]:
    return live.base, live.port, live.headers


def test_a_stay_over_hl7_settles_exactly_as_over_rest(
    adapter: tuple[str, int, dict[str, str]],
) -> None:
    base, port, headers = adapter
    discharged = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
    admitted = discharged - timedelta(days=3)
    # the same stay three days earlier over HL7, readmitted over REST at its discharge
    settle_over_hl7(port, admitted - timedelta(days=3), admitted)
    settle_over_rest(base, headers, admitted, discharged)
    over_hl7 = settlement_of(base, headers, "HV0001")
    over_rest = settlement_of(base, headers, "RV0001")
    for field in ("total", "fund_pay", "personal_pay", "breakdown"):
        assert over_hl7[field] == over_rest[field], field
    total, fund, personal = (Decimal(over_hl7[k]) for k in ("total", "fund_pay", "personal_pay"))
    assert fund + personal == total
    # 37.00 − 18.50 + 270.00 + 320.00 + 90.00; the bed is capped at 70.00 a day (N§32)
    assert total == Decimal("698.50")
    assert personal == Decimal("60.00")


def test_a13_revokes_the_discharge_settlement_and_a11_cancels_an_admission(
    adapter: tuple[str, int, dict[str, str]],
) -> None:
    base, port, headers = adapter
    discharged = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
    admitted = discharged - timedelta(days=3)
    settle_over_hl7(port, admitted, discharged)
    settled = settlement_of(base, headers, "HV0001")

    ack = send(port, "\r".join([msh("A13", "C6"), "EVN|A13", *visit_segments("HV0001", admitted)]))
    assert ack_code(ack) == "AA", ack
    revoked = httpx.get(f"{base}/api/v1/settlements/{settled['id']}", headers=headers).json()
    assert revoked["status"] == "revoked"

    # The revoked stay is still open (B§28: one open stay per worker): settle it again first.
    again = send(port, "\r".join([msh("A03", "C6b"), "EVN|A03",
                                   *visit_segments("HV0001", admitted, discharged)]))  # fmt: skip
    assert ack_code(again) == "AA", again
    # Registered again inside the settled stay: refused (N§33, N§38); readmitted at its
    # discharge: admitted.
    inside = [*visit_segments("HV0002", admitted), f"ZWI|P|{CARD_NO}||左手|medical"]
    refused = send(port, "\r".join([msh("A01", "C7a"), "EVN|A01", *inside]))
    assert ack_code(refused) == "AE" and "STAY_OVERLAPS" in refused and "HV0001" in refused
    second = [*visit_segments("HV0002", discharged), f"ZWI|P|{CARD_NO}||左手|medical"]
    assert ack_code(send(port, "\r".join([msh("A01", "C7"), "EVN|A01", *second]))) == "AA"
    cancel = ["EVN|A11", *visit_segments("HV0002", discharged)]
    ack = send(port, "\r".join([msh("A11", "C8"), *cancel]))
    assert ack_code(ack) == "AA", ack
    logged = httpx.get(f"{base}/api/v1/hl7/messages", params={"visit": "HV0002"}, headers=headers)
    types = [m["message_type"] for m in logged.json()["messages"]]
    assert types == ["ADT^A11", "ADT^A01", "ADT^A01"]
    for secret in (CITIZEN_ID, NAME, CARD_NO):  # masked in the operator's list
        assert secret not in logged.text, secret
    cancelled_id = json.loads(logged.json()["messages"][0]["detail"])["encounter_id"]
    encounter = httpx.get(f"{base}/api/v1/encounters/{cancelled_id}", headers=headers).json()
    assert encounter["status"] == "cancelled"
