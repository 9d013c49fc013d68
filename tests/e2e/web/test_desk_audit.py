"""What a new clerk trips over at the desks (the desks' audit): a number typed with the input
method on, a total that does not add up, a form that forgets what was typed, a header that
breaks on a narrower screen, a second click on a slow settle."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import text

from adapter.domain.months import previous_month
from adapter.scheduling.jobs import monthly_jobs
from adapter.settings import load_settings
from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import CARDS, USERS, ZONE, Site
from tests.e2e.web.stays import admit_rehab, admit_with_fees, close_open_stay
from tests.integration.services.device_world import NOTICE


def full_width(value: str) -> str:
    """As a Chinese input method left in full-width mode types it."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)


def test_n18_a_card_number_typed_full_width_spaced_or_lower_case_finds_the_worker(
    page: Page, site: Site
) -> None:
    sign_in(page, site, USERS["admission"], path="/web/admission")
    card = CARDS["P001"]  # 310100A0001
    for typed in (full_width(card), f"{card[:6]} {card[6:]}", card.lower()):
        page.locator("#card").fill(typed)
        page.locator("#card").press("Enter")
        # before: "电子社保卡二维码无效或已被篡改" or "未查询到该人员的工伤保险参保信息"
        expect(page.get_by_test_id("person")).to_contain_text("王建国")
        expect(page.get_by_test_id("refusal")).to_have_count(0)
    # A citizen ID ending in a lower-case x, typed full width.
    page.locator("#card").fill(full_width(str(site.person("P012")["certno"]).lower()))
    page.locator("#card").press("Enter")
    expect(page.get_by_test_id("person")).to_contain_text("徐强")
    shot(page, "full-width-id")


def test_a_visit_number_typed_full_width_opens_the_stay(page: Page, site: Site) -> None:
    visit = f"ZY-FW-{datetime.now(ZONE):%H%M%S%f}"
    encounter_id = admit_with_fees(site, visit)
    sign_in(page, site, USERS["billing"], path="/web/billing")
    page.get_by_label("HIS 住院号或就诊编号").fill(full_width(visit))
    page.get_by_label("HIS 住院号或就诊编号").press("Enter")
    # before: 未找到住院号或就诊编号为“ＺＹ-ＦＷ-…”的就诊
    expect(page).to_have_url(f"{site.base}/web/billing/{encounter_id}")


def _mapped_stay(site: Site, visit: str, *, bed: bool = False) -> str:
    """A stay with the demo's fees, its two unknown items mapped: ready to settle (``bed``:
    with the bed line whatever the day, see :func:`admit_with_fees`)."""
    encounter_id = admit_with_fees(site, visit, bed=bed)
    billing = {"Authorization": f"Bearer {site.tokens['billing']}"}
    for line_id, body in (
        ("L3", {"catalogue_code": "XJ01DCC061"}),
        ("L5", {"out_of_catalogue": True}),
    ):
        url = f"{site.base}/api/v1/encounters/{encounter_id}/fees/{line_id}/mapping"
        assert httpx.put(url, json=body, headers=billing).status_code == 200
    return encounter_id


def _amounts(line: str) -> list[Decimal]:
    return [Decimal(word) for word in line.split() if word.replace(".", "", 1).isdigit()]


def test_n3_b30_meals_outside_direct_settlement_are_not_listed_inside_personal_pay(
    page: Page, site: Site
) -> None:
    # never settled: it keeps its bed line (60.00 against the standard's 50.00) whatever the day
    encounter_id = _mapped_stay(site, f"ZY-SPLIT-{datetime.now(ZONE):%H%M%S%f}", bed=True)
    # fees 181.50, of them personal 53.00; meals 60.00 outside direct settlement
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")
    fees = page.get_by_test_id("fees")
    total = Decimal(fees.get_by_test_id("fees-total").inner_text())
    fund = Decimal(fees.get_by_test_id("fees-fund").inner_text())
    personal = Decimal(fees.get_by_test_id("fees-personal").inner_text())
    assert (total, fund, personal) == (Decimal("181.50"), Decimal("128.50"), Decimal("53.00"))
    assert fund + personal == total
    # "其中 目录外 18.00 超标准/超限额 10.00 非工伤 25.00" adds up to 个人支付; before, the
    # meals' 60.00 stood in that list too (113.00 "of" 53.00).
    split = fees.locator("span", has_text="其中").inner_text()
    assert sum(_amounts(split)) == personal, split
    expect(fees).to_contain_text("另有不纳入直接结算的费用 60.00 元")
    shot(page, "bill-split")


