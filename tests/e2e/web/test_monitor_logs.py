"""The IT page: the queue's state in one row of counts above the fold of a 1366×768 screen, the
logs below it paged and filtered, the 就诊 column linking to the stay by its HIS visit number."""

from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import VIEWPORT, shot, sign_in
from tests.e2e.web.site import USERS, ZONE, Site
from tests.e2e.web.stays import admit_with_fees, refused_upload
from tests.support.mllp import exchange
from tests.unit.hl7 import messages as m

SUPERVISOR = "主管-测试"  # every role


def test_the_call_log_is_paged_and_filtered_and_links_to_the_stay(page: Page, site: Site) -> None:
    stamp = f"{datetime.now(ZONE):%H%M%S%f}"
    visits = [f"ZY-LOG-{stamp}-{n}" for n in range(2)]
    encounters = [admit_with_fees(site, visit) for visit in visits]
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, site, SUPERVISOR, path="/web/monitor")
    calls = page.get_by_test_id("calls")
    pager = page.get_by_test_id("calls-log-pager")
    found = re.search(r"第 1 / (\d+) 页，共 (\d+) 条", pager.inner_text())
    assert found, pager.inner_text()
    pages, total = int(found.group(1)), int(found.group(2))
    assert total > 15 and pages == -(-total // 15)
    expect(calls.locator("tbody tr")).to_have_count(15)
    shot(page, "monitor-1366")
    pager.get_by_role("link", name="下一页（较早）").click()
    expect(pager).to_contain_text(f"第 2 / {pages} 页")

    # filter by the HIS visit number: the stay's calls, also those made under its encounter
    # id (the admission upload, WI2401), each linked to the stay by the HIS visit number
    box = page.get_by_test_id("calls-log-filter").get_by_role("textbox")
    box.fill(visits[1])
    box.press("Enter")
    expect(pager).to_contain_text("第 1 / 1 页")
    rows = calls.locator("tbody tr")
    expect(rows.first).to_contain_text(visits[1])
    for row in rows.all():
        link = row.get_by_test_id("call-stay").get_by_role("link")
        expect(link).to_have_text(visits[1])
        expect(link).to_have_attribute("href", f"/web/stays/{encounters[1]}")
    assert visits[0] not in calls.inner_text()
    assert "WI2401" in calls.inner_text() and rows.count() > 1
    shot(page, "monitor-filtered")
    rows.first.get_by_role("link", name=visits[1]).click()
    page.wait_for_url(f"**/web/stays/{encounters[1]}")
    page.get_by_test_id("to-billing").click()  # the supervisor also bills
    page.wait_for_url(f"**/web/billing/{encounters[1]}")

    page.goto(f"{site.base}/web/monitor?calls_q=NO-SUCH-CALL")
    expect(calls).to_contain_text("没有符合“NO-SUCH-CALL”的调用")


def test_the_state_fits_above_the_fold_and_every_stay_cell_links_the_stay_by_its_his_number(
    page: Page, site: Site
) -> None:
    visit = f"ZY-IT-{datetime.now(ZONE):%H%M%S%f}"
    encounter_id = admit_with_fees(site, visit)
    job_id = refused_upload(site, encounter_id)
    assert page.viewport_size == VIEWPORT
    sign_in(page, site, USERS["it"], path="/web/monitor")  # IT only: no billing role

    summary = page.get_by_test_id("summary")
    for label in ("积压", "临近时限", "已超时限", "上传失败", "可能错过清算"):
        expect(summary).to_contain_text(label)
    box = summary.bounding_box()
    assert box is not None and box["y"] >= 0
    assert box["y"] + box["height"] <= VIEWPORT["height"], box  # above the fold, unscrolled
    assert page.evaluate("window.scrollY") == 0
    assert int(page.get_by_test_id("count-dead").inner_text()) >= 1
    for count in ("count-backlog", "count-at-risk", "count-missed", "count-clearing"):
        assert page.get_by_test_id(count).inner_text().isdigit()
    # the day's missed deadlines, late deliveries included, beside the live counts
    expect(page.get_by_test_id("summary-note")).to_contain_text("今日已超时限")
    assert page.get_by_test_id("count-missed-today").inner_text().isdigit()
    shot(page, "monitor-above-the-fold", full_page=False)

    # the failed count leads to the dead job; its 就诊 is the HIS number, linked to the stay
    summary.get_by_role("link", name="上传失败").click()
    dead = page.locator(f"form.dead-job[data-job='{job_id}']")
    link = dead.get_by_test_id("dead-stay").get_by_role("link")
    expect(link).to_have_text(visit)
    expect(link).to_have_attribute("href", f"/web/stays/{encounter_id}")

    # the logs sit below the state; the 就诊 column never shows an encounter id
    calls = page.get_by_test_id("calls")
    calls_box = calls.bounding_box()
    assert calls_box is not None and calls_box["y"] > box["y"] + box["height"]
    box_filter = page.get_by_test_id("calls-log-filter").get_by_role("textbox")
    box_filter.fill(visit)
    box_filter.press("Enter")
    cells = calls.get_by_test_id("call-stay")
    expect(cells.first).to_have_text(visit)
    assert set(cells.all_inner_texts()) == {visit}
    assert encounter_id not in calls.inner_text()
    shot(page, "monitor-logs")

    cells.first.get_by_role("link", name=visit).click()
    page.wait_for_url(f"**/web/stays/{encounter_id}")
    expect(page.get_by_test_id("stay")).to_contain_text(visit)
    expect(page.get_by_test_id("status")).to_have_text("在院")
    expect(page.get_by_test_id("uploads")).to_contain_text("WI2401")
    expect(page.get_by_test_id("cancel-stay")).to_have_count(0)  # IT does not cancel admissions
    expect(page.get_by_test_id("to-billing")).to_have_count(0)
    shot(page, "stay-from-monitor")


def test_the_hl7_log_says_how_each_message_ended_in_chinese(page: Page, site: Site) -> None:
    stamp = f"{datetime.now(ZONE):%H%M%S%f}"
    port = site.runtime.settings.hl7.port
    # fees for a stay not admitted (yet): AE, to be resent once the A01 is in
    unknown = m.dft(f"R{stamp}", [m.ft1("L1")], visit=f"ZY-NONE-{stamp}")
    assert "MSA|AE" in exchange(port, unknown.encode("utf-8"))
    # a message the adapter does not take: rejected (AR), the HIS fixes it and resends
    odd = unknown.replace(f"R{stamp}", f"X{stamp}").replace("DFT^P03^DFT_P03", "ORM^O01")
    assert "MSA|AR" in exchange(port, odd.encode("utf-8"))
    sign_in(page, site, USERS["it"], path="/web/monitor")
    hl7 = page.get_by_test_id("hl7")
    box = page.get_by_test_id("hl7-log-filter").get_by_role("textbox")
    box.fill(stamp)
    box.press("Enter")
    outcomes = hl7.get_by_test_id("hl7-outcome")
    expect(outcomes).to_have_count(2)
    # before: "transient" and "rejected", the codes the log keeps
    expect(hl7.locator("tr", has_text=f"R{stamp}")).to_contain_text("暂不能处理（待 HIS 重发）")
    expect(hl7.locator("tr", has_text=f"X{stamp}")).to_contain_text("格式有误或不支持")
    assert "transient" not in hl7.inner_text() and "rejected" not in hl7.inner_text()
    shot(page, "hl7-outcomes")
    # the filter finds a row by its label or by its code
    for typed in ("暂不能处理", "transient"):
        page.goto(f"{site.base}/web/monitor?hl7_q={typed}#hl7-log")
        expect(hl7.locator("tr", has_text=f"R{stamp}")).to_have_count(1)
        expect(hl7.locator("tr", has_text=f"X{stamp}")).to_have_count(0)
