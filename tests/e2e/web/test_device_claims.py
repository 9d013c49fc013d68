"""The device counter during an upstream outage (N§38, B§27), in headless Chromium: the page
names the two ways on; the counter records the fitting as a manual-claim case with the items
and costs typed in; one case is handed over (its fee list marked 手工报销, final), another
switches to direct settlement with the card once upstream answers (N§34, B§34)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import USERS, Site
from tests.integration.services.device_world import device_worker
from tests.support.live import simulator_faults


def _notice(psn_no: str) -> str:
    """Each worker's own approval notice, as the insured place issues them: two workers
    sharing one notice number would be one approval, and the second refused (N§38)."""
    return f"沪工伤辅核〔2026〕第{psn_no[1:]:0>4}号"


def _worker(site: Site, psn_no: str) -> tuple[str, str]:
    notice = _notice(psn_no)
    return device_worker(site.simulator.url, psn_no, notice=notice), notice


def _record_case(page: Page, site: Site, card_no: str, notice: str, cost: str) -> None:
    sign_in(page, site, USERS["device"], path="/web/device")
    simulator_faults(site.simulator.url, outage=True)
    try:
        page.locator("#card").fill(card_no)
        page.locator("#notice").fill(notice)
        page.locator("#notice").press("Enter")
        expect(page.get_by_test_id("error")).to_contain_text("N§38")
        expect(page.get_by_test_id("error")).to_contain_text("等待上级系统恢复后再配置结算")
        form = page.get_by_test_id("manual-claim-device")
        form.get_by_label("手工报销器具1编码").fill("SH-FZ-0305")
        form.get_by_label("手工报销器具1名称").fill("腕手矫形器")
        form.get_by_label("手工报销器具1实际费用").fill(cost)
        shot(page, "device-manual-claim")
        form.get_by_test_id("record-manual-claim").click()
        case = page.get_by_test_id("device-case")
        expect(case).to_contain_text("手工报销")
        expect(page.get_by_test_id("case-total")).to_have_text(cost)
    finally:
        simulator_faults(site.simulator.url)


def test_n38_b27_page_a_fitting_case_handed_over_prints_its_fee_list_for_good(
    page: Page, site: Site
) -> None:
    card_no, notice = _worker(site, "P085")
    _record_case(page, site, card_no, notice, "1500.00")
    page.get_by_test_id("hand-over").click()
    listing = page.get_by_test_id("device-fee-list")
    expect(listing).to_contain_text("辅助器具配置费用清单（手工报销）")
    expect(listing).to_contain_text("无法确定基金支付和个人负担")
    expect(page.get_by_test_id("fee-list-total")).to_have_text("1500.00")
    shot(page, "device-fee-list")


def test_n38_b27_n34_page_a_fitting_case_switches_to_direct_settlement_before_hand_over(
    page: Page, site: Site
) -> None:
    card_no, notice = _worker(site, "P086")
    _record_case(page, site, card_no, notice, "1800.00")
    case = page.get_by_test_id("device-case")
    case.get_by_label("社会保障卡号 / 电子社保卡二维码").fill(card_no)
    case.get_by_test_id("switch-to-direct").click()
    expect(page.get_by_test_id("fitted")).to_contain_text("配置结算成功")
    expect(page.get_by_test_id("device-fund")).to_have_text("1800.00")
