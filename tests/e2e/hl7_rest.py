"""A stay over HL7 and over REST: the messages the HIS sends (MSH, PV1, FT1…), the REST calls
that do the same, and the settlement either leaves.

Shared by the e2e tests that compare the two faces and by the operations tests that need a
settled stay on a live adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.support.mllp import exchange
from tests.support.polling import eventually

SHANGHAI = ZoneInfo("Asia/Shanghai")
CARD_NO, CITIZEN_ID, NAME = "310100A0001", "310102197803141310", "王建国"
# (line id, item code, name, coding system, category, quantity, unit price, amount)
LINES = [
    ("L1", "XN02BEB001", "布洛芬缓释胶囊", "99DRUG", "drug", "2", "18.50", "37.00"),
    ("L2", "110900001B", "普通病房床位费（双人间）", "99SERV", "service", "3", "90.00", "270.00"),
    ("L3", "331601001", "清创缝合术（大）", "99TREAT", "treatment", "1", "320.00", "320.00"),
    ("L4", "340200001", "运动疗法", "99REHAB", "rehab", "2", "45.00", "90.00"),
]
# DFT #3 reverses one of the two boxes of L1.
CREDIT = ("L5", "L1", "XN02BEB001", "布洛芬缓释胶囊", "99DRUG", "drug", "1", "18.50", "18.50")


def ts(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + "+0800"


def msh(event: str, control_id: str) -> str:
    kind = "DFT" if event == "P03" else "ADT"
    return (
        f"MSH|^~\\&|HIS|H1|WIADAPTER|H11010000001|{ts(datetime.now(UTC))}||"
        f"{kind}^{event}^{kind}_{event}|{control_id}|P|2.5|||AL|NE||UNICODE UTF-8"
    )


def seg(name: str, fields: dict[int, str]) -> str:
    return "|".join([name, *(fields.get(i, "") for i in range(1, max(fields) + 1))])


def visit_segments(visit: str, admitted: datetime, discharged: datetime | None = None) -> list[str]:
    fields = {1: "1", 2: "I", 3: "骨科病区", 19: visit, 44: ts(admitted)}
    if discharged is not None:
        fields[45] = ts(discharged)
    pv1 = seg("PV1", fields)
    return [
        f"PID|1||{CITIZEN_ID}^^^^NI~HISP001^^^^PI||{NAME}||19780314|M",
        pv1,
        "DG1|1||S62.301^左手第三掌骨骨折^I10",
    ]


def ft1(line_id: str, code: str, name: str, system: str, qty: str, price: str, amount: str,
        when: datetime, kind: str = "CG", original: str = "") -> str:  # fmt: skip
    return (
        f"FT1|1|{line_id}|{original}|{ts(when)}||{kind}|{code}^{name}^{system}|||{qty}|{amount}|"
        f"{price}|ORT^骨科"
    )


def send(port: int, text: str) -> str:
    return exchange(port, text.encode("utf-8"))


def ack_code(ack: str) -> str:
    msa = next(line for line in ack.split("\r") if line.startswith("MSA|"))
    return msa.split("|")[1]


@dataclass(frozen=True)
class Live:
    base: str  # the REST API
    port: int  # the MLLP listener
    headers: dict[str, str]
    simulator: str  # the upstream simulator, for seeding


def settle_over_hl7(port: int, admitted: datetime, discharged: datetime) -> None:
    visit = "HV0001"
    messages = [
        "\r".join(
            [
                msh("A01", "C1"),
                "EVN|A01",
                *visit_segments(visit, admitted),
                f"ZWI|P|{CARD_NO}||左手|medical",
            ]
        ),
        "\r".join(
            [
                msh("P03", "C2"),
                "EVN|P03",
                *visit_segments(visit, admitted)[:2],
                *(
                    ft1(i, c, n, s, q, p, a, admitted + timedelta(hours=2))
                    for i, c, n, s, _cat, q, p, a in LINES[:2]
                ),
            ]
        ),
        "\r".join(
            [
                msh("P03", "C3"),
                "EVN|P03",
                *visit_segments(visit, admitted)[:2],
                *(
                    ft1(i, c, n, s, q, p, a, admitted + timedelta(days=1))
                    for i, c, n, s, _cat, q, p, a in LINES[2:]
                ),
            ]
        ),
        "\r".join(
            [
                msh("P03", "C4"),
                "EVN|P03",
                *visit_segments(visit, admitted)[:2],
                ft1(
                    CREDIT[0],
                    *CREDIT[2:5],
                    CREDIT[6],
                    CREDIT[7],
                    CREDIT[8],
                    admitted + timedelta(days=1),
                    kind="CD",
                    original=CREDIT[1],
                ),
            ]
        ),
        "\r".join([msh("A03", "C5"), "EVN|A03", *visit_segments(visit, admitted, discharged)]),
    ]
    for text in messages:
        ack = send(port, text + "\r")
        assert ack_code(ack) == "AA", ack


def settle_over_rest(
    base: str, headers: dict[str, str], admitted: datetime, discharged: datetime
) -> None:
    reply = httpx.post(
        f"{base}/api/v1/encounters",
        headers=headers,
        json={
            "card": {"kind": "physical", "card_no": CARD_NO},
            "his_visit_id": "RV0001",
            "kind": "medical",
            "admitted_at": admitted.isoformat(),
            "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
            "injury_parts": ["左手"],
        },
    )
    assert reply.status_code == 201, reply.text
    encounter_id = reply.json()["id"]
    lines = [
        {"his_line_id": i, "item_code": c, "item_name": n, "category": cat, "quantity": q,
         "unit_price": p, "amount": a,
         "occurred_at": (admitted + timedelta(hours=2 if i in ("L1", "L2") else 24)).isoformat()}
        for i, c, n, _s, cat, q, p, a in LINES
    ]  # fmt: skip
    line_id, original, code, name, _s, category, qty, price, amount = CREDIT
    lines.append(
        {"his_line_id": line_id, "item_code": code, "item_name": name, "category": category,
         "quantity": f"-{qty}", "unit_price": price, "amount": f"-{amount}", "reverses": original,
         "occurred_at": (admitted + timedelta(days=1)).isoformat()}
    )  # fmt: skip
    reply = httpx.post(f"{base}/api/v1/encounters/{encounter_id}/fees", headers=headers,
                       json={"lines": lines})  # fmt: skip
    assert reply.status_code in (200, 201), reply.text
    reply = httpx.post(
        f"{base}/api/v1/encounters/{encounter_id}/settle",
        headers=headers,
        json={"discharged_at": discharged.isoformat(), "discharge_diagnoses": []},
    )
    assert reply.status_code == 201, reply.text


def settlement_of(base: str, headers: dict[str, str], visit: str) -> dict[str, Any]:
    """The settlement of the encounter with that HIS visit id, found through the queue's job."""

    def find() -> dict[str, Any] | None:
        jobs = httpx.get(f"{base}/api/v1/queue/jobs", params={"kind": "WI2301"}, headers=headers)
        for job in jobs.json()["jobs"]:
            encounter = httpx.get(
                f"{base}/api/v1/encounters/{job['ordering_key']}", headers=headers
            )
            body = encounter.json()
            if body.get("his_visit_id") == visit and body.get("settlement"):
                return dict(body["settlement"])
        return None

    return dict(eventually(find))
