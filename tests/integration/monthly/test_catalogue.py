"""Catalogue updates end to end: a download (WI1401) or a CSV import changes the pricing of
fees dated on or after the new version's effective date and not before; a bad file is
refused whole, row and column named; HIS codes that no longer map are reported."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import Encounter
from adapter.services.catalogue_import import CatalogueFileRefused
from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from adapter.store.uow import UnitOfWork
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import monthly_api
from tests.integration.monthly.world import BED, BEIJING, DRUG, Desk, SetClock, at, fee, seed
from tests.integration.services.helpers import admit

D = Decimal


def _bed_stay(services: Services, clock: SetClock) -> Encounter:
    """Three bed-days charged on 5 January and three on 7 January, 60.00 a day."""
    clock.set(at(date(2026, 1, 4), 8))
    admitted = services.admissions.admit(
        replace(admit("P001", "V-BED"), admitted_at=at(date(2026, 1, 4), 8)), actor="c"
    ).encounter
    clock.set(at(date(2026, 1, 7), 12))  # fees are sent as the days pass
    services.fees.record(
        admitted.id,
        [
            fee("B5", BED, "180.00", date(2026, 1, 5), quantity="3"),
            fee("B7", BED, "180.00", date(2026, 1, 7), quantity="3"),
        ],
        actor="his",
    )
    return admitted


def _fund_by_line(services: Services, encounter_id: str) -> dict[str, Decimal]:
    bill = services.settlements.presettle(encounter_id, at(date(2026, 1, 9), 9)).bill
    return {p.line.line_id: p.fund_pay for p in bill.lines}


def test_a_downloaded_version_prices_fees_from_its_effective_date_only(
    services: Services, clock: SetClock, sim: SimulatorServer, db: Engine, db_url: str
) -> None:
    stay = _bed_stay(services, clock)
    assert _fund_by_line(services, stay.id) == {"B5": D("150.00"), "B7": D("150.00")}
    new_standard = {
        "kind": "service_standard",
        "code": BED,
        "name": "普通病房床位费（三人间）",
        "region": BEIJING,
        "unit": "日",
        "price_cap": "60.00",
        "version": "2026.2",
        "begndate": "2026-01-06",
    }
    seed(sim.url, catalogue=[new_standard])
    with monthly_api(db, db_url, services) as api:
        assert api.post("/api/v1/catalogue/sync", role="billing").status_code == 403
        reply = api.post("/api/v1/catalogue/sync", role="it")
        assert reply.status_code == 200, reply.text
        again = api.post("/api/v1/catalogue/sync", role="it").json()
        updates = api.get("/api/v1/catalogue/updates", role="it").json()
    standard = next(u for u in reply.json() if u["kind"] == "service_standard")
    assert (standard["region"], standard["version"], standard["source"]) == (
        BEIJING,
        "2026.2",
        "download",
    )
    assert all(u["items"] == 0 for u in again)  # nothing newer the second time
    assert len(updates) == 2 * len(again)
    # before 6 January the 2026.1 standard (50.00/日) holds; from then on 2026.2 (60.00/日)
    assert _fund_by_line(services, stay.id) == {"B5": D("150.00"), "B7": D("180.00")}
    settled = Desk(services, clock).settle(stay.id, date(2026, 1, 9))
    assert settled.breakdown.fund_pay == D("330.00") and settled.breakdown.over_limit == D("30.00")
    kept = services.settlements.get(settled.id)  # the snapshot: lines as settled
    versions = {p.line.line_id: p.item.version for p in kept.bill.lines if p.item}
    assert versions == {"B5": "2026.1", "B7": "2026.2"}


GOOD = (
    "code,name,unit,price_cap,limit,valid_from,valid_to\n"
    f"{BED},普通病房床位费（三人间）,日,70.00,,2026-01-07,\n"
    "XTEST001,试验用药,盒,,,2025-01-01,2026-01-15\n"
)


def test_a_csv_import_is_checked_whole_and_then_prices_from_its_date(
    services: Services, clock: SetClock, db: Engine, db_url: str
) -> None:
    stay = _bed_stay(services, clock)
    assert _fund_by_line(services, stay.id) == {"B5": D("150.00"), "B7": D("150.00")}
    bad = (
        "code,name,unit,price_cap,limit,valid_from,valid_to\n"
        f"{BED},床位费,日,70.00,,2026-01-07,\n"
        "X1,,盒,abc,,2026-13-01,\n"
        f"{BED},床位费,日,70.001,,2026-01-01,2025-12-31\n"
        "X2,短行\n"
    )
    params = {"kind": "service_standard", "region": BEIJING, "version": "2026.3"}
    csv = {"Content-Type": "text/csv; charset=utf-8"}
    with UnitOfWork(db) as uow:
        before = uow.catalogue.count()
    with monthly_api(db, db_url, services) as api:
        refused = api.post(
            "/api/v1/catalogue/import", role="it", params=params, content=bad.encode(), headers=csv
        )
        wrong_kind = api.post(
            "/api/v1/catalogue/import",
            role="it",
            params={**params, "kind": "food"},
            content=GOOD.encode(),
            headers=csv,
        )
        no_header = api.post(
            "/api/v1/catalogue/import",
            role="it",
            params=params,
            content="编码,名称\nA,B\n".encode(),
            headers=csv,
        )
        forbidden = api.post("/api/v1/catalogue/import", role="billing", params=params, content=b"")
        with UnitOfWork(db) as uow:
            assert uow.catalogue.count() == before  # nothing half-written
        chinese = (
            "编码,名称,单位,支付标准,最高支付限额,生效日期,失效日期\n"
            f"{BED},普通病房床位费（三人间）,日,70.00,,2026-01-07,\n"
        ).encode("gb18030")
        accepted = api.post(
            "/api/v1/catalogue/import", role="it", params=params, content=chinese, headers=csv
        )

    assert refused.status_code == 422
    problems = [(e["field"], e["message"]) for e in refused.json()["errors"]]
    assert problems == [
        ("file.row3.name", "第3行“name”列：不能为空"),
        ("file.row3.price_cap", "第3行“price_cap”列：须为金额（例如 50.00）"),
        ("file.row3.valid_from", "第3行“valid_from”列：须为日期 YYYY-MM-DD（例如 2026-01-01）"),
        ("file.row4.code", f"第4行“code”列：编码{BED}与第2行重复"),
        ("file.row4.price_cap", "第4行“price_cap”列：须为不小于0、精确到分的金额"),
        ("file.row4.valid_to", "第4行“valid_to”列：失效日期早于生效日期"),
        ("file.row5", "第5行：应有7列，实有2列"),
    ]
    assert wrong_kind.status_code == 400 and wrong_kind.json()["errors"][0]["field"] == "kind"
    assert no_header.status_code == 422
    assert no_header.json()["errors"][0]["field"] == "file.row1.valid_from"
    assert forbidden.status_code == 403
    assert accepted.status_code == 201, accepted.text
    assert (accepted.json()["version"], accepted.json()["items"]) == ("2026.3", 1)
    # 5 January: the 2026.1 standard (50.00); 7 January: the imported 2026.3 (70.00)
    assert _fund_by_line(services, stay.id) == {"B5": D("150.00"), "B7": D("180.00")}


def test_codes_that_no_longer_map_are_reported(
    services: Services, clock: SetClock, db: Engine, db_url: str
) -> None:
    clock.set(at(date(2026, 1, 3)))
    monthly = MonthlyServices(services.context)
    monthly.catalogue_import.import_csv(
        GOOD.encode(), kind="drug", region=BEIJING, version="2025.9", actor="it"
    )
    clock.set(at(date(2026, 1, 9), 8))
    encounter = services.admissions.admit(
        replace(admit("P001", "V-U"), admitted_at=at(date(2026, 1, 9), 8)), actor="c"
    ).encounter
    clock.set(at(date(2026, 1, 10), 12))  # fees are sent as the days pass
    services.fees.record(
        encounter.id,
        [
            fee("U1", "XTEST001", "10.00", date(2026, 1, 10)),  # in force until 15 January
            fee("U2", "HIS-ZZZ", "5.00", date(2026, 1, 10)),  # never in the catalogue
            fee("U3", "HIS-IBU", "36.50", date(2026, 1, 10)),  # mapped by the clerk below
            fee("U4", DRUG, "36.50", date(2026, 1, 10)),
        ],
        actor="his",
    )
    services.fees.map_line(encounter.id, "U3", DRUG, actor="billing")
    clock.set(at(date(2026, 1, 20)))
    with monthly_api(db, db_url, services, monthly=monthly) as api:
        report = api.get("/api/v1/catalogue/unmapped").json()
        earlier = api.get("/api/v1/catalogue/unmapped", role="it", params={"on": "2026-01-12"})
    assert [(u["item_code"], u["status"]) for u in report] == [
        ("HIS-ZZZ", "never_mapped"),
        ("XTEST001", "no_longer_in_force"),
    ]
    gone = report[1]
    assert (gone["last_version"], gone["last_valid_to"], gone["lines"]) == (
        "2025.9",
        "2026-01-15",
        1,
    )
    assert [u["item_code"] for u in earlier.json()] == ["HIS-ZZZ"]


def test_a_long_csv_import_reports_its_progress_checking_then_writing(
    services: Services, db: Engine
) -> None:
    rows = 12_001  # three reports a stage at 5,000 a report, the last at the end
    text = "code,name,valid_from\n" + "".join(f"P{n:06d},项目{n},2026-01-01\n" for n in range(rows))
    heard: list[tuple[str, int, int]] = []
    update = MonthlyServices(services.context).catalogue_import.import_csv(
        text.encode(),
        kind="drug",
        region=BEIJING,
        version="2026.9",
        actor="it",
        progress=lambda stage, done, total: heard.append((stage, done, total)),
    )
    assert update.items == rows
    checks = [h for h in heard if h[0] == "check"]
    loads = [h for h in heard if h[0] == "load"]
    assert checks[-1] == ("check", rows, rows) and len(checks) >= 3
    assert [done for _, done, _ in loads] == [5000, 10000, rows]
    assert heard.index(checks[-1]) < heard.index(loads[0])  # checked whole, then written
    with UnitOfWork(db) as uow:
        assert uow.catalogue.count(BEIJING) >= rows


def test_a_service_standard_imported_without_its_cap_is_refused_and_prices_nothing(
    services: Services, clock: SetClock
) -> None:
    """A 住院服务标准 row is the standard the fund pays up to (N§32, N§37). Imported with its
    支付标准 cell empty, it was a bed fee in the catalogue with no standard: the fund paid the
    whole 60.00 a day, 10.00 a day over the standard the agency then deducts on audit."""
    stay = _bed_stay(services, clock)
    uncapped = (
        "编码,名称,单位,支付标准,生效日期\n"
        f"{BED},普通病房床位费（三人间）,日,,2026-01-07\n"
        "110900001C,普通病房床位费（单人间）,日,90.00,2026-01-07\n"
    ).encode()
    imports = MonthlyServices(services.context).catalogue_import
    with pytest.raises(CatalogueFileRefused) as refused:
        imports.import_csv(
            uncapped, kind="service_standard", region=BEIJING, version="2026.4", actor="it"
        )
    assert [(p.field, p.text) for p in refused.value.problems] == [
        (
            "file.row2.price_cap",
            "第2行“price_cap”列：住院服务标准须填写支付标准（基金按标准支付，超出部分由个人"
            "支付，N§32）",
        )
    ]
    assert _fund_by_line(services, stay.id) == {"B5": D("150.00"), "B7": D("150.00")}