def test_b32_a_refused_rehab_plan_keeps_what_the_clerk_typed(page: Page, site: Site) -> None:
    encounter_id = admit_rehab(site, f"ZY-PLAN-{datetime.now(ZONE):%H%M%S%f}")
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")
    rehab = page.get_by_test_id("rehab")
    goals, items = "恢复右上肢肌力，生活自理", "340200001 运动疗法 每日1次\n340200019 手功能训练"
    rehab.get_by_label("康复目标").fill(goals)
    rehab.get_by_label("康复项目（每行：项目编码 名称 频次）").fill(items)
    rehab.get_by_label("频次", exact=True).fill("每周5次")
    # 预计天数 forgotten
    rehab.get_by_role("button", name="保存并上传康复方案").click()
    expect(page.get_by_test_id("error")).to_contain_text("预计天数")
    rehab = page.get_by_test_id("rehab")
    # before: every field empty again, the clerk typed the plan twice
    expect(rehab.get_by_label("康复目标")).to_have_value(goals)
    expect(rehab.get_by_label("康复项目（每行：项目编码 名称 频次）")).to_have_value(items)
    expect(rehab.get_by_label("频次", exact=True)).to_have_value("每周5次")
    rehab.get_by_label("预计天数").fill("３０")  # full width, as typed with the input method on
    rehab.get_by_role("button", name="保存并上传康复方案").click()
    expect(page.get_by_test_id("done")).to_contain_text("康复方案已保存")
    expect(page.get_by_test_id("rehab").get_by_label("康复目标")).to_have_value(goals)
    shot(page, "rehab-plan-kept")


def _lines_of(page: Page, selector: str) -> dict[str, int]:
    """How many lines each element's text is laid out on."""
    counted: dict[str, int] = page.evaluate(
        """(selector) => Object.fromEntries([...document.querySelectorAll(selector)].map(e => {
            const range = document.createRange(); range.selectNodeContents(e);
            const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            return [e.textContent.trim(), tops.size];
        }))""",
        selector,
    )
    return counted


def test_the_desks_header_reads_on_one_line_per_desk_at_1024_px(page: Page, site: Site) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, site, "主管-测试", path="/web/billing")  # every desk in the header
    expect(page.get_by_role("navigation", name="工作台")).to_be_visible()
    # before: 入/院/登/记 one character per line
    assert set(_lines_of(page, "header.top nav a").values()) == {1}, _lines_of(
        page, "header.top nav a"
    )
    # and the desks side by side in one row (the user's name may go to a second row)
    tops = page.evaluate(
        "[...document.querySelectorAll('header.top nav a')].map(a => a.getBoundingClientRect().top)"
    )
    assert len(set(tops)) == 1, tops
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    shot(page, "header-1024", full_page=False)


def test_n33_a_second_click_on_a_slow_settle_sends_it_once(page: Page, site: Site) -> None:
    encounter_id = _mapped_stay(site, f"ZY-TWICE-{datetime.now(ZONE):%H%M%S%f}")
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")
    settle = page.get_by_role("button", name="确认结算")
    settle.scroll_into_view_if_needed()
    box = settle.bounding_box()
    assert box is not None
    faults = f"{site.simulator.url}/_sim/faults"
    httpx.post(faults, json={"latency_ms": 1000})  # the identity check upstream is slow today
    try:
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.click(x, y)
        page.mouse.click(x, y)  # the clerk, seeing nothing happen, clicks again
        expect(page.get_by_test_id("done")).to_contain_text("结算成功", timeout=30_000)
    finally:
        httpx.post(faults, json={})
    with site.engine.connect() as db:
        checks = db.execute(
            text("SELECT count(*) FROM upstream_call WHERE infno = 'WI1101' AND context = :e"),
            {"e": encounter_id},
        ).scalar_one()
    # before: two settle requests, each checking identity upstream again
    assert checks == 1


