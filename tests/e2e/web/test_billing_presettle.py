"""The billing desk's presettle says, above the settle button, what settling would refuse:
the clerk fixes it before pressing settle, not after."""

from __future__ import annotations

from datetime import datetime

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import USERS, ZONE, Site
from tests.e2e.web.stays import admit_with_fees, his, line

BED = "110900001A"  # 床位费（三人间）, as the stay's L2 bills it: 60.00 a day


def _stay(site: Site, encounter_id: str) -> dict:
    answer = httpx.get(f"{site.base}/api/v1/encounters/{encounter_id}", headers=his(site))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _bed_days(site: Site, encounter_id: str, *lines: dict) -> None:
    """Bed-day lines from the HIS, dated with the stay's L2 (within the stay)."""
    stay = _stay(site, encounter_id)
    dated = next(x["occurred_at"] for x in stay["fees"]["lines"] if x["his_line_id"] == "L2")
    posted = httpx.post(
        f"{site.base}/api/v1/encounters/{encounter_id}/fees",
        json={"lines": [{**x, "occurred_at": dated} for x in lines]},
        headers=his(site),
    )
    assert posted.status_code == 200, posted.text


def test_presettle_shows_what_settling_would_refuse_above_the_settle_button(
    page: Page, site: Site
) -> None:
    """A stay of one day (on a day of its own: no other stay of the worker shares it, so its
    one bed is paid) billed six bed days, with two items not mapped yet: presettle lists
    both refusals in red above 确认结算, naming the lines; mapped and the extra days
    reversed, it says the stay settles."""
    visit = f"ZY-PRE-{datetime.now(ZONE):%H%M%S%f}"
    encounter_id = admit_with_fees(site, visit, own_day=True)
    _bed_days(site, encounter_id, line("B9", BED, "300.00", "5", category="service"))
    admitted = datetime.fromisoformat(_stay(site, encounter_id)["admitted_at"]).astimezone(ZONE)
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")

    evening = f"{admitted:%Y-%m-%d}T20:00"
    page.get_by_label("出院时间", exact=True).fill(evening)
    page.get_by_role("button", name="预结算").click()
    blocking = page.get_by_test_id("blocking")
    expect(blocking).to_contain_text("结算将被拒绝")
    expect(blocking.locator("li[data-code=FEES_UNMAPPED]")).to_contain_text("L3、L5")
    days = blocking.locator("li[data-code=FEE_DAYS_OVER_STAY]")
    expect(days).to_contain_text("费用明细L2、B9的")
    expect(days).to_contain_text("共计6日")
    expect(days.locator(".article")).to_have_text("N§32, N§37, B§30")
    expect(page.get_by_test_id("preview-blocked")).to_contain_text("结算将被拒绝（2 项）")
    settle = page.get_by_role("button", name="确认结算")
    notice_box, button_box = blocking.bounding_box(), settle.bounding_box()
    assert notice_box is not None and button_box is not None
    assert notice_box["y"] + notice_box["height"] <= button_box["y"]  # read before pressing
    shot(page, "blocking")

    page.get_by_label("明细L3的目录编码").fill("XJ01DCC061")
    page.get_by_label("明细L3的目录编码").press("Enter")
    expect(page.get_by_test_id("done")).to_contain_text("目录对照已保存")
    page.get_by_test_id("map-L5").get_by_role("button", name="确认目录外").click()
    expect(page.get_by_test_id("map-L5")).to_have_count(0)
    page.get_by_label("出院时间", exact=True).fill(evening)  # the page shows now again
    page.get_by_role("button", name="预结算").click()
    expect(blocking.locator("li")).to_have_count(1)
    expect(blocking.locator("li[data-code=FEE_DAYS_OVER_STAY]")).to_be_visible()
    page.get_by_role("button", name="确认结算").click()  # refused, with the same words
    expect(page.get_by_test_id("error")).to_contain_text("费用明细L2、B9的")
    expect(page.get_by_test_id("status")).to_have_text("在院")

    back = line("R9", BED, "-300.00", "-5", category="service", reverses="B9")
    _bed_days(site, encounter_id, back)
    page.get_by_label("出院时间", exact=True).fill(evening)
    page.get_by_role("button", name="预结算").click()
    expect(page.get_by_test_id("preview-settleable")).to_contain_text("可以结算")
    expect(page.get_by_test_id("blocking")).to_have_count(0)
    shot(page, "settleable")
