"""Round trips of every aggregate through the repositories, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import EncounterKind, EncounterStatus
from adapter.domain.errors import DomainError, NotFound
from adapter.domain.filings import FilingStatus
from adapter.domain.institutions import DirectSettlementStatus, Institution
from adapter.domain.people import CardStatus, Gender, Person, Suspension
from adapter.domain.pricing import price_lines
from adapter.domain.settlement import SettlementStatus
from adapter.store import errors
from adapter.store.repositories import LinePrice, MappingStatus, StoredFeeLine
from adapter.store.uow import UnitOfWork
from tests.integration.store import factories as f
from tests.integration.store.conftest import FakeClock


def money_exponents(*values: Decimal | None) -> set[int]:
    return {v.as_tuple().exponent for v in values if v is not None}  # type: ignore[misc]


def test_person_round_trips_and_upsert_replaces_it(store: Engine, clock: FakeClock) -> None:
    person = Person(
        "P001",
        "110101199001011234",
        "张三",
        Gender.MALE,
        date(1990, 1, 1),
        f.INSURED,
        "J12345678",
        "110100D15600000500",
        CardStatus.NORMAL,
    )
    with UnitOfWork(store, clock=clock) as uow:
        uow.persons.upsert(person)
        uow.commit()
    lost = replace(person, card_status=CardStatus.LOST, name="张三丰")
    with UnitOfWork(store, clock=clock) as uow:
        assert uow.persons.get("P001") == person
        uow.persons.upsert(lost)
        uow.commit()
    with UnitOfWork(store) as uow:
        assert uow.persons.get("P001") == lost
        assert uow.persons.find_by_citizen_id("110101199001011234") == [lost]
        assert uow.persons.get("P404") is None


def test_filings_round_trip_with_injury_parts_and_devices(store: Engine, clock: FakeClock) -> None:
    device = f.device_filing()
    medical = f.medical_filing()
    with UnitOfWork(store, clock=clock) as uow:
        uow.filings.upsert([device, medical])
        uow.commit()
    with UnitOfWork(store) as uow:
        assert uow.filings.get("F002") == device
        assert uow.filings.for_person("P001") == [medical, device]
        loaded = uow.filings.get("F002")
    assert loaded is not None
    assert [d.limit for d in loaded.devices] == [Decimal("7500.00"), Decimal("120.50")]
    assert money_exponents(*(d.limit for d in loaded.devices)) == {-2}


def test_filing_upsert_replaces_status_and_devices(store: Engine, clock: FakeClock) -> None:
    with UnitOfWork(store, clock=clock) as uow:
        uow.filings.upsert([f.device_filing()])
        uow.commit()
    changed = replace(
        f.device_filing(),
        status=FilingStatus.CHANGED,
        successor_no="F003",
        terminated_on=date(2025, 9, 1),
        devices=f.device_filing().devices[:1],
    )
    with UnitOfWork(store, clock=clock) as uow:
        uow.filings.upsert([changed])
        uow.commit()
    with UnitOfWork(store) as uow:
        assert uow.filings.get("F002") == changed


def test_suspensions_are_replaced_per_person(store: Engine, clock: FakeClock) -> None:
    first = [
        Suspension("P001", date(2025, 1, 1), "骗取工伤保险待遇", date(2025, 6, 30)),
        Suspension("P001", date(2026, 1, 1), "冒名就医"),
    ]
    with UnitOfWork(store, clock=clock) as uow:
        uow.suspensions.replace_for("P001", first)
        uow.suspensions.replace_for("P002", [Suspension("P002", date(2025, 2, 1), "x")])
        uow.commit()
    with UnitOfWork(store, clock=clock) as uow:
        assert uow.suspensions.for_person("P001") == first
        uow.suspensions.replace_for("P001", [])
        uow.commit()
    with UnitOfWork(store) as uow:
        assert uow.suspensions.for_person("P001") == []
        assert len(uow.suspensions.for_person("P002")) == 1


def test_institution_round_trips(store: Engine, clock: FakeClock) -> None:
    institution = Institution(
        f.INSTITUTION, "北京某康复医院", frozenset({"medical", "rehab"}), f.REGION
    )
    suspended = replace(institution, status=DirectSettlementStatus.SUSPENDED)
    with UnitOfWork(store, clock=clock) as uow:
        uow.institutions.upsert(institution)
        uow.institutions.upsert(suspended)
        uow.commit()
    with UnitOfWork(store) as uow:
        assert uow.institutions.get(f.INSTITUTION) == suspended
        assert uow.institutions.get("NOPE") is None


def test_encounter_round_trips_with_aware_datetimes(store: Engine, clock: FakeClock) -> None:
    encounter = f.encounter()
    with UnitOfWork(store, clock=clock) as uow:
        added = uow.encounters.add(encounter)
        uow.commit()
    with UnitOfWork(store) as uow:
        record = uow.encounters.get("E1")
        by_visit = uow.encounters.find_by_visit(f.INSTITUTION, "V-E1")
    assert record == added
    assert by_visit == record
    assert record.encounter == encounter
    assert record.version == 1 and record.ready_to_settle is False
    assert record.encounter.admitted_at.tzinfo is not None
    assert record.encounter.admitted_at.utcoffset() is not None
    assert record.created_at == clock.now()


def test_encounter_missing_is_not_found_in_chinese(store: Engine) -> None:
    with UnitOfWork(store) as uow, pytest.raises(NotFound, match="不存在"):
        uow.encounters.get("E404")


def test_same_his_visit_cannot_be_admitted_twice(store: Engine, clock: FakeClock) -> None:
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter("E1", visit="V1"))
        with pytest.raises(DomainError) as refused:
            uow.encounters.add(f.encounter("E2", visit="V1"))
        assert refused.value.code == errors.ENCOUNTER_DUPLICATE
        # The refusal ran in a savepoint: the transaction goes on (another worker: one open
        # stay per worker and kind, B§28).
        uow.encounters.add(replace(f.encounter("E3", visit="V3"), psn_no="P002"))
        uow.commit()
    with UnitOfWork(store) as uow:
        assert uow.encounters.find("E1") is not None
        assert uow.encounters.find("E2") is None
        assert uow.encounters.find("E3") is not None


def test_update_bumps_version_and_refuses_a_stale_one(store: Engine, clock: FakeClock) -> None:
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
        uow.commit()
    clock.advance(hours=1)
    discharged = replace(f.encounter(), discharged_at=f.at("2026-01-03", 10))
    with UnitOfWork(store, clock=clock) as uow:
        updated = uow.encounters.update(discharged, expected_version=1, ready_to_settle=True)
        uow.commit()
    assert (updated.version, updated.ready_to_settle) == (2, True)
    assert updated.updated_at == clock.now() and updated.created_at < updated.updated_at
    settled = discharged.moved_to(EncounterStatus.SETTLED)
    with UnitOfWork(store, clock=clock) as uow:
        with pytest.raises(DomainError, match="已被他人修改") as conflict:
            uow.encounters.update(settled, expected_version=1)
        assert conflict.value.code == errors.VERSION_CONFLICT
    with UnitOfWork(store) as uow:
        assert uow.encounters.get("E1").encounter == discharged
        with pytest.raises(NotFound):
            uow.encounters.update(f.encounter("E404"), expected_version=1)


def test_an_update_from_what_was_read_writes_only_what_changed(
    store: Engine, clock: FakeClock
) -> None:
    from sqlalchemy import event

    with UnitOfWork(store, clock=clock) as uow:
        read = uow.encounters.add(f.encounter())
        uow.commit()
    moved = replace(read.encounter, department="康复科", diagnoses=("S82.201 胫骨骨折", "康复"))
    statements: list[str] = []

    def listen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(store, "before_cursor_execute", listen)
    try:
        with UnitOfWork(store, clock=clock) as uow:
            updated = uow.encounters.update(moved, expected_version=1, was=read.encounter)
            uow.commit()
    finally:
        event.remove(store, "before_cursor_execute", listen)
    [written] = [s for s in statements if s.startswith("UPDATE encounter")]
    assigned = written.split(" WHERE ")[0]
    # The worker, the filing and the status are indexed and unchanged: not written.
    assert "psn_no" not in assigned and "status" not in assigned and "filing_no" not in assigned
    assert "department" in assigned and "diagnoses" in assigned
    assert updated.version == 2
    with UnitOfWork(store) as uow:
        assert uow.encounters.get("E1").encounter == moved


def test_fee_lines_round_trip_exactly(store: Engine, clock: FakeClock) -> None:
    lines = f.fee_lines()
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
        result = uow.fee_lines.add("E1", lines)
        uow.commit()
    assert result.added == tuple(line.line_id for line in lines) and result.ignored == ()
    with UnitOfWork(store) as uow:
        loaded = uow.fee_lines.list("E1")
    assert loaded == lines
    assert money_exponents(*(line.amount for line in loaded)) == {-2}
    assert loaded[6].unit_price == Decimal("0.0123")
    assert all(line.occurred_at.tzinfo is not None for line in loaded)


def test_fee_lines_round_trip_with_their_stored_prices(store: Engine, clock: FakeClock) -> None:
    """Each kind of stored price (priced against an item, out of catalogue, excluded, not
    priced yet) reads back as it was added, to the fen, on both backends."""
    lines = f.fee_lines()
    bill = price_lines(lines, f.catalogue(), f.REGION)
    prices = {p.line.line_id: LinePrice(p, p.line.item_code) for p in bill.lines}
    prices.update({line.line_id: LinePrice(None, line.item_code) for line in bill.excluded})
    del prices["L7"]  # stored without a price: priced when next read
    stored = [
        StoredFeeLine(line, MappingStatus.MAPPED, line.item_code, prices.get(line.line_id))
        for line in lines
    ]
    assert any(p.priced and p.priced.item for p in prices.values())
    assert any(p.priced and not p.priced.item for p in prices.values())
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
        uow.fee_lines.add("E1", stored)
        uow.commit()
    with UnitOfWork(store) as uow:
        loaded = uow.fee_lines.list_priced("E1")
    assert loaded == stored
    assert [entry.price for entry in loaded] == [entry.price for entry in stored]
    assert loaded[0].price and loaded[0].price.priced
    assert money_exponents(loaded[0].price.priced.fund_pay) == {-2}


def test_a_fee_line_finer_than_its_columns_is_refused(store: Engine, clock: FakeClock) -> None:
    """Amounts keep two decimals, quantities four: a finer value would be rounded by the
    database, so the store refuses it instead, and stores nothing of the batch."""
    lines = f.fee_lines()
    finer = replace(lines[1], quantity=Decimal("3.00001"))
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
        uow.commit()
    with UnitOfWork(store, clock=clock) as uow, pytest.raises(ValueError, match="decimal places"):
        uow.fee_lines.add("E1", [lines[0], finer])
    with UnitOfWork(store) as uow:
        assert uow.fee_lines.list("E1") == []


def test_repeated_fee_lines_are_ignored_and_reported(store: Engine, clock: FakeClock) -> None:
    lines = f.fee_lines()
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
        uow.fee_lines.add("E1", lines[:3])
        uow.commit()
    changed_l2 = replace(lines[1], item_name="重发时改了名字")
    with UnitOfWork(store, clock=clock) as uow:
        result = uow.fee_lines.add("E1", [lines[0], changed_l2, lines[3], lines[3]])
        uow.commit()
    assert result.added == ("L4",)
    assert result.ignored == ("L1", "L2", "L4")
    with UnitOfWork(store) as uow:
        assert uow.fee_lines.list("E1") == lines[:4]  # the first copy of L2 stands


def test_unmapped_lines_are_kept_and_flagged(store: Engine, clock: FakeClock) -> None:
    lines = f.fee_lines()
    unknown = StoredFeeLine(lines[2], MappingStatus.UNMAPPED, "")
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
        uow.fee_lines.add("E1", [lines[0], unknown])
        assert uow.fee_lines.list_stored("E1", status=MappingStatus.UNMAPPED) == [unknown]
        uow.fee_lines.set_mapping("E1", "L3", "T123")
        assert uow.fee_lines.list_stored("E1", status=MappingStatus.UNMAPPED) == []
        assert uow.fee_lines.list_stored("E1")[1].catalogue_code == "T123"
        assert uow.fee_lines.list_stored("E1")[0].catalogue_code == "D001"


def test_fee_lines_for_an_unknown_encounter_are_refused(store: Engine) -> None:
    with UnitOfWork(store) as uow, pytest.raises(NotFound):
        uow.fee_lines.add("E404", f.fee_lines()[:1])


def _store_settled_encounter(store: Engine, clock: FakeClock, encounter_id: str = "E1") -> None:
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter(encounter_id, visit=f"V-{encounter_id}"))
        uow.encounters.update(
            f.encounter(encounter_id, visit=f"V-{encounter_id}", status=EncounterStatus.SETTLED),
            expected_version=1,
        )
        uow.commit()


def test_settlement_round_trips_with_its_bill_rebuilt_exactly(
    store: Engine, clock: FakeClock
) -> None:
    _store_settled_encounter(store, clock)
    settlement = f.settlement()
    bill = settlement.bill
    # The fixture bill exercises every pricing row worth storing.
    assert {line.rule.code for line in bill.lines} >= {
        "PR_IN_CATALOGUE",
        "PR_OVER_STANDARD",
        "PR_OUT_OF_CATALOGUE",
        "PR_NON_WORK_INJURY",
    }
    assert bill.excluded and bill.crosses_year
    with UnitOfWork(store) as uow:
        uow.settlements.add(settlement, zone=f.SHANGHAI)
        uow.commit()
    with UnitOfWork(store) as uow:
        loaded = uow.settlements.get("S1")
    assert loaded == settlement
    assert loaded.bill.lines == bill.lines  # items, rules, reasons, messages
    assert loaded.month_in(f.SHANGHAI) == "2026-01"
    totals = loaded.breakdown
    assert money_exponents(*(getattr(totals, name) for name in vars(totals))) == {-2}
    assert money_exponents(
        *(v for line in loaded.bill.lines for v in (line.fund_pay, line.personal_pay))
    ) == {-2}
    assert loaded.settled_at == settlement.settled_at
    assert loaded.settled_at.tzinfo is not None


def test_device_settlement_keeps_the_limit_that_priced_it(store: Engine, clock: FakeClock) -> None:
    _store_settled_encounter(store, clock, "E9")
    enc = f.encounter("E9", visit="V-E9", status=EncounterStatus.SETTLED)
    settlement = f.settlement("S9", enc=enc, bill=f.device_bill())
    with UnitOfWork(store) as uow:
        uow.settlements.add(settlement, zone=f.SHANGHAI)
        uow.commit()
    with UnitOfWork(store) as uow:
        loaded = uow.settlements.get("S9")
    assert loaded == settlement
    prosthesis = loaded.bill.lines[0]
    assert prosthesis.item is not None and prosthesis.item.limit == Decimal("8000.00")
    assert (prosthesis.fund_pay, prosthesis.personal_pay) == (
        Decimal("7500.00"),
        Decimal("1500.00"),
    )
    assert loaded.bill.lines[1].item is None


def test_revoked_settlement_lets_the_encounter_settle_again(
    store: Engine, clock: FakeClock
) -> None:
    _store_settled_encounter(store, clock)
    with UnitOfWork(store) as uow:
        uow.settlements.add(f.settlement("S1"), zone=f.SHANGHAI)
        with pytest.raises(DomainError) as duplicate:
            uow.settlements.add(
                f.settlement("S2", slip_no="H110100000012026010300002"), zone=f.SHANGHAI
            )
        assert duplicate.value.code == errors.SETTLEMENT_DUPLICATE
        assert "不能重复结算" in duplicate.value.message
        uow.commit()
    revoked_at = f.at("2026-01-03", 11)
    with UnitOfWork(store) as uow:
        revoked = uow.settlements.revoke("S1", at=revoked_at, reason="费用录入错误")
        uow.settlements.add(
            f.settlement("S2", slip_no="H110100000012026010300002"), zone=f.SHANGHAI
        )
        uow.commit()
    assert revoked.status is SettlementStatus.REVOKED
    assert revoked.revoked_at == revoked_at and revoked.revoke_reason == "费用录入错误"
    with UnitOfWork(store) as uow:
        active = uow.settlements.find_active("E1")
        assert active is not None and active.id == "S2"
        assert [s.id for s in uow.settlements.list_for_encounter("E1")] == ["S1", "S2"]
        with pytest.raises(DomainError) as again:
            uow.settlements.revoke("S1", at=revoked_at, reason="再撤")
        assert again.value.code == errors.SETTLEMENT_NOT_ACTIVE


def test_slip_number_cannot_be_reused(store: Engine, clock: FakeClock) -> None:
    _store_settled_encounter(store, clock, "E1")
    _store_settled_encounter(store, clock, "E2")
    with UnitOfWork(store) as uow:
        uow.settlements.add(f.settlement("S1"), zone=f.SHANGHAI)
        with pytest.raises(DomainError) as reused:
            enc = f.encounter("E2", visit="V-E2", status=EncounterStatus.SETTLED)
            uow.settlements.add(f.settlement("S2", enc=enc), zone=f.SHANGHAI)
        assert reused.value.code == errors.SLIP_NO_DUPLICATE


def test_settlements_are_listed_by_the_month_of_their_settlement_time(
    store: Engine, clock: FakeClock
) -> None:
    for n in (1, 2, 3, 4):
        _store_settled_encounter(store, clock, f"E{n}")
    december = replace(f.medical_bill(), discharged_on=date(2025, 12, 31))
    # Discharged 23:00 on 31 January, settled 00:20 on 1 February (Beijing; still January in
    # UTC): February's, by the settlement time, like reconciliation (N§35).
    late = replace(f.medical_bill(), discharged_on=date(2026, 1, 31))
    with UnitOfWork(store) as uow:
        for n in (1, 2):
            enc = f.encounter(f"E{n}", visit=f"V-E{n}", status=EncounterStatus.SETTLED)
            uow.settlements.add(f.settlement(f"S{n}", enc=enc, slip_no=f"SLIP{n}"), zone=f.SHANGHAI)
        enc = f.encounter("E3", visit="V-E3", status=EncounterStatus.SETTLED)
        settled = f.at("2025-12-31", 23, 50)
        uow.settlements.add(
            f.settlement("S3", enc=enc, slip_no="SLIP3", bill=december, settled_at=settled),
            zone=f.SHANGHAI,
        )
        enc = f.encounter("E4", visit="V-E4", status=EncounterStatus.SETTLED)
        settled = f.at("2026-02-01", 0, 20)
        uow.settlements.add(
            f.settlement("S4", enc=enc, slip_no="SLIP4", bill=late, settled_at=settled),
            zone=f.SHANGHAI,
        )
        uow.commit()
    with UnitOfWork(store) as uow:
        january = uow.settlements.list_by_month("2026-01")
        summaries = uow.settlements.summaries_by_month("2026-01", institution_code=f.INSTITUTION)
        assert [s.id for s in uow.settlements.list_by_month("2025-12")] == ["S3"]
        assert uow.settlements.list_by_month("2026-01", institution_code="OTHER") == []
        [february] = uow.settlements.summaries_by_month("2026-02")
    assert [s.id for s in january] == ["S1", "S2"]
    assert january[0].bill == f.medical_bill()
    assert [s.slip_no for s in summaries] == ["SLIP1", "SLIP2"]
    assert summaries[0].breakdown == f.medical_bill().breakdown
    assert summaries[0].psn_no == "P001"
    assert summaries[0].settled_at.tzinfo == UTC
    assert summaries[0].month == "2026-01" and summaries[0].discharged_on == date(2026, 1, 3)
    assert (february.id, february.month, february.discharged_on) == (
        "S4",
        "2026-02",
        date(2026, 1, 31),
    )


def test_b28_a_second_open_stay_of_one_worker_and_kind_is_refused_by_the_store(
    store: Engine, clock: FakeClock
) -> None:
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter("E1", visit="V1"))
        with pytest.raises(DomainError) as refused:
            uow.encounters.add(f.encounter("E2", visit="V2"))
        assert refused.value.code == errors.OPEN_STAY_EXISTS
        # Another kind, or a closed stay, is not an open stay of the same kind.
        uow.encounters.add(f.encounter("E3", visit="V3", kind=EncounterKind.REHAB))
        uow.encounters.add(f.encounter("E4", visit="V4", status=EncounterStatus.SETTLED))
        uow.commit()
    with UnitOfWork(store) as uow:
        open_stay = uow.encounters.open_stay(f.INSTITUTION, "P001", "medical")
        assert open_stay is not None and open_stay.encounter.id == "E1"
