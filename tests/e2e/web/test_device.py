"""The device counter: a fitting over the item's limit is split, printed, and its slip shows it;
the limit the counter shows is the one pricing applies (the lower of filing and catalogue)."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import Page, expect

from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import CARDS, USERS, ZONE, Site
from tests.integration.services.device_world import NOTICE, device_worker


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
    expect(devices.locator("tbody tr:not(.off-notice)")).to_have_count(2)
    shot(page, "filed-devices")
    page.get_by_label("前臂假肢（肌电控制）实际费用").fill("30500.00")
    page.get_by_label("前臂假肢（肌电控制）实际费用").press("Enter")

    fitted = page.get_by_test_id("fitted")
    expect(fitted).to_contain_text("配置结算成功")
    line = page.get_by_test_id("device-lines").locator("tr[data-code=SH-FZ-0101]")
    expect(line).to_contain_text("超过最高支付限额（28000.00元）")
    expect(line.locator(".article")).to_have_text("N§34, B§35")
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


def test_the_counter_shows_the_limit_pricing_applies_the_lower_of_filing_and_catalogue(
    page: Page, site: Site
) -> None:
    # Filed limits that differ from the insured place's catalogue (310100): the wheelchair
    # filed at 1500.00 against a catalogue limit of 1200.00, the lower-leg prosthesis at
    # 12000.00 against 15000.00.
    notice = "沪工伤辅核〔2026〕第0777号"
    filed = [
        {"device_code": "SH-FZ-0501", "device_name": "普通轮椅", "min_years": 5,
         "limit": "1500.00"},
        {"device_code": "SH-FZ-0203", "device_name": "小腿假肢（骨骼式）", "min_years": 3,
         "limit": "12000.00"},
    ]  # fmt: skip
    card_no = device_worker(site.simulator.url, "P091", notice=notice, devices=filed)
    _check(page, site, card_no, notice)

    devices = page.get_by_test_id("devices")
    wheelchair = devices.locator("tr", has_text="SH-FZ-0501").get_by_test_id("limit")
    prosthesis = devices.locator("tr", has_text="SH-FZ-0203").get_by_test_id("limit")
    # The catalogue's limit is lower than the filing's: it is the one shown, and named.
    expect(wheelchair).to_contain_text("1200.00")
    expect(wheelchair.get_by_test_id("limit-source")).to_have_text("目录限价（备案限额 1500.00）")
    # The filing's limit is lower than the catalogue's.
    expect(prosthesis).to_contain_text("12000.00")
    expect(prosthesis.get_by_test_id("limit-source")).to_have_text("备案限额（目录限价 15000.00）")
    shot(page, "binding-limits")

    page.get_by_label("普通轮椅实际费用").fill("1300.00")
    page.get_by_label("小腿假肢（骨骼式）实际费用").fill("13000.00")
    page.get_by_label("小腿假肢（骨骼式）实际费用").press("Enter")

    # What the counter showed is what the fund paid: each item up to the limit shown.
    lines = page.get_by_test_id("device-lines")
    expect(page.get_by_test_id("fitted")).to_contain_text("配置结算成功")
    paid = {
        code: [Decimal(c.inner_text()) for c in lines.locator(f"tr[data-code={code}] td.num").all()]
        for code in ("SH-FZ-0501", "SH-FZ-0203")
    }
    assert paid == {
        "SH-FZ-0501": [Decimal("1300.00"), Decimal("1200.00"), Decimal("100.00")],
        "SH-FZ-0203": [Decimal("13000.00"), Decimal("12000.00"), Decimal("1000.00")],
    }
    expect(lines.locator("tr[data-code=SH-FZ-0501]")).to_contain_text(
        "超过最高支付限额（1200.00元）"
    )
    shot(page, "binding-limits-fitted")


# --- the counter is warned where it decides (N§34, B§34, B§35, 附表2, N§32) ----------------


def _check(
    page: Page, site: Site, card_no: str, notice: str = NOTICE, *, signed_in: bool = False
) -> None:
    if signed_in:
        page.goto(f"{site.base}/web/device")
    else:
        sign_in(page, site, USERS["device"], path="/web/device")
    page.locator("#card").fill(card_no)
    page.locator("#notice").fill(notice)
    page.locator("#notice").press("Enter")


def _slip(page: Page) -> Page:
    with page.context.expect_page() as opened:
        page.get_by_test_id("print-slip").click()
    return opened.value


def test_n34_b35_page_two_lines_of_one_device_show_the_sum_and_the_limit_once(
    page: Page, site: Site
) -> None:
    card_no = device_worker(site.simulator.url, "P081")
    _check(page, site, card_no)
    page.get_by_label("前臂假肢（肌电控制）实际费用").fill("20000.00")
    page.get_by_label("其他器具1编码").fill("SH-FZ-0101")  # a second line of the same item
    page.get_by_label("其他器具1名称").fill("前臂假肢（肌电控制）")
    page.get_by_label("其他器具1实际费用").fill("15000.00")
    page.get_by_label("其他器具1实际费用").press("Enter")

    expect(page.get_by_test_id("fitted")).to_contain_text("配置结算成功")
    arm = page.get_by_test_id("device-totals").locator("tr[data-code=SH-FZ-0101]")
    expect(arm.get_by_test_id("device-sum")).to_have_text("35000.00")
    expect(arm.get_by_test_id("device-limit")).to_have_text("28000.00")
    expect(page.get_by_test_id("device-fund")).to_have_text("28000.00")
    shot(page, "one-limit")
    slip = _slip(page)
    slip_arm = slip.get_by_test_id("device-totals").locator("tr[data-code=SH-FZ-0101]")
    expect(slip_arm.get_by_test_id("device-limit")).to_have_text("28000.00")
    expect(slip.get_by_test_id("device-totals").locator("tbody tr")).to_have_count(1)
    expect(slip.get_by_test_id("lines")).not_to_contain_text("超过最高支付限额（28000.00元）")
    shot(page, "one-limit-slip", of=slip)


def test_n34_b34_page_an_item_off_the_notice_is_warned_before_fitting_and_the_rest_settled(
    page: Page, site: Site
) -> None:
    card_no = device_worker(site.simulator.url, "P082")
    _check(page, site, card_no)
    expect(page.get_by_test_id("off-notice").first).to_contain_text("未列入核付通知单")
    page.get_by_label("腕手矫形器实际费用").fill("1500.00")
    page.get_by_label("其他器具1编码").fill("SH-FZ-0501")
    page.get_by_label("其他器具1名称").fill("普通轮椅")
    page.get_by_label("其他器具1实际费用").fill("900.00")
    page.get_by_label("其他器具1实际费用").press("Enter")

    warnings = page.get_by_test_id("preview").get_by_test_id("warnings")
    expect(warnings.locator("li[data-code=PR_DEVICE_NOT_ON_NOTICE]")).to_contain_text("普通轮椅")
    expect(page.get_by_test_id("preview-fund")).to_have_text("1500.00")
    shot(page, "off-notice-warned")
    page.get_by_test_id("confirm-fit").click()

    expect(page.get_by_test_id("fitted")).to_contain_text("配置结算成功")
    expect(page.get_by_test_id("device-fund")).to_have_text("1500.00")
    expect(page.get_by_test_id("device-personal")).to_have_text("900.00")
    slip = _slip(page)
    expect(slip.get_by_test_id("out-of-catalogue-parts")).to_contain_text("未列入核付通知单 900.00")
    shot(page, "off-notice-slip", of=slip)


def test_n34_fujian2_page_a_replacement_shows_the_earlier_fitting_and_needs_confirming(
    page: Page, site: Site
) -> None:
    card_no = device_worker(site.simulator.url, "P083")
    _check(page, site, card_no)
    page.get_by_label("腕手矫形器实际费用").fill("1500.00")
    page.get_by_label("腕手矫形器实际费用").press("Enter")
    expect(page.get_by_test_id("fitted")).to_contain_text("配置结算成功")
    # The day the counter fitted it on (its clock, now), not the site's start day: the site
    # serves the whole package, which may cross midnight in Shanghai before this test runs.
    with UnitOfWork(site.engine) as uow:
        (earlier,) = uow.encounters.list_for_person("P083")
    fitted_on = earlier.encounter.admitted_at.astimezone(ZONE).date()

    _check(
        page, site, card_no, signed_in=True
    )  # the worker comes back: the counter sees the earlier fitting
    row = page.get_by_test_id("devices").locator("tr", has_text="SH-FZ-0305")
    replacement = row.get_by_test_id("replacement")
    expect(replacement).to_contain_text(f"上次配置 {fitted_on.isoformat()}")
    expect(replacement).to_contain_text("示例工伤协议医院")
    expect(replacement).to_contain_text("由个人支付")
    shot(page, "replacement-warned")
    page.get_by_label("腕手矫形器实际费用").fill("1600.00")
    page.get_by_label("腕手矫形器实际费用").press("Enter")

    preview = page.get_by_test_id("preview")
    expect(preview.locator("li[data-code=PR_DEVICE_MIN_YEARS]")).to_contain_text(
        "最低使用年限内更换"
    )
    expect(page.get_by_test_id("confirm-fit")).to_contain_text("由个人支付")
    page.get_by_test_id("confirm-fit").click()
    expect(page.get_by_test_id("device-personal")).to_have_text("1600.00")
    slip = _slip(page)
    expect(slip.get_by_test_id("out-of-catalogue-parts")).to_contain_text(
        "最低使用年限内更换 1600.00"
    )
    shot(page, "replacement-slip", of=slip)


def test_n34_n38_page_an_item_without_minimum_years_is_paid_once_per_notice(
    page: Page, site: Site
) -> None:
    # The filing lists the wheelchair with no minimum years (upstream sends none: read as 0).
    devices = [{"device_code": "SH-FZ-0501", "device_name": "普通轮椅", "limit": "2500.00"}]
    card_no = device_worker(site.simulator.url, "P087", devices=devices)
    _check(page, site, card_no)
    page.get_by_label("普通轮椅实际费用").fill("1000.00")
    page.get_by_label("普通轮椅实际费用").press("Enter")
    expect(page.get_by_test_id("fitted")).to_contain_text("配置结算成功")
    expect(page.get_by_test_id("device-fund")).to_have_text("1000.00")

    _check(page, site, card_no, signed_in=True)  # the same notice again: it paid the item
    row = page.get_by_test_id("devices").locator("tr", has_text="SH-FZ-0501")
    replacement = row.get_by_test_id("replacement")
    expect(replacement).to_contain_text("同一核付通知单再次配置")
    expect(replacement).to_contain_text("由个人支付")
    shot(page, "notice-used-warned")
    page.get_by_label("普通轮椅实际费用").fill("3000.00")
    page.get_by_label("普通轮椅实际费用").press("Enter")

    preview = page.get_by_test_id("preview")
    expect(preview.locator("li[data-code=PR_DEVICE_NOTICE_USED]")).to_contain_text(NOTICE)
    expect(page.get_by_test_id("confirm-fit")).to_contain_text("由个人支付")
    page.get_by_test_id("confirm-fit").click()
    expect(page.get_by_test_id("device-fund")).to_have_text("0.00")
    expect(page.get_by_test_id("device-personal")).to_have_text("3000.00")
    slip = _slip(page)
    expect(slip.get_by_test_id("out-of-catalogue-parts")).to_contain_text(
        "同一核付通知单再次配置 3000.00"
    )
    shot(page, "notice-used-slip", of=slip)


def test_n32_page_a_missing_catalogue_is_refused_at_the_check_naming_it(
    page: Page, site: Site
) -> None:
    card_no = device_worker(site.simulator.url, "P084", insured="370102")
    _check(page, site, card_no)
    refusal = page.get_by_test_id("refusal")
    expect(refusal.locator("li[data-code=PR_DEVICE_CATALOGUE_MISSING]")).to_contain_text(
        "370102、370100、370000"
    )
    shot(page, "catalogue-missing")