def test_b28_an_admission_refused_for_what_was_typed_keeps_the_worker_and_the_form(
    page: Page, site: Site
) -> None:
    close_open_stay(site, "P001")
    sign_in(page, site, USERS["admission"], path="/web/admission")
    page.locator("#card").fill(CARDS["P001"])
    page.locator("#card").press("Enter")
    parts = site.person_filing_parts("P001")  # 左手、右前臂
    diagnosis = "S62.301 左手第三掌骨骨折"

    def fill(visit: str) -> None:
        page.locator("#his_visit_id").fill(visit)
        page.get_by_label("科室").fill("手外科")
        page.get_by_label("入院诊断（每行一条：ICD-10 编码 名称）").fill(diagnosis)
        page.get_by_label(parts[1], exact=True).uncheck()
        page.get_by_role("button", name="确认入院登记").click()

    fill("   ")  # spaces only: the browser's "required" lets it through
    expect(page.get_by_test_id("error")).to_contain_text("请填写 HIS 住院号")
    # before: the person, the verdict and the whole form gone; scan the card and type it all again
    expect(page.get_by_test_id("person")).to_contain_text("王建国")
    expect(page.get_by_label("科室")).to_have_value("手外科")
    expect(page.get_by_label("入院诊断（每行一条：ICD-10 编码 名称）")).to_have_value(diagnosis)
    expect(page.get_by_label(parts[0], exact=True)).to_be_checked()
    expect(page.get_by_label(parts[1], exact=True)).not_to_be_checked()
    # A visit number longer than the HIS's (64): said so, not a server error (PostgreSQL).
    too_long = "ZY-" + "9" * 70
    page.locator("#his_visit_id").fill(too_long)
    page.get_by_role("button", name="确认入院登记").click()
    expect(page.get_by_test_id("error")).to_contain_text("HIS 住院号最长64个字符")
    expect(page.locator("#his_visit_id")).to_have_value(too_long)
    shot(page, "kept-form")
    visit = f"ZY-KEPT-{datetime.now(ZONE):%H%M%S%f}"
    page.locator("#his_visit_id").fill(visit)
    page.get_by_role("button", name="确认入院登记").click()
    expect(page.get_by_test_id("admitted")).to_contain_text("已登记")
    encounter_id = page.get_by_test_id("encounter-id").inner_text()
    with UnitOfWork(site.engine) as uow:
        stored = uow.encounters.get(encounter_id).encounter
    assert (stored.his_visit_id, stored.department) == (visit, "手外科")
    assert stored.injury_parts == (parts[0],)
    assert len(stored.diagnoses) == 1 and "S62.301" in stored.diagnoses[0]


def test_n18_a_refused_card_number_stays_in_the_field_selected_for_the_next_scan(
    page: Page, site: Site
) -> None:
    sign_in(page, site, USERS["admission"], path="/web/admission")
    page.locator("#card").fill("310100Z9999")  # one letter off
    page.locator("#card").press("Enter")
    expect(page.get_by_test_id("refusal")).to_contain_text("未查询到")
    # before: the field empty, the clerk could not see what was typed
    card = page.locator("#card")
    expect(card).to_have_value("310100Z9999")
    expect(card).to_be_focused()
    # the page selects it once loaded: waited for, not read once (a busy machine is slower)
    page.wait_for_function(
        "n => document.activeElement.selectionStart === 0"
        " && document.activeElement.selectionEnd === n",
        arg=len("310100Z9999"),
        timeout=10_000,
    )
    shot(page, "card-kept")
    page.keyboard.type(CARDS["P001"])  # the scanner reads the card: it replaces the text
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("person")).to_contain_text("王建国")


def test_a_long_scan_in_the_search_box_is_answered_without_widening_the_page(
    page: Page, site: Site
) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, site, USERS["billing"], path="/web/billing")
    scanned = "QR" + "7F3A" * 80  # an electronic card's QR read into the search box
    page.get_by_label("HIS 住院号或就诊编号").fill(scanned)
    page.get_by_label("HIS 住院号或就诊编号").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("未找到")
    # before: the message ran 1,500 px off the right edge, the work list with it
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    shot(page, "long-scan")


def test_the_call_log_says_how_each_upstream_call_ended_in_chinese(page: Page, site: Site) -> None:
    admit_with_fees(site, f"ZY-LOG-{datetime.now(ZONE):%H%M%S%f}")  # calls upstream
    sign_in(page, site, USERS["it"], path="/web/monitor")
    outcomes = page.get_by_test_id("calls").get_by_test_id("call-outcome")
    expect(outcomes.first).to_contain_text("成功")
    # before: "ok（infcode 0）"
    assert not [t for t in outcomes.all_inner_texts() if t.startswith("ok")]
    page.get_by_label("筛选调用记录").fill("成功")
    page.get_by_label("筛选调用记录").press("Enter")
    expect(page.get_by_test_id("calls-log-filter")).to_contain_text("符合“成功”的共")
    expect(outcomes.first).to_contain_text("成功")


def test_a_mistyped_or_reloaded_desk_address_is_a_page_in_chinese_with_the_way_back(
    page: Page, site: Site
) -> None:
    encounter_id = _mapped_stay(site, f"ZY-ADDR-{datetime.now(ZONE):%H%M%S%f}")
    sign_in(page, site, USERS["billing"], path="/web/billing")
    # before: {"title":"未找到",…,"message":"Not Found"} as raw JSON, no header, no way back
    missing = page.goto(f"{site.base}/web/billing-list")
    assert missing is not None and missing.status == 404
    expect(page.get_by_test_id("error-page")).to_contain_text("页面不存在")
    expect(page.get_by_test_id("user")).to_contain_text(USERS["billing"])
    # The settle form's address opened in the address bar (a refused settle left it there).
    opened = page.goto(f"{site.base}/web/billing/{encounter_id}/settle")
    assert opened is not None and opened.status == 405
    expect(page.get_by_test_id("error-page")).to_contain_text("只用于提交表单")
    shot(page, "form-address")
    page.get_by_test_id("back-to-desk").click()
    expect(page).to_have_url(f"{site.base}/web/billing")


