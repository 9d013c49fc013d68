"""A complete stay over HL7 (A01, DFT^P03 ×3, A03) settles exactly as the same stay over REST.

Both faces drive the same front door (``EncounterCommands``), so the same stay leaves the same
rows, audit entries and uploads either way, a resent fee batch or discharge is stored once and
answered ``replayed`` on both, and both warn and refuse with the same codes.

Both run against the real runtime — services, store, upload queue, the MLLP listener on a real
socket, the simulator over real HTTP — as `wi-adapter serve` wires them. One worker's two
stays may not share days (N§33, N§38): where the two faces' stays are compared row for row,
each face has a site of its own; elsewhere the HL7 stay ends when the REST stay begins.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy
from sqlalchemy import Engine

from adapter.store.db import make_engine
from connectors.upstream.simulator.demo_seed import demo_seed
from tests.conftest import create_pg_database, drop_pg_database
from tests.support.live import running_site
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


@pytest.fixture
def live(db_url: str, engine: Engine) -> Iterator[Live]:
    with running_site(db_url, engine, "HIS", ["his", "billing", "it"]) as s:
        yield Live(s.base, s.port, s.headers, s.simulator.url)


@pytest.fixture
def other_site(db_url: str, tmp_path: Path) -> Iterator[tuple[Live, Engine]]:
    """A second site, on a database of its own of the same kind: the same stay over the other
    face, at the same times (one site would refuse it: the same days settled twice)."""
    sqlite = db_url.startswith("sqlite")
    url = f"sqlite:///{tmp_path}/other.db" if sqlite else create_pg_database()
    engine = make_engine(url, sqlite_synchronous="normal")
    try:
        with running_site(url, engine, "HIS", ["his", "billing", "it"]) as s:
            yield Live(s.base, s.port, s.headers, s.simulator.url), engine
    finally:
        engine.dispose()
        if not sqlite:
            drop_pg_database(url)


@pytest.fixture
def adapter(live: Live) -> tuple[str, int, dict[str, str]]:
    return live.base, live.port, live.headers


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


# -- one stay over each face: the same rows, audit entries, uploads, replays and warnings -----

# Not in the treatment place's catalogue: kept, flagged FEE_UNMAPPED, mapped by the clerk.
UNMAPPED = ("U1", "HIS-NEW-1", "特需敷料", "99DRUG", "drug", "1", "42.00", "42.00")
DEPARTMENT = "骨科病区"  # PV1-3.1, and the REST body's department
FEE_DEPARTMENT = "骨科"  # FT1-13.2, and each REST line's department


@dataclass
class Face:
    """What one face answered at each step: warning codes and whether it was a replay."""

    encounter_id: str = ""
    settlement_id: str = ""
    answers: dict[str, tuple[list[str], bool]] = dataclasses.field(default_factory=dict)
    refused: list[str] = dataclasses.field(default_factory=list)  # error codes of a refusal


def expire_the_filing(simulator: str, days: int) -> None:
    """F001 (王建国) ends ``days`` from today: a stay admitted before that ends after it."""
    today = datetime.now(SHANGHAI).date()
    row = next(f for f in demo_seed(today)["filings"] if f["filing_no"] == "F001")
    row = {**row, "enddate": (today + timedelta(days=days)).isoformat()}
    httpx.post(f"{simulator}/_sim/seed", json={"filings": [row]}).raise_for_status()


def batches(admitted: datetime) -> list[list[tuple[tuple[str, ...], datetime, str]]]:
    """Three fee batches: (line, occurred at, original line id for a credit)."""
    early, next_day = admitted + timedelta(hours=2), admitted + timedelta(days=1)
    first = [(line, early, "") for line in (*LINES[:2], UNMAPPED)]
    second = [(line, next_day, "") for line in LINES[2:]]
    credit = CREDIT[:1] + CREDIT[2:]
    return [first, second, [(credit, next_day, CREDIT[1])]]


def late(
    batch: list[tuple[tuple[str, ...], datetime, str]],
) -> list[tuple[tuple[str, ...], datetime, str]]:
    """``batch`` as new lines (new line ids): fees sent after settlement. The same lines
    resent are answered as recorded, as any resend is."""
    return [((f"{line[0]}L", *line[1:]), when, original) for line, when, original in batch]


def warnings_of(ack: str) -> list[str]:
    """ERR-3.1 of each ERR segment with severity (ERR-4) W."""
    found = []
    for segment in ack.split("\r"):
        fields = segment.split("|")
        if fields[0] == "ERR" and len(fields) > 4 and fields[4] == "W":
            found.append(fields[3].split("^")[0])
    return found


def logged(live: Live, control_id: str) -> dict[str, Any]:
    """The HL7 log's detail of a message: what the use case returned."""
    reply = httpx.get(f"{live.base}/api/v1/hl7/messages", params={"control_id": control_id},
                      headers=live.headers)  # fmt: skip
    return dict(json.loads(reply.json()["messages"][0]["detail"]))


