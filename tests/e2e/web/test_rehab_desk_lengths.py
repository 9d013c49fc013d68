"""The rehab desk checks the lengths the API holds before sending: rehab goals at most 2,000
characters, a supervisor's reason to settle before the plan reached upstream 2 to 500. Too long
or too short, the clerk reads how long it may be and how long it is, in Chinese, with the text
kept."""

from __future__ import annotations

from datetime import datetime

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import SUPERVISOR, USERS, ZONE, Site
from tests.e2e.web.stays import LINES, admit_rehab, his, refused_upload

ITEMS = "340200001 运动疗法 每日1次"


def test_b32_rehab_goals_too_long_are_refused_at_the_desk_with_the_text_kept(
    page: Page, site: Site
) -> None:
    encounter_id = admit_rehab(site, f"ZY-LEN-{datetime.now(ZONE):%H%M%S%f}")
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")
    rehab = page.get_by_test_id("rehab")
    goals = "恢复右上肢肌力，生活自理。" * 154  # 2,002 characters: the API holds 2,000
    rehab.get_by_label("康复目标").fill(goals)
    rehab.get_by_label("康复项目（每行：项目编码 名称 频次）").fill(ITEMS)
    rehab.get_by_label("预计天数").fill("30")
    rehab.get_by_role("button", name="保存并上传康复方案").click()
    expect(page.get_by_test_id("error")).to_contain_text("康复目标最长2000个字符（现为2002个）")
    expect(page.get_by_test_id("rehab").get_by_label("康复目标")).to_have_value(goals)
    expect(page.get_by_test_id("plan-status")).to_have_text("尚未填写")  # nothing was saved
    # a billing clerk is not the supervisor: the settle form has no override for them (N§33)
    expect(page.get_by_role("button", name="确认结算")).to_be_visible()
    expect(page.get_by_label("康复方案未送达时强制结算的原因（结算主管）")).to_have_count(0)
    shot(page, "rehab-goals-too-long")


def test_n33_a_reason_to_settle_before_the_plan_arrived_too_long_is_refused_with_it_kept(
    page: Page, site: Site
) -> None:
    encounter_id = admit_rehab(site, f"ZY-LEN-{datetime.now(ZONE):%H%M%S%f}")
    sign_in(page, site, SUPERVISOR, path=f"/web/billing/{encounter_id}")  # only they override
    reason = "上级系统长时间未确认康复方案，患者须今日出院。" * 22  # 506 characters
    field = page.get_by_label("康复方案未送达时强制结算的原因（结算主管）")
    field.fill(reason)
    page.get_by_role("button", name="确认结算").click()
    expect(page.get_by_test_id("error")).to_contain_text("强制结算的原因最长500个字符（现为506个）")
    expect(page.get_by_label("康复方案未送达时强制结算的原因（结算主管）")).to_have_value(reason)
    shot(page, "rehab-override-too-long")


def test_n33_a_one_character_reason_to_settle_before_the_plan_arrived_is_refused_with_it_kept(
    page: Page, site: Site
) -> None:
    """A supervisor's reason of one character ("急") went through while the plan was still
    waiting to go upstream: the 36.50 stay was settled as overridden on a reason nobody could
    read back, where the API holds at least 2. The desk now refuses it in words (N§33 wants the
    plan before settlement, "原则上"), keeps it in the field, and the stay stays unsettled."""
    encounter_id = admit_rehab(site, f"ZY-LEN-{datetime.now(ZONE):%H%M%S%f}")
    fees = httpx.post(
        f"{site.base}/api/v1/encounters/{encounter_id}/fees",
        json={"lines": LINES[:1]},
        headers=his(site),
    )
    assert fees.status_code == 200, fees.text
    refused_upload(site, encounter_id)  # the plan waits behind it: not delivered upstream
    sign_in(page, site, SUPERVISOR, path=f"/web/billing/{encounter_id}")  # only they override
    rehab = page.get_by_test_id("rehab")
    rehab.get_by_label("康复目标").fill("恢复右上肢肌力，生活自理")
    rehab.get_by_label("康复项目（每行：项目编码 名称 频次）").fill(ITEMS)
    rehab.get_by_label("预计天数").fill("30")
    rehab.get_by_role("button", name="保存并上传康复方案").click()
    field = page.get_by_label("康复方案未送达时强制结算的原因（结算主管）")
    field.fill(" 急 ")
    page.get_by_role("button", name="确认结算").click()
    expect(page.get_by_test_id("error")).to_contain_text("强制结算的原因至少2个字符（现为1个）")
    expect(page.get_by_label("康复方案未送达时强制结算的原因（结算主管）")).to_have_value(" 急 ")
    expect(page.get_by_test_id("plan-status")).not_to_have_text("已上传")
    expect(page.get_by_role("button", name="确认结算")).to_be_visible()  # not settled
    shot(page, "rehab-override-too-short")