def test_n33_b31_a_revocation_reason_too_long_is_said_before_anything_is_sent(
    page: Page, site: Site
) -> None:
    encounter_id = _mapped_stay(site, f"ZY-WHY-{datetime.now(ZONE):%H%M%S%f}")
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")
    page.get_by_role("button", name="确认结算").click()
    expect(page.get_by_test_id("done")).to_contain_text("结算成功")
    reason = "患者家属要求核对费用后重新结算。" * 40  # 640 characters pasted from a note
    page.get_by_label("撤销原因").fill(reason)
    page.get_by_role("button", name="撤销结算").click()
    # before: the confirm step, then a raw 500 on PostgreSQL (the reason holds 500)
    expect(page.get_by_test_id("error")).to_contain_text("撤销原因最长500个字符（现为640个）")
    expect(page.get_by_label("撤销原因")).to_have_value(reason)
    expect(page.get_by_test_id("status")).to_have_text("已结算")


def test_n35_the_monthly_page_names_the_scheduled_reconciliation_in_words(
    page: Page, site: Site
) -> None:
    schedule = load_settings().schedule
    jobs = {job.name: job for job in monthly_jobs(site.runtime.monthly, schedule)}
    jobs["reconciliation"].run(datetime.now(ZONE))  # as the scheduler runs it each month
    month = previous_month(site.today)
    sign_in(page, site, USERS["billing"], path=f"/web/reconciliation?month={month}")
    # before: 操作人 system:schedule
    expect(page.get_by_test_id("run-actor")).to_have_text("系统（定时任务）")
    expect(page.locator("main")).not_to_contain_text("system:")


def test_a_visit_number_not_found_says_what_to_do_next(page: Page, site: Site) -> None:
    sign_in(page, site, USERS["billing"], path="/web/billing")
    page.get_by_label("HIS 住院号或就诊编号").fill("ZY-NEVER-ADMITTED")
    page.get_by_label("HIS 住院号或就诊编号").press("Enter")
    said = page.get_by_role("alert")
    # before: only 未找到住院号或就诊编号为“ZY-NEVER-ADMITTED”的就诊, and the clerk was stuck
    expect(said).to_contain_text("未找到住院号或就诊编号为“ZY-NEVER-ADMITTED”的就诊")
    expect(said).to_contain_text("请核对号码是否与 HIS 中的住院号一致")
    expect(said).to_contain_text("请联系入院处核验身份和备案后登记")
    expect(page.get_by_label("HIS 住院号或就诊编号")).to_have_value("ZY-NEVER-ADMITTED")


def test_the_call_log_names_what_a_call_not_for_a_stay_was_for_in_chinese(
    page: Page, site: Site
) -> None:
    month = previous_month(site.today)
    site.runtime.monthly.deductions.fetch(month, actor="cli")  # WI3202, not for a stay
    sign_in(page, site, USERS["it"], path="/web/monitor")
    page.get_by_label("筛选调用记录").fill("审核扣款")
    page.get_by_label("筛选调用记录").press("Enter")
    stays = page.get_by_test_id("calls").get_by_test_id("call-stay")
    # before: the filter found nothing; unfiltered, the cell read "deductions:2026-11"
    expect(stays.first).to_have_text(f"审核扣款 {month}")
    assert not [t for t in stays.all_inner_texts() if ":" in t]
    shot(page, "call-purpose")


def test_b34_a_wrong_notice_number_at_the_device_counter_keeps_the_card_for_the_retry(
    page: Page, site: Site
) -> None:
    sign_in(page, site, USERS["device"], path="/web/device")
    page.locator("#card").fill(CARDS["P011"])
    page.locator("#notice").fill("沪工伤辅核〔2026〕第9999号")  # not the notice on the filing
    page.locator("#notice").press("Enter")
    expect(page.get_by_test_id("refusal")).to_contain_text("B§34")
    # before: the card field empty, so correcting the notice and pressing Enter did nothing
    expect(page.locator("#card")).to_have_value(CARDS["P011"])
    page.locator("#notice").fill(NOTICE)
    page.locator("#notice").press("Enter")
    expect(page.get_by_test_id("devices").locator("tr", has_text="SH-FZ-0101")).to_be_visible()
    shot(page, "device-retry")
