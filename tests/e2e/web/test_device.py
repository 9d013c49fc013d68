"""The device counter: a fitting over the item's limit is split, printed, and its slip shows it."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import Page, expect

from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import CARDS, USERS, Site

NOTICE = "沪工伤辅核〔2026〕第0421号"


def test_a_device_over_its_limit_is_paid_to_the_limit_and_the_rest_by_the_worker(
    page: Page, site: Site
) -> None:
    sign_in(page, site, USERS["device"], path="/web/device")
    expect(page.locator("#card")).to_be_focused()
    page.keyboard.type(CARDS["P011"])
    page.keyboard.press("Tab")
    page.keyboard.type("沪工伤辅核〔2026〕第9999号")  # not the notice on the filing
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("refusal").locator("li")).to_have_count(1)
    expect(page.get_by_test_id("refusal")).to_contain_text("B§34")
    shot(page, "wrong-notice")

    page.locator("#card").fill(CARDS["P011"])
    page.locator("#notice").fill(NOTICE)
    page.locator("#notice").press("Enter")
    devices = page.get_by_test_id("devices")
    arm = devices.locator("tr", has_text="SH-FZ-0101")
    expect(arm).to_contain_text("28000.00")
    expect(arm).to_contain_text("年")
    expect(devices.locator("tbody tr")).to_have_count(2)
    shot(page, "filed-devices")
    page.get_by_label("前臂假肢（肌电控制）实际费用").fill("30500.00")
    page.get_by_label("前臂假肢（肌电控制）实际费用").press("Enter")

    fitted = page.get_by_test_id("fitted")
    expect(fitted).to_contain_text("配置结算成功")
    line = page.get_by_test_id("device-lines").locator("tr[data-code=SH-FZ-0101]")
    expect(line).to_contain_text("超过最高支付限额（28000.00元）")
    expect(line.locator(".article")).to_have_text("B§15, B§35")
    shown = {k: Decimal(page.get_by_test_id(f"device-{k}").inner_text())
             for k in ("total", "fund", "personal")}  # fmt: skip
    assert shown == {"total": Decimal("30500.00"), "fund": Decimal("28000.00"),
                     "personal": Decimal("2500.00")}  # fmt: skip
    shot(page, "fitted")
    slip_no = fitted.locator("h2").inner_text().removeprefix("结算单 ")
    with UnitOfWork(site.engine) as uow:
        settlements = [
            s
            for r in uow.encounters.list_for_person("P011")
            for s in uow.settlements.list_for_encounter(r.encounter.id)
        ]
    (settlement,) = [s for s in settlements if s.slip_no == slip_no]
    assert settlement.breakdown.over_limit == Decimal("2500.00")
    with page.context.expect_page() as opened:
        page.get_by_test_id("print-slip").click()
    slip = opened.value
    expect(slip.get_by_test_id("slip")).to_contain_text(NOTICE)
    expect(slip.get_by_test_id("personal")).to_have_text("2500.00")
    shot(page, "device-slip", of=slip)
