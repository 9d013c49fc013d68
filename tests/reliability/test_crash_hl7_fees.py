"""kill -9 of ``wi-adapter serve`` while it applies a DFT^P03 of 1,000 FT1, then the HIS resends.

"Durable before ACK": the HIS got no ACK, so it resends the same message (same MSH-10) once the
adapter is back. Whether the kill landed before or after the batch's fee lines were committed,
the stay ends with each of the 1,000 lines once, the resend is answered ``AA``, the settlement
of the stay is the batch's sum to the fen (fund + personal = total), and the audit log's chain
still verifies (``wi-adapter audit verify``).

Two points of the kill:

* ``while_processing`` — as soon as the message is stored (step 2 of
  :mod:`connectors.hl7.inbound`), while its lines are being applied;
* ``after_the_lines`` (PostgreSQL) — after the batch's lines are committed but before the
  outcome and ACK are (step 4): the test holds a row lock on the message's log row, so step 4
  waits on it, and kills the adapter there.

The message log lets a resend take over a message whose first processing died only once the
first receipt is ``[hl7] unanswered_takeover_s`` old (60 s as shipped); the adapter here runs
with 5 s, and the HIS resends after that.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from connectors.hl7.message_tables import hl7_message
from tests.reliability.support import (
    CARDS,
    SHANGHAI,
    AdapterProcess,
    Desk,
    audit_verify,
    prepare,
    simulator_process,
)
from tests.support.mllp import exchange
from tests.support.polling import eventually
from tests.support.ports import free_port

LINES = 1000
TAKEOVER_S = 5  # [hl7] unanswered_takeover_s of the adapter under test
CITIZEN_ID, NAME = "310102197803141310", "王建国"  # the worker of card CARDS[0]
CONTROL_ID = "DFT-CRASH-1"


def _ts(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + "+0800"


def _batch(visit: str, admitted: datetime) -> tuple[bytes, Decimal]:
    """The DFT^P03 of 1,000 drug lines, and their sum."""
    when = _ts(admitted + timedelta(hours=2))
    segments = [
        f"MSH|^~\\&|HIS|H1|WIADAPTER|H11010000001|{_ts(datetime.now(UTC))}||"
        f"DFT^P03^DFT_P03|{CONTROL_ID}|P|2.5|||AL|NE||UNICODE UTF-8",
        "EVN|P03",
        f"PID|1||{CITIZEN_ID}^^^^NI~HISP001^^^^PI||{NAME}||19780314|M",
        "|".join(["PV1", "1", "I", "骨科病区", *[""] * 15, visit]),
    ]
    total = Decimal("0")
    for n in range(LINES):
        price = Decimal(f"{10 + n % 7}.{n % 100:02d}")
        quantity = 1 + n % 3
        amount = price * quantity
        total += amount
        segments.append(
            f"FT1|{n + 1}|B{n:04d}||{when}||CG|XN02BEB001^布洛芬缓释胶囊^99DRUG|||"
            f"{quantity}|{amount}|{price}|ORT^骨科"
        )
    return ("\r".join(segments) + "\r").encode("utf-8"), total


def _ack_code(ack: str) -> str:
    msa = next(line for line in ack.split("\r") if line.startswith("MSA|"))
    return msa.split("|")[1]


def _logged(engine: Engine) -> list[tuple[int, bytes | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, ack FROM hl7_message WHERE control_id = :c ORDER BY id"),
            {"c": CONTROL_ID},
        )
        return [(row.id, row.ack) for row in rows]


def _received_at(engine: Engine, message_id: int) -> datetime:
    with engine.connect() as connection:
        at: datetime = connection.execute(
            select(hl7_message.c.received_at).where(hl7_message.c.id == message_id)
        ).scalar_one()
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # kept in UTC, read back naive


def _lines(engine: Engine, encounter_id: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM fee_line WHERE encounter_id = :e"), {"e": encounter_id}
            ).scalar_one()
        )


@pytest.mark.slow
@pytest.mark.parametrize("point", ["while_processing", "after_the_lines"])
def test_kill_9_during_a_fee_batch_then_the_his_resends_each_line_is_billed_once(
    db_url: str, engine: Engine, tmp_path: Path, point: str
) -> None:
    if point == "after_the_lines" and engine.dialect.name != "postgresql":
        pytest.skip("a row lock holding step 4 back: PostgreSQL (SQLite has one writer)")
    with simulator_process(tmp_path) as simulator:
        token = prepare(db_url, simulator.url)
        port = free_port()
        adapter = AdapterProcess(
            db_url,
            simulator.url,
            tmp_path,
            env={
                "ADAPTER_HL7__ENABLED": "true",
                "ADAPTER_HL7__PORT": str(port),
                "ADAPTER_HL7__UNANSWERED_TAKEOVER_S": str(TAKEOVER_S),
            },
        )
        adapter.start()
        try:
            desk = Desk(adapter.base, token)
            admitted = desk.admit("HV-CRASH-1", CARDS[0])
            assert admitted.status_code == 201, admitted.text
            encounter_id = admitted.json()["id"]
            stay_admitted = datetime.fromisoformat(admitted.json()["admitted_at"])
            message, expected = _batch("HV-CRASH-1", stay_admitted)

            answers: list[str | BaseException] = []

            def send() -> None:
                try:
                    answers.append(exchange(port, message))
                except (OSError, AssertionError) as exc:  # killed: no ACK
                    answers.append(exc)

            sender = threading.Thread(target=send)
            held = engine.connect() if point == "after_the_lines" else None
            try:
                if held is not None:
                    # Lock the log row as soon as it is stored, so step 4 (outcome + ACK)
                    # waits on it; the lines (step 3) do not touch it.
                    held.begin()
                sender.start()
                eventually(lambda: bool(_logged(engine)), 30, "the message stored")
                if held is not None:
                    held.execute(
                        text("SELECT id FROM hl7_message WHERE control_id = :c FOR UPDATE"),
                        {"c": CONTROL_ID},
                    )
                    eventually(
                        lambda: _lines(engine, encounter_id) == LINES, 60, "the lines committed"
                    )
                adapter.kill9()
            finally:
                if held is not None:
                    held.rollback()
                    held.close()
            sender.join(timeout=60)
            assert answers and not isinstance(answers[0], str), answers  # no ACK was sent
            stored = _logged(engine)
            assert len(stored) == 1 and stored[0][1] is None, stored  # stored, not answered
            if point == "after_the_lines":
                assert _lines(engine, encounter_id) == LINES  # the kill came after step 3

            adapter.start()
            # the HIS resends once the first receipt is past the take-over age
            due = _received_at(engine, stored[0][0]) + timedelta(seconds=TAKEOVER_S + 1)
            time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            ack = exchange(port, message)
            assert _ack_code(ack) == "AA", ack
            assert _ack_code(exchange(port, message)) == "AA"  # a third send: the stored ACK

            assert _lines(engine, encounter_id) == LINES  # no line twice, none lost
            settled = desk.settle(encounter_id)
            assert settled.status_code == 201, settled.text
            body = settled.json()
            total, fund, personal = (
                Decimal(body[k]) for k in ("total", "fund_pay", "personal_pay")
            )
            assert total == expected
            assert fund + personal == total
        finally:
            adapter.stop()
        verified = audit_verify(db_url, tmp_path)
        assert verified.returncode == 0, verified.stdout + verified.stderr
