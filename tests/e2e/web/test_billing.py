"""The billing desk: fees the HIS sent, priced line by line; mapping, presettle, settle, the
slip, revoke and re-settle; and the manual claim when direct settlement is impossible."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import httpx
from playwright.sync_api import Page, expect

from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import USERS, ZONE, Site
from tests.e2e.web.stays import admit_with_fees, close_open_stay, his
from tests.support.polling import eventually


def _amounts(page: Page, testid: str) -> dict[str, Decimal]:
    return {
        part: Decimal(page.get_by_test_id(f"{testid}-{part}").inner_text())
        for part in ("total", "fund", "personal")
    }


def _open(page: Page, visit: str) -> None:
    page.goto(page.url.split("/web/")[0] + "/web/billing")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type(visit)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("encounter")).to_be_visible()


def test_a_stay_is_priced_mapped_settled_printed_revoked_and_settled_again(
    page: Page, site: Site
) -> None:
    visit = f"ZY-BILL-{datetime.now(ZONE):%H%M%S%f}"
    encounter_id = admit_with_fees(site, visit)
    sign_in(page, site, USERS["billing"], path="/web/billing")
    _open(page, visit)
    lines = page.get_by_test_id("fee-lines")
    bed = lines.locator("tr[data-line=L2]")
    expect(bed).to_have_class("personal")
    expect(bed).to_contain_text("超出住院服务标准（50.00元/日）")
    expect(bed.locator(".article")).to_have_text("N§32, N§37, B§30")
    expect(lines.locator("tr[data-line=L4]")).to_contain_text("伤病分离")
    expect(lines.locator("tr[data-line=L4] .article")).to_have_text("N§37, B§29")
    expect(lines.locator("tr[data-line=L1] .article")).to_have_text("N§32, B§30")
    expect(page.get_by_text("住院伙食补助费和转诊交通食宿费不纳入直接结算")).to_be_visible()
    shot(page, "fees")

    page.get_by_role("button", name="确认结算").click()  # two lines are not mapped yet
    expect(page.get_by_test_id("error")).to_contain_text("L3、L5")
    expect(page.get_by_test_id("error")).to_contain_text("N§32")

    page.get_by_label("明细L3的目录编码").fill("XJ01DCC061")
    page.get_by_label("明细L3的目录编码").press("Enter")
    expect(page.get_by_test_id("done")).to_contain_text("目录对照已保存")
    page.get_by_test_id("map-L5").get_by_role("button", name="确认目录外").click()
    expect(page.get_by_test_id("map-L5")).to_have_count(0)
    expect(lines.locator("tr[data-line=L3]")).to_contain_text("头孢呋辛酯片")

    page.get_by_role("button", name="预结算").click()
    preview = site.runtime.services.settlements.presettle(encounter_id).bill.breakdown
    shown = _amounts(page, "presettle")
    assert shown == {"total": preview.total, "fund": preview.fund_pay,
                     "personal": preview.personal_pay}  # fmt: skip
    shot(page, "presettle")

    page.get_by_role("button", name="确认结算").click()
    expect(page.get_by_test_id("done")).to_contain_text("结算成功")
    expect(page.get_by_test_id("status")).to_have_text("已结算")
    with UnitOfWork(site.engine) as uow:
        first = uow.settlements.find_active(encounter_id)
    assert first is not None
    b = first.breakdown
    settled = _amounts(page, "settled")
    assert settled == {"total": b.total, "fund": b.fund_pay, "personal": b.personal_pay}
    assert settled["fund"] + settled["personal"] == settled["total"]
    assert b.total == preview.total and b.personal_pay > 0
    shot(page, "settled")

    with page.context.expect_page() as opened:
        page.get_by_test_id("print-slip").click()
    slip = opened.value
    expect(slip.get_by_test_id("slip-no")).to_have_text(first.slip_no)
    assert Decimal(slip.get_by_test_id("total").inner_text()) == b.total
    assert Decimal(slip.get_by_test_id("fund").inner_text()) == b.fund_pay
    assert Decimal(slip.get_by_test_id("personal").inner_text()) == b.personal_pay
    slip.close()

    page.get_by_label("撤销原因").fill("出院诊断录入有误")
    page.get_by_role("button", name="撤销结算").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm.get_by_test_id("confirm-upstream")).to_contain_text("WI2305")
    expect(page.get_by_test_id("status")).to_have_text("已结算")  # nothing done yet
    confirm.get_by_role("button", name="确认撤销结算").click()
    expect(page.get_by_test_id("done")).to_contain_text("结算已撤销")
    expect(page.get_by_test_id("status")).to_have_text("结算已撤销")
    expect(page.get_by_role("heading", name="重新结算")).to_be_visible()
    page.get_by_label("出院诊断（每行：编码 名称）").fill("S62.301 左手第三掌骨骨折")
    page.get_by_role("button", name="确认结算").click()
    expect(page.get_by_test_id("status")).to_have_text("已结算")
    with UnitOfWork(site.engine) as uow:
        again = uow.settlements.find_active(encounter_id)
        history = uow.settlements.list_for_encounter(encounter_id)
    assert again is not None and again.slip_no != first.slip_no
    assert [s.status.value for s in history] == ["revoked", "settled"]
    expect(page.get_by_test_id("settlement")).to_contain_text(again.slip_no)
    expect(page.get_by_text(f"{first.slip_no} 撤销于")).to_be_visible()
    shot(page, "resettled")


def test_a_stay_goes_to_manual_reimbursement_and_cannot_be_settled_directly(
    page: Page, site: Site
) -> None:
    visit = f"ZY-MAN-{datetime.now(ZONE):%H%M%S%f}"
    encounter_id = admit_with_fees(site, visit)
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")
    page.get_by_label("原因").select_option("card_failure")
    page.get_by_role("button", name="转手工报销").click()
    expect(page.get_by_test_id("error")).to_contain_text("须说明具体情况")
    page.get_by_label("原因").select_option("card_failure")
    page.get_by_label("具体情况").fill("社保卡芯片损坏，无法读卡")
    page.get_by_role("button", name="转手工报销").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm).to_contain_text("不能再直接结算")
    expect(confirm).to_contain_text("N§38、B§27")
    shot(page, "manual-claim-confirm")
    confirm.get_by_role("button", name="确认转手工报销").click()
    expect(page.get_by_test_id("claim")).to_contain_text("社会保障卡故障")
    expect(page.get_by_test_id("status")).to_have_text("转手工报销")
    expect(page.get_by_role("button", name="确认结算")).to_have_count(0)
    shot(page, "manual-claim")
    with UnitOfWork(site.engine) as uow:
        assert uow.encounters.get(encounter_id).encounter.status.value == "manual_claim"


def test_a_rehab_plan_is_filled_in_and_its_upload_is_shown(page: Page, site: Site) -> None:
    visit = f"ZY-REH-{datetime.now(ZONE):%H%M%S%f}"
    close_open_stay(site, "P010", "rehab")
    body = {
        "card": {"kind": "physical", "card_no": "330100K0010"},
        "his_visit_id": visit,
        "kind": "rehab",
        "admitted_at": datetime.now(ZONE).isoformat(),
        "injury_parts": site.person_filing_parts("P010")[:1],
    }
    admitted = httpx.post(f"{site.base}/api/v1/encounters", json=body, headers=his(site))
    assert admitted.status_code == 201, admitted.text
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{admitted.json()['id']}")
    rehab = page.get_by_test_id("rehab")
    expect(rehab.get_by_test_id("plan-status")).to_have_text("尚未填写")
    rehab.get_by_label("康复目标").fill("恢复右上肢肌力，生活自理")
    rehab.get_by_label("康复项目（每行：项目编码 名称 频次）").fill("340200001 运动疗法 每日1次")
    rehab.get_by_label("预计天数").fill("30")
    rehab.get_by_role("button", name="保存并上传康复方案").click()
    expect(page.get_by_test_id("done")).to_contain_text("康复方案已保存")

    def acknowledged() -> bool:
        page.reload()
        return page.get_by_test_id("plan-status").inner_text() == "已上传"

    eventually(acknowledged)
    shot(page, "rehab-plan")


def test_n38_an_outage_at_discharge_offers_wait_or_manual_claim_and_lists_the_stay(
    page: Page, site: Site
) -> None:
    visit = f"ZY-WAIT-{datetime.now(ZONE):%H%M%S%f}"
    encounter_id = admit_with_fees(site, visit)
    billing = {"Authorization": f"Bearer {site.tokens['billing']}"}
    for line_id, body in (
        ("L3", {"catalogue_code": "XJ01DCC061"}),
        ("L5", {"out_of_catalogue": True}),
    ):
        httpx.put(f"{site.base}/api/v1/encounters/{encounter_id}/fees/{line_id}/mapping",
                  json=body, headers=billing)  # fmt: skip
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")
    faults = f"{site.simulator.url}/_sim/faults"
    httpx.post(faults, json={"outage": True})
    try:
        page.get_by_role("button", name="确认结算").click()
        error = page.get_by_test_id("error")
        expect(error).to_contain_text("N§38")
        expect(error).to_contain_text("等待上级系统恢复")
        expect(error).to_contain_text("转手工报销")
        # before: "…手工报销（N§38、B§27）（N§38, B§27）", the articles said twice
        assert error.inner_text().count("B§27") == 1, error.inner_text()
        expect(page.get_by_test_id("waiting-for-upstream")).to_contain_text("等待上级系统恢复")
        shot(page, "outage")
        page.goto(f"{site.base}/web/billing")
        listed = page.get_by_test_id("waiting-for-upstream")
        expect(listed.locator(f"tr[data-encounter={encounter_id}]")).to_contain_text("等待上级系统")
    finally:
        httpx.post(faults, json={})
    assert site.runtime.recheck is not None
    site.runtime.recheck.run_once()
    page.reload()
    expect(listed.locator(f"tr[data-encounter={encounter_id}]")).to_contain_text("可以结算")
    shot(page, "ready")
    listed.get_by_role("link", name=visit).click()
    expect(page.get_by_test_id("waiting-for-upstream")).to_contain_text("可以办理出院结算")
    page.get_by_role("button", name="确认结算").click()
    expect(page.get_by_test_id("status")).to_have_text("已结算")
    expect(page.get_by_test_id("waiting-for-upstream")).to_have_count(0)
