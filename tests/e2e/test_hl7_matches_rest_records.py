"""One stay over each face, HL7 and REST, leaves the same rows, audit entries, uploads,
replays and warnings: a resent fee batch or discharge is stored once and answered ``replayed``
on both, and both warn and refuse with the same codes.

The two stays are compared row for row, so each face has a site of its own (one site would
refuse the second stay: the same days settled twice, N§33, N§38).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from sqlalchemy import Engine

from adapter.store.db import make_engine
from connectors.upstream.simulator.demo_seed import demo_seed
from tests.conftest import create_pg_database, drop_pg_database
from tests.e2e.hl7_rest import (
    CARD_NO,
    CITIZEN_ID,
    CREDIT,
    LINES,
    NAME,
    SHANGHAI,
    Live,
    ack_code,
    ft1,
    msh,
    send,
    visit_segments,
)
from tests.support.live import running_site


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
