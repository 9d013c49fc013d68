"""Reading the social-security card from the page through the desk's card-reader bridge (the
demo's simulated one on loopback, docs/card_reader.md): the 读卡 button and F2 fill the card
field at admission, the device counter and the billing desk; failures are told in Chinese and
the clerk falls back to typing or scanning."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from adapter.domain.encounters import EncounterStatus
from adapter.store.uow import UnitOfWork
from connectors.cards import card_from_seed
from connectors.cards.bridge_service import SimulatedBridgeService
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import CARDS, USERS, ZONE, Site
from tests.e2e.web.stays import admit_with_fees


@pytest.fixture
def reader(site: Site) -> Iterator[SimulatedBridgeService]:
    assert site.card_reader is not None
    service = site.card_reader
    service.reader.plug_in()
    service.reader.remove()
    yield service
    service.reader.plug_in()
    service.reader.remove()


def _ready(page: Page) -> None:
    """The page's card-reader script is set up (it is deferred); screenshots at 1366 px."""
    page.set_viewport_size({"width": 1366, "height": 768})
    expect(page.locator("[data-card-reader][data-ready]")).to_have_count(1)


def test_f2_reads_the_card_at_admission_and_checks_the_worker(
    page: Page, site: Site, reader: SimulatedBridgeService
) -> None:
    worker = site.person("P002")  # a referral; no other test admits this worker
    reader.reader.present(card_from_seed(worker))
    sign_in(page, site, USERS["admission"], path="/web/admission")
    _ready(page)
    expect(page.get_by_test_id("read-card")).to_have_text("读卡（F2）")
    before = reader.reader.reads
    page.keyboard.press("F2")
    # the form is sent as a scanner's Enter would send it: the check's answer is on the page
    expect(page.get_by_test_id("verdict")).to_contain_text("可以直接结算")
    expect(page.get_by_test_id("person")).to_contain_text(worker["psn_name"])
    assert reader.reader.reads == before + 1
    assert worker["certno"] not in page.content()
    expect(page.locator("input[name=card][type=hidden]")).to_have_value(worker["card_no"])
    shot(page, "admission-card-read")


def test_reader_errors_are_told_in_chinese_and_typing_still_works(
    page: Page, site: Site, reader: SimulatedBridgeService
) -> None:
    sign_in(page, site, USERS["admission"], path="/web/admission")
    _ready(page)
    status = page.get_by_test_id("card-reader-status")
    page.get_by_test_id("read-card").click()
    expect(status).to_contain_text("未检测到社保卡，请将卡插入读卡器后重试")
    expect(status).to_contain_text("也可刷卡、扫码或手工输入")
    expect(page.locator("#card")).to_be_focused()
    reader.reader.unplug()
    page.keyboard.press("F2")
    expect(status).to_contain_text("读卡器未连接或故障")
    shot(page, "reader-unplugged")
    reader.reader.plug_in()
    expired = dataclasses.replace(
        card_from_seed(site.person("P002")), expires_on=site.today - timedelta(days=1)
    )
    reader.reader.present(expired)
    page.keyboard.press("F2")
    expect(status).to_contain_text("该社会保障卡已过期")
    expect(page.locator("#card")).to_have_value("")  # nothing sent for an expired card
    # the fallback: the clerk types (or scans) the card number as before
    page.locator("#card").fill(site.person("P002")["card_no"])
    page.locator("#card").press("Enter")
    expect(page.get_by_test_id("verdict")).to_contain_text("可以直接结算")


def test_only_the_adapters_pages_may_read_the_card(
    page: Page, site: Site, reader: SimulatedBridgeService
) -> None:
    reader.reader.present(card_from_seed(site.person("P001")))
    fetch = "url => fetch(url, {mode: 'cors'}).then(r => r.json(), e => 'blocked')"
    basic = f"{reader.url}/v1/card/basic"
    sign_in(page, site, USERS["admission"], path="/web/admission")
    _ready(page)
    assert page.evaluate(fetch, basic)["ret"] == 0
    page.goto(f"{site.simulator.url}/")  # a page of another origin (the upstream simulator)
    assert page.evaluate(fetch, basic) == "blocked"


def test_the_device_counter_reads_the_card_and_asks_for_the_notice(
    page: Page, site: Site, reader: SimulatedBridgeService
) -> None:
    reader.reader.present(card_from_seed(site.person("P011")))
    sign_in(page, site, USERS["device"], path="/web/device")
    _ready(page)
    page.get_by_test_id("read-card").click()
    expect(page.locator("#card")).to_have_value(CARDS["P011"])
    expect(page.locator("#notice")).to_be_focused()  # still empty: the form waits for it
    expect(page.get_by_test_id("card-reader-status")).to_contain_text("已读卡：")
    shot(page, "device-card-read")


def test_the_billing_desk_opens_the_stay_of_the_card_read(
    page: Page, site: Site, reader: SimulatedBridgeService
) -> None:
    encounter_id = admit_with_fees(site, f"ZY-CARD-{datetime.now(ZONE):%H%M%S%f}")
    with UnitOfWork(site.engine) as uow:
        open_stays = {
            r.encounter.id
            for r in uow.encounters.list_for_person("P001")
            if r.encounter.status is EncounterStatus.ADMITTED
        }
    assert encounter_id in open_stays
    reader.reader.present(card_from_seed(site.person("P001")))
    sign_in(page, site, USERS["billing"], path="/web/billing")
    _ready(page)
    page.keyboard.press("F2")
    page.wait_for_url(re.compile(r"/web/billing/[^/?]+$"))
    opened = page.url.rsplit("/", 1)[1]
    assert opened in open_stays
    expect(page.locator("main")).to_contain_text("王建国")
    shot(page, "billing-card-read")

    # a worker with no stay here: told so, the citizen ID masked and never in the address
    certno = site.person("P014")["certno"]
    reader.reader.present(card_from_seed(site.person("P014")))
    page.goto(f"{site.base}/web/billing")
    _ready(page)
    page.get_by_test_id("read-card").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"未找到该职工（社会保障号码 {certno[:6]}********{certno[-4:]}）在本机构的就诊"
    )
    assert certno not in page.url and certno not in page.content()
    expect(page.locator("#q")).to_be_visible()