def map_out_of_catalogue(live: Live, encounter_id: str, line_id: str) -> None:
    reply = httpx.put(f"{live.base}/api/v1/encounters/{encounter_id}/fees/{line_id}/mapping",
                      headers=live.headers, json={"out_of_catalogue": True})  # fmt: skip
    assert reply.status_code == 200, reply.text


def stay_over_hl7(live: Live, visit: str, admitted: datetime, discharged: datetime) -> Face:
    face = Face()

    def step(name: str, control_id: str, text: str) -> str:
        ack = send(live.port, text + "\r")
        assert ack_code(ack) == "AA", ack
        face.answers[name] = (warnings_of(ack), bool(logged(live, control_id)["replayed"]))
        return ack

    def fees(control_id: str, batch: list[tuple[tuple[str, ...], datetime, str]]) -> str:
        segments = [
            ft1(line[0], *line[1:4], *line[5:8], when, kind="CD" if original else "CG",
                original=original)
            for line, when, original in batch
        ]  # fmt: skip
        return "\r".join([msh("P03", control_id), "EVN|P03",
                          *visit_segments(visit, admitted)[:2], *segments])  # fmt: skip

    admit = [msh("A01", f"{visit}-1"), "EVN|A01", *visit_segments(visit, admitted),
             f"ZWI|P|{CARD_NO}||左手|medical"]  # fmt: skip
    step("admit", f"{visit}-1", "\r".join(admit))
    face.encounter_id = logged(live, f"{visit}-1")["encounter_id"]
    first, second, credit = batches(admitted)
    first_ack = step("fees", f"{visit}-2", fees(f"{visit}-2", first))
    # The HIS resends the batch under a new control id (its own retry): stored once.
    step("fees again", f"{visit}-2b", fees(f"{visit}-2b", first))
    # …and under the same one (a lost ACK): the first ACK again, not processed twice.
    assert send(live.port, fees(f"{visit}-2", first) + "\r") == first_ack
    step("more fees", f"{visit}-3", fees(f"{visit}-3", second))
    step("credit", f"{visit}-4", fees(f"{visit}-4", credit))
    map_out_of_catalogue(live, face.encounter_id, UNMAPPED[0])
    discharge = [msh("A03", f"{visit}-5"), "EVN|A03",
                 *visit_segments(visit, admitted, discharged)]  # fmt: skip
    step("settle", f"{visit}-5", "\r".join(discharge))
    face.settlement_id = logged(live, f"{visit}-5")["settlement_id"]
    discharge[0] = msh("A03", f"{visit}-5b")
    step("settle again", f"{visit}-5b", "\r".join(discharge))
    ack = send(live.port, fees(f"{visit}-6", late(second)) + "\r")  # fees after settlement
    assert ack_code(ack) == "AE", ack
    face.refused = [s.split("|")[3].split("^")[0] for s in ack.split("\r") if s[:4] == "ERR|"]
    return face


