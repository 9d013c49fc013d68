"""Device fitting (N§32, N§34, B§34, B§35, 附表2) over the simulator on real HTTP: the notice,
the insured place's catalogue (fetched on demand) and limits, WI2701."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, select

from adapter.domain.device_totals import device_totals
from adapter.domain.devices import DeviceItem
from adapter.domain.errors import ConfirmationRequired, EligibilityRefused
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.store.sql import table
from adapter.store.tables import CatalogueItemRow
from adapter.store.tables.monthly import catalogue_update
from adapter.web.slip import build_slip
from adapter.web.slip_pdf import find_font, render_pdf
from connectors.upstream.client import ReferenceClient
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.device_world import (
    ARM,
    NAMES,
    NOTICE,
    ORTHOSIS,
    WHEELCHAIR,
    device_catalogue,
    device_worker,
    renew_notice,
)
from tests.integration.services.fixtures import make_services
from tests.integration.services.helpers import TODAY, card, local
from tests.integration.services.support import MovableClock, jobs
from upload_queue import UploadQueue

D = Decimal
_item = table(CatalogueItemRow)


def _fit(notice: str = NOTICE, **costs: str) -> FitDevices:
    items = tuple(DeviceItem(code, NAMES[code], D(cost)) for code, cost in costs.items())
    return FitDevices(card("P011"), notice, items, local(0, 9))


def test_over_the_limit_the_fund_pays_the_limit_and_the_upload_is_due_in_30_minutes(
    services: Services, db: Engine, queue: UploadQueue, sim: SimulatorServer
) -> None:
    fitted = services.devices.fit(_fit(**{ARM: "30000.00", ORTHOSIS: "1800.00"}), actor="dev01")
    settlement = fitted.settlement
    lines = {p.line.item_code: (p.fund_pay, p.personal_pay) for p in settlement.bill.lines}
    assert lines[ARM] == (D("28000.00"), D("2000.00"))  # above the 28,000 limit
    assert lines[ORTHOSIS] == (D("1800.00"), D("0.00"))  # exactly at the limit
    b = settlement.breakdown
    assert (b.total, b.fund_pay, b.personal_pay, b.over_limit) == (
        D("31800.00"),
        D("29800.00"),
        D("2000.00"),
        D("2000.00"),
    )
    [job] = jobs(db)
    assert job["kind"] == "WI2701"
    assert job["deadline"] == settlement.settled_at + timedelta(minutes=30)
    assert job["payload"]["input"]["approval_notice_no"] == NOTICE
    assert queue.worker().drain() == 1
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2701"}).json()["writes"]
    assert write["reply"]["infcode"] == 0 and write["input"]["psn_pay"] == "2000.00"


def test_a_fen_over_the_limit_is_the_workers(services: Services) -> None:
    fitted = services.devices.fit(_fit(**{ORTHOSIS: "1800.01"}), actor="dev01")
    assert fitted.settlement.breakdown.fund_pay == D("1800.00")
    assert fitted.settlement.breakdown.personal_pay == D("0.01")


def test_the_same_fitting_twice_is_settled_once(services: Services, db: Engine) -> None:
    first = services.devices.fit(_fit(**{ORTHOSIS: "1500.00"}), actor="dev01")
    again = services.devices.fit(_fit(**{ORTHOSIS: "1500.00"}), actor="dev01")
    assert again.replayed and again.settlement.id == first.settlement.id
    assert len(jobs(db)) == 1


def test_the_same_fitting_with_its_notice_typed_otherwise_is_the_same_fitting(
    services: Services, db: Engine
) -> None:
    """The counter types the notice's brackets and digits as the keyboard gives them: the
    fitting entered again is handed its settlement back, not refused as a double payment."""
    first = services.devices.fit(_fit(**{ORTHOSIS: "1500.00"}), actor="dev01")
    typed = NOTICE.replace("〔", " （").replace("〕", "） ").replace("2026", "２０２６")
    assert typed != NOTICE
    again = services.devices.fit(_fit(typed, **{ORTHOSIS: "1500"}), actor="dev01")
    assert again.replayed and again.settlement.id == first.settlement.id
    assert again.settlement.breakdown.fund_pay == D("1500.00")
    assert len(jobs(db)) == 1


def test_a_wrong_notice_is_refused(services: Services, db: Engine) -> None:
    with pytest.raises(EligibilityRefused) as wrong:
        services.devices.fit(_fit("沪工伤辅核〔2026〕第9999号", **{ARM: "100.00"}), actor="d")
    assert [r.code for r in wrong.value.reasons] == ["EL_APPROVAL_NOTICE"]
    assert jobs(db) == []


def test_a_medical_filing_is_no_device_filing(services: Services) -> None:
    request = _fit(**{ARM: "100.00"})
    with pytest.raises(EligibilityRefused) as refused:
        services.devices.fit(replace(request, card=card("P001")), actor="d")
    assert "EL_FILING_CATEGORY" in {r.code for r in refused.value.reasons}


# --- N§34, B§35: one limit per item per fitting ------------------------------------------


def test_n34_b35_two_lines_of_one_device_are_summed_against_one_limit(
    services: Services, queue: UploadQueue, sim: SimulatorServer
) -> None:
    items = (
        DeviceItem(ARM, NAMES[ARM], D("20000.00")),
        DeviceItem(ARM, NAMES[ARM], D("15000.00")),
        DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("900.00")),
    )
    fitted = services.devices.fit(FitDevices(card("P011"), NOTICE, items, local(0, 9)), actor="d")
    lines = [(p.line.item_code, p.fund_pay, p.personal_pay) for p in fitted.settlement.bill.lines]
    assert lines == [
        (ARM, D("20000.00"), D("0.00")),
        (ARM, D("8000.00"), D("7000.00")),  # the arm's limit (28,000) is used once
        (ORTHOSIS, D("900.00"), D("0.00")),
    ]
    b = fitted.settlement.breakdown
    assert (b.total, b.fund_pay, b.over_limit) == (D("35900.00"), D("28900.00"), D("7000.00"))
    arm, orthosis = device_totals(fitted.settlement.bill.lines)
    assert (arm.lines, arm.amount, arm.limit, arm.fund_pay) == (
        2,
        D("35000.00"),
        D("28000.00"),
        D("28000.00"),
    )
    assert orthosis.lines == 1
    assert queue.worker().drain() == 1
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2701"}).json()["writes"]
    assert write["input"]["fund_pay_sumamt"] == "28900.00"


def test_n34_b35_the_slip_shows_the_items_sum_and_its_limit_once(services: Services) -> None:
    items = (DeviceItem(ARM, NAMES[ARM], D("20000.00")), DeviceItem(ARM, NAMES[ARM], D("9000.00")))
    fitted = services.devices.fit(FitDevices(card("P011"), NOTICE, items, local(0, 9)), actor="d")
    slip = build_slip(services, fitted.settlement.id)
    [arm] = slip.devices
    assert (arm.lines, arm.amount, arm.limit, arm.personal_pay) == (
        2,
        D("29000.00"),
        D("28000.00"),
        D("1000.00"),
    )
    assert "28000.00" in arm.reason and "N§34" in arm.reason


# --- N§34, B§34: an item off the notice is the worker's; the rest is settled -------------


def test_n34_b34_an_item_off_the_notice_is_the_workers_and_the_rest_is_settled(
    services: Services, db: Engine
) -> None:
    request = _fit(**{ORTHOSIS: "1500.00", WHEELCHAIR: "900.00"})
    preview = services.devices.presettle(request, actor="d")
    assert [(w.code, w.field) for w in preview.warnings] == [
        ("PR_DEVICE_NOT_ON_NOTICE", WHEELCHAIR)
    ]
    assert preview.needs_confirmation == ()
    assert jobs(db) == []  # presettle writes nothing

    fitted = services.devices.fit(request, actor="d")
    lines = {p.line.item_code: p for p in fitted.settlement.bill.lines}
    assert (lines[ORTHOSIS].fund_pay, lines[WHEELCHAIR].fund_pay) == (D("1500.00"), D("0.00"))
    assert lines[WHEELCHAIR].message.startswith("未列入核付通知单")
    assert fitted.settlement.breakdown.out_of_catalogue == D("900.00")
    assert [w.code for w in fitted.warnings] == ["PR_DEVICE_NOT_ON_NOTICE"]
    assert len(jobs(db)) == 1
    slip = build_slip(services, fitted.settlement.id)
    [off] = [line for line in slip.lines if line.personal_pay]
    assert off.reason.startswith("未列入核付通知单") and "N§34, B§34" in off.reason
    assert off.catalogue_label == "目录外"  # counted there, though the catalogue lists it
    assert slip.out_of_catalogue_parts == (("未列入核付通知单", D("900.00")),)


# --- 附表2, N§34: a replacement inside the minimum years ---------------------------------


def test_n34_fujian2_a_replacement_under_the_same_notice_is_warned_and_paid_by_the_worker(
    services: Services, db: Engine
) -> None:
    first = services.devices.fit(_fit(**{ORTHOSIS: "1500.00"}), actor="dev01")
    assert first.settlement.breakdown.fund_pay == D("1500.00")
    again = replace(_fit(**{ORTHOSIS: "1600.00"}), fitted_at=local(0, 15))

    preview = services.devices.presettle(again, actor="dev01")
    [warning] = preview.needs_confirmation
    assert warning.code == "PR_DEVICE_MIN_YEARS" and warning.field == ORTHOSIS
    assert TODAY.isoformat() in warning.message and "示例工伤协议医院" in warning.message
    assert "2年" in warning.message

    with pytest.raises(ConfirmationRequired) as unconfirmed:
        services.devices.fit(again, actor="dev01")
    assert [r.code for r in unconfirmed.value.reasons] == ["PR_DEVICE_MIN_YEARS"]
    assert len(jobs(db)) == 1  # never settled silently

    second = services.devices.fit(replace(again, replacement_confirmed=True), actor="dev01")
    [line] = second.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("0.00"), D("1600.00"))
    assert line.rule.code == "PR_DEVICE_MIN_YEARS" and line.message.startswith("最低使用年限内更换")
    assert second.settlement.breakdown.out_of_catalogue == D("1600.00")
    slip = build_slip(services, second.settlement.id)
    assert slip.out_of_catalogue_parts == (("最低使用年限内更换", D("1600.00")),)


def test_PR_DEVICE_NOTICE_USED_n34_n38_without_minimum_years_the_same_notice_pays_once(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    # The filing lists the wheelchair with no minimum years (upstream sends none: read as 0).
    devices = [{"device_code": WHEELCHAIR, "device_name": NAMES[WHEELCHAIR], "limit": "2500.00"}]
    device_worker(sim.url, "P067", devices=devices)
    first = FitDevices(
        card("P067"),
        NOTICE,
        (DeviceItem(WHEELCHAIR, NAMES[WHEELCHAIR], D("1000.00")),),
        local(0, 9),
    )
    assert services.devices.fit(first, actor="d").settlement.breakdown.fund_pay == D("1000.00")
    again = replace(
        first,
        items=(DeviceItem(WHEELCHAIR, NAMES[WHEELCHAIR], D("3000.00")),),
        fitted_at=local(0, 15),
    )
    with pytest.raises(ConfirmationRequired) as unconfirmed:
        services.devices.fit(again, actor="d")
    [reason] = unconfirmed.value.reasons
    assert reason.code == "PR_DEVICE_NOTICE_USED" and NOTICE in reason.message
    assert len(jobs(db)) == 1  # never settled silently
    second = services.devices.fit(replace(again, replacement_confirmed=True), actor="d")
    [line] = second.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("0.00"), D("3000.00"))  # not the 1200.00 limit
    assert line.message.startswith("同一核付通知单再次配置")
    slip = build_slip(services, second.settlement.id)
    assert slip.out_of_catalogue_parts == (("同一核付通知单再次配置", D("3000.00")),)


def test_n34_a_replacement_approved_by_a_new_notice_is_priced_against_it(
    services: Services, sim: SimulatorServer
) -> None:
    device_worker(sim.url, "P061", filing_no="F061A")
    first = FitDevices(
        card("P061"), NOTICE, (DeviceItem(ARM, NAMES[ARM], D("27000.00")),), local(0, 9)
    )
    assert services.devices.fit(first, actor="d").settlement.breakdown.fund_pay == D("27000.00")
    new_notice = "沪工伤辅核〔2026〕第0999号"
    renew_notice(sim.url, "P061", "F061A", "F061B", new_notice)
    again = FitDevices(
        card("P061"), new_notice, (DeviceItem(ARM, NAMES[ARM], D("29000.00")),), local(0, 11)
    )
    fitted = services.devices.fit(again, actor="d")  # no confirmation needed: it is approved
    [line] = fitted.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("28000.00"), D("1000.00"))
    assert [w.code for w in fitted.warnings] == ["PR_DEVICE_REPLACEMENT_APPROVED"]


def test_n34_n38_a_changed_filing_spelling_the_paid_notice_otherwise_approves_no_replacement(
    services: Services, db: Engine, sim: SimulatorServer
) -> None:
    """The insured place changes the worker's device filing (N§15), typing the very notice
    that paid the arm with round brackets. The counter is shown the earlier fitting and the
    worker pays the second arm — before, it read as a new approval and the fund paid the
    limit again on one notice (N§34, N§38 杜绝重复报销)."""
    device_worker(sim.url, "P064", filing_no="F064A")
    first = FitDevices(
        card("P064"), NOTICE, (DeviceItem(ARM, NAMES[ARM], D("27000.00")),), local(0, 9)
    )
    assert services.devices.fit(first, actor="d").settlement.breakdown.fund_pay == D("27000.00")
    retyped = NOTICE.replace("〔", "(").replace("〕", ")")
    renew_notice(sim.url, "P064", "F064A", "F064B", retyped)
    again = FitDevices(
        card("P064"), retyped, (DeviceItem(ARM, NAMES[ARM], D("29000.00")),), local(0, 11)
    )
    with pytest.raises(ConfirmationRequired) as unconfirmed:
        services.devices.fit(again, actor="d")
    [reason] = unconfirmed.value.reasons
    assert reason.code == "PR_DEVICE_MIN_YEARS" and reason.field == ARM
    assert len(jobs(db, kind="WI2701")) == 1  # nothing settled without the counter's word
    fitted = services.devices.fit(replace(again, replacement_confirmed=True), actor="d")
    [line] = fitted.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("0.00"), D("29000.00"))
    assert line.message.startswith("最低使用年限内更换")


# --- N§32, N§34: the insured place's catalogue, fetched when it is not loaded -----------


def _catalogue_rows(db: Engine, region: str) -> list[tuple[str, str]]:
    with db.connect() as connection:
        return [
            (row.code, row.version)
            for row in connection.execute(
                select(_item.c.code, _item.c.version).where(_item.c.region == region)
            )
        ]


def _updates(db: Engine, region: str) -> list[tuple[int, str]]:
    with db.connect() as connection:
        rows = connection.execute(
            select(catalogue_update.c["items"], catalogue_update.c.version).where(
                catalogue_update.c.region == region
            )
        )
        return [(r[0], r[1]) for r in rows]


def test_n32_a_catalogue_not_loaded_is_fetched_before_pricing_and_cached_with_its_version(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    device_catalogue(sim.url, "440103", (ARM, NAMES[ARM], "26000.00"))
    device_worker(sim.url, "P062", insured="440103")
    assert _catalogue_rows(db, "440103") == []
    request = FitDevices(
        card("P062"), NOTICE, (DeviceItem(ARM, NAMES[ARM], D("27000.00")),), local(0, 9)
    )
    fitted = services.devices.fit(request, actor="d")
    assert fitted.settlement.breakdown.fund_pay == D("26000.00")  # never 0.00
    assert _catalogue_rows(db, "440103") == [(ARM, f"{TODAY.year}.7")]
    assert _updates(db, "440103") == [(1, f"{TODAY.year}.7")]
    # Cached: pricing again asks upstream nothing more.
    services.devices.presettle(replace(request, fitted_at=local(0, 10)), actor="d")
    assert _updates(db, "440103") == [(1, f"{TODAY.year}.7")]


def test_n32_a_district_without_a_catalogue_falls_back_to_its_city(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    device_worker(sim.url, "P063", insured="310104")  # 徐汇区: 上海市's catalogue (310100)
    request = FitDevices(
        card("P063"), NOTICE, (DeviceItem(ARM, NAMES[ARM], D("30000.00")),), local(0, 9)
    )
    preview = services.devices.presettle(request, actor="d")
    assert preview.catalogue_region == "310100"
    fitted = services.devices.fit(request, actor="d")
    assert fitted.settlement.breakdown.fund_pay == D("28000.00")
    assert _updates(db, "310104") == [(0, "")]  # upstream has none for the district: noted


def test_n32_a_city_without_a_catalogue_falls_back_to_its_province(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    devices = [{"device_code": "JS-FZ-0501", "device_name": "普通轮椅", "min_years": 5,
                "limit": "1500.00"}]  # fmt: skip
    device_worker(sim.url, "P064", insured="320102", devices=devices)
    request = FitDevices(
        card("P064"), NOTICE, (DeviceItem("JS-FZ-0501", "普通轮椅", D("1300.00")),), local(0, 9)
    )
    fitted = services.devices.fit(request, actor="d")
    [line] = fitted.settlement.bill.lines
    assert (line.fund_pay, line.personal_pay) == (D("1100.00"), D("200.00"))  # 江苏省's limit
    assert line.item is not None and line.item.region == "320000"
    assert [u for u, _ in _updates(db, "320102") + _updates(db, "320100")] == [0, 0]
    assert _updates(db, "320000") == [(2, f"{TODAY.year}.1")]


def test_n32_no_catalogue_anywhere_is_refused_naming_it_and_nothing_is_settled(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    device_worker(sim.url, "P065", insured="370102")
    request = FitDevices(
        card("P065"), NOTICE, (DeviceItem(ARM, NAMES[ARM], D("1000.00")),), local(0, 9)
    )
    with pytest.raises(EligibilityRefused) as refused:
        services.devices.presettle(request, actor="d")
    [reason] = refused.value.reasons
    assert reason.code == "PR_DEVICE_CATALOGUE_MISSING" and reason.article == "N§32, N§34"
    assert "370102、370100、370000" in reason.message and "辅助器具配置目录" in reason.message
    with pytest.raises(EligibilityRefused):
        services.devices.fit(request, actor="d")
    assert jobs(db) == []


def test_n34_b35_the_printed_slip_shows_each_item_once_and_the_out_of_catalogue_reasons(
    services: Services,
) -> None:
    items = (
        DeviceItem(ARM, NAMES[ARM], D("20000.00")),
        DeviceItem(ARM, NAMES[ARM], D("9000.00")),
        DeviceItem(WHEELCHAIR, NAMES[WHEELCHAIR], D("900.00")),
    )
    fitted = services.devices.fit(FitDevices(card("P011"), NOTICE, items, local(0, 9)), actor="d")
    slip = build_slip(services, fitted.settlement.id)
    pdf = render_pdf(slip, find_font(), services.context.zone, fitted.settlement.settled_at)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    flat = text.replace(" ", "").replace("\n", "")
    assert "辅助器具汇总" in flat and "29000.00" in flat and "28000.00" in flat
    assert "未列入核付通知单900.00元" in flat
    assert flat.count("超过最高支付限额（28000.00元）") == 1  # the limit once, on the item's row


class _Probe:
    """The real client, noting how many database connections are checked out whenever a
    catalogue is downloaded: a fitting must hold none while upstream answers."""

    def __init__(self, client: ReferenceClient, db: Engine):
        self._client, self._db = client, db
        self.held: list[int] = []

    def download_catalogue(self, *args: Any, **kwargs: Any) -> Any:
        self.held.append(self._db.pool.checkedout())
        return self._client.download_catalogue(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_n32_no_connection_is_held_while_the_catalogue_is_fetched(
    db: Engine, client: ReferenceClient, clock: MovableClock, msgids: MsgidSequence,
    sim: SimulatorServer,
) -> None:  # fmt: skip
    probe = _Probe(client, db)
    services = make_services(db, probe, clock, msgids)  # type: ignore[arg-type]
    device_worker(sim.url, "P066", insured="310105")  # 长宁区: none of its own, 上海市's
    request = FitDevices(
        card("P066"), NOTICE, (DeviceItem(ARM, NAMES[ARM], D("100.00")),), local(0, 9)
    )
    assert services.devices.fit(request, actor="d").settlement.breakdown.fund_pay == D("100.00")
    assert probe.held == [0]  # asked upstream once (the district), with no connection held
