"""The IT page's logs below the queue's state: paged, filtered, the 就诊 column linking to the
stay by its HIS visit number."""

from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import ZONE, Site
from tests.e2e.web.stays import admit_with_fees

SUPERVISOR = "主管-测试"  # IT and billing: the link to the stay opens for them


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
        expect(link).to_have_attribute("href", f"/web/billing/{encounters[1]}")
    assert visits[0] not in calls.inner_text()
    assert "WI2401" in calls.inner_text() and rows.count() > 1
    shot(page, "monitor-filtered")
    rows.first.get_by_role("link", name=visits[1]).click()
    page.wait_for_url(f"**/web/billing/{encounters[1]}")

    page.goto(f"{site.base}/web/monitor?calls_q=NO-SUCH-CALL")
    expect(calls).to_contain_text("没有符合“NO-SUCH-CALL”的调用")