def stay_over_rest(live: Live, visit: str, admitted: datetime, discharged: datetime) -> Face:
    face = Face()

    def step(name: str, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        reply = httpx.post(f"{live.base}/api/v1/encounters{path}", headers=live.headers,
                           json=body)  # fmt: skip
        assert reply.status_code == status, reply.text
        answer = dict(reply.json())
        face.answers[name] = ([w["code"] for w in answer["warnings"]], answer["replayed"])
        return answer

    def fees(batch: list[tuple[tuple[str, ...], datetime, str]]) -> dict[str, Any]:
        lines = [
            {"his_line_id": line[0], "item_code": line[1], "item_name": line[2],
             "category": line[4], "quantity": f"-{line[5]}" if original else line[5],
             "unit_price": line[6], "amount": f"-{line[7]}" if original else line[7],
             "reverses": original, "occurred_at": when.isoformat(),
             "department": FEE_DEPARTMENT}
            for line, when, original in batch
        ]  # fmt: skip
        return {"lines": lines}

    admitted_body = {  # what the A01 carries: PID-3 (NI), PID-5, ZWI, PV1
        "card": {"kind": "physical", "card_no": CARD_NO, "citizen_id": CITIZEN_ID, "name": NAME},
        "his_visit_id": visit,
        "kind": "medical",
        "admitted_at": admitted.isoformat(),
        "department": DEPARTMENT,
        "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
        "injury_parts": ["左手"],
    }
    face.encounter_id = step("admit", "", admitted_body, 201)["id"]
    path = f"/{face.encounter_id}"
    first, second, credit = batches(admitted)
    step("fees", f"{path}/fees", fees(first), 200)
    step("fees again", f"{path}/fees", fees(first), 200)
    step("more fees", f"{path}/fees", fees(second), 200)
    step("credit", f"{path}/fees", fees(credit), 200)
    map_out_of_catalogue(live, face.encounter_id, UNMAPPED[0])
    settle = {"discharged_at": discharged.isoformat(), "discharge_diagnoses": []}
    face.settlement_id = step("settle", f"{path}/settle", settle, 201)["id"]
    step("settle again", f"{path}/settle", settle, 200)
    refused = httpx.post(f"{live.base}/api/v1/encounters{path}/fees", headers=live.headers,
                         json=fees(late(second)))  # fmt: skip
    assert refused.status_code == 409, refused.text
    face.refused = [error["code"] for error in refused.json()["errors"]]
    return face


def rows(engine: Engine, table: str, where: str, value: str, ignore: set[str]) -> list[Any]:
    with engine.connect() as connection:
        found = connection.execute(
            sqlalchemy.text(f"SELECT * FROM {table} WHERE {where} = :value"), {"value": value}
        ).mappings()
        return sorted(
            (sorted((k, str(v)) for k, v in row.items() if k not in ignore) for row in found),
            key=str,
        )


def audit_of(live: Live, face: Face) -> list[tuple[str, str, str]]:
    """(action, subject type, details) of the stay's audit entries, its ids made neutral."""
    reply = httpx.get(f"{live.base}/api/v1/audit", params={"subject_id": face.encounter_id},
                      headers=live.headers)  # fmt: skip
    return [
        (e["action"], e["subject_type"], neutral(json.dumps(e["details"], sort_keys=True), face))
        for e in reply.json()["entries"]
    ]


def uploads_of(live: Live, face: Face) -> list[tuple[str, str]]:
    """(kind, payload) of the stay's upload jobs, its ids, msgids and slip made neutral."""
    reply = httpx.get(f"{live.base}/api/v1/queue/jobs", params={"encounter": face.encounter_id},
                      headers=live.headers)  # fmt: skip
    jobs = sorted(reply.json()["jobs"], key=lambda job: job["id"])
    return [(j["kind"], neutral(json.dumps(j["payload"], sort_keys=True), face)) for j in jobs]


MSGID = re.compile(r"H11010000001\d{18}")
# per stay by nature: its slip number, when things were done, and who asked (hl7:HIS^H1, HIS)
DIFFERS = re.compile(r'"(slip_no|setl_sn|[a-z_]*time|opter_name)": "[^"]*"')


def neutral(body: str, face: Face) -> str:
    """``body`` with what differs by nature between two stays replaced: ids, msgids, visit
    numbers, slip numbers, the moments things were done and who did them."""
    for value, name in ((face.encounter_id, "ENCOUNTER"), (face.settlement_id, "SETTLEMENT"),
                        ("HV0010", "VISIT"), ("RV0010", "VISIT")):  # fmt: skip
        body = body.replace(value, name)
    return DIFFERS.sub(r'"\1": "…"', MSGID.sub("MSGID", body))


def test_a_stay_over_each_face_leaves_the_same_rows_audit_entries_uploads_and_warnings(
    live: Live, engine: Engine, other_site: tuple[Live, Engine]
) -> None:
    discharged = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
    admitted = discharged - timedelta(days=3)
    rest, rest_engine = other_site
    for simulator in (live.simulator, rest.simulator):  # valid at admission, expired by
        expire_the_filing(simulator, -2)  # discharge (N§13)
    over_hl7 = stay_over_hl7(live, "HV0010", admitted, discharged)
    over_rest = stay_over_rest(rest, "RV0010", admitted, discharged)

    assert over_hl7.answers == over_rest.answers
    assert over_rest.answers["fees"] == (["FEE_UNMAPPED"], False)
    assert over_rest.answers["fees again"] == ([], True)  # the same batch: stored once
    assert over_rest.answers["settle"][0] == ["EL_ADMITTED_INSIDE_VALIDITY"]
    assert over_rest.answers["settle again"] == ([], True)
    assert over_hl7.refused == over_rest.refused == ["ENCOUNTER_NOT_OPEN"]  # N§47, B§50

    # the ids, and the times a row was written or priced (each face's stay ran at its own time)
    ids = {"id", "encounter_id", "settlement_id", "his_visit_id", "slip_no", "settled_at",
           "operator", "created_at", "updated_at", "received_at", "version",
           "priced_as_of"}  # fmt: skip
    tables = (("encounter", "id", "encounter_id"), ("fee_line", "encounter_id", "encounter_id"),
              ("settlement", "encounter_id", "encounter_id"),
              ("settlement_line", "settlement_id", "settlement_id"))  # fmt: skip
    for table, key, face_key in tables:
        hl7_rows = rows(engine, table, key, getattr(over_hl7, face_key), ids)
        rest_rows = rows(rest_engine, table, key, getattr(over_rest, face_key), ids)
        assert hl7_rows and hl7_rows == rest_rows, table
    assert len(rows(rest_engine, "fee_line", "encounter_id", over_rest.encounter_id, set())) == 6

    assert audit_of(live, over_hl7) == audit_of(rest, over_rest)
    actions = [action for action, _type, _details in audit_of(rest, over_rest)]
    assert actions.count("settlement.settle") == 1 and actions.count("encounter.admit") == 1
    assert uploads_of(live, over_hl7) == uploads_of(rest, over_rest)
    assert [kind for kind, _payload in uploads_of(rest, over_rest)] == ["WI2401", "WI2301"]
