"""What a clerk typed survives a sign-in that ran out while the form was on the screen: after
signing in again the form comes back filled (marked as such, nothing sent for the clerk), and
a desk form edited and not sent asks before the page is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import ConsoleMessage, Dialog, Page, expect
from sqlalchemy import text

from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import CARDS, PASSWORD, USERS, ZONE, Site
from tests.e2e.web.stays import close_open_stay
from tests.integration.services.device_world import NAMES, NOTICE, WHEELCHAIR
from tests.support.polling import eventually
from tests.support.uploads import queue_admission

RESTORED = "已恢复您登录过期前填写的内容，请核对后重新提交"


def _expire_sessions(site: Site, name: str) -> None:
    """What the idle timeout does to the user's sessions."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    with site.engine.begin() as db:
        db.execute(
            text(
                "UPDATE web_session SET expires_at = :past, absolute_expires_at = :past "
                "WHERE user_id = (SELECT id FROM web_user WHERE name = :name)"
            ),
            {"past": past, "name": name},
        )


def _sign_in_again(page: Page, name: str) -> None:
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_label("密码").press("Enter")


def _watch_errors(page: Page) -> list[str]:
    """Script errors and refused scripts (the pages' CSP) as the browser reports them."""
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", console)
    return errors


def _admission_form(page: Page, site: Site, clerk: str) -> None:
    close_open_stay(site, "P001")
    sign_in(page, site, clerk, path="/web/admission")
    page.locator("#card").fill(CARDS["P001"])
    page.locator("#card").press("Enter")
    expect(page.locator("#his_visit_id")).to_be_visible()


def test_an_admission_typed_before_the_sign_in_ran_out_is_filled_in_again_and_not_sent(
    page: Page, site: Site
) -> None:
    errors = _watch_errors(page)
    clerk = USERS["admission"]
    _admission_form(page, site, clerk)
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    visit = f"ZY-KEPT-{datetime.now(ZONE):%H%M%S%f}"
    admitted = (datetime.now(ZONE) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    diagnosis = "S62.301 左手第三掌骨骨折"
    parts = site.person_filing_parts("P001")  # 左手、右前臂
    page.locator("#his_visit_id").fill(visit)
    page.get_by_label("科室").fill("手外科")
    page.get_by_label("入院时间").fill(admitted)
    page.get_by_label("入院诊断").fill(diagnosis)
    page.get_by_label(parts[1]).uncheck()
    _expire_sessions(site, clerk)
    page.get_by_role("button", name="确认入院登记").click()
    expect(page.get_by_test_id("notice")).to_contain_text("刚才提交的操作未执行")
    kept = page.evaluate("JSON.stringify(sessionStorage)")
    assert visit in kept and csrf and csrf not in kept  # the form's token is not kept

    _sign_in_again(page, clerk)
    expect(page).to_have_url(f"{site.base}/web/admission")
    # first the card check, filled from the form that followed it: nothing sent yet
    expect(page.get_by_test_id("restored")).to_contain_text(RESTORED)
    expect(page.locator("#card")).to_have_value(CARDS["P001"])
    expect(page.locator("#his_visit_id")).to_have_count(0)
    shot(page, "check-filled")
    page.locator("#card").press("Enter")
    expect(page.locator("#his_visit_id")).to_have_value(visit)
    expect(page.get_by_label("科室")).to_have_value("手外科")
    expect(page.get_by_label("入院时间")).to_have_value(admitted)
    expect(page.get_by_label("入院诊断")).to_have_value(diagnosis)
    expect(page.get_by_label(parts[0])).to_be_checked()
    expect(page.get_by_label(parts[1])).not_to_be_checked()
    restored = page.get_by_test_id("restored")
    expect(restored).to_have_count(1)
    expect(restored).to_contain_text(RESTORED)
    shot(page, "admission-filled")
    with UnitOfWork(site.engine) as uow:
        assert uow.encounters.find_by_visit(site.runtime.settings.institution.code, visit) is None
    assert page.evaluate("sessionStorage.length") == 0  # used once, then forgotten
    assert errors == []


def test_a_fitting_typed_before_the_sign_in_ran_out_is_filled_in_again_and_not_settled(
    page: Page, site: Site
) -> None:
    errors = _watch_errors(page)
    clerk = USERS["device"]
    sign_in(page, site, clerk, path="/web/device")
    page.locator("#card").fill(CARDS["P011"])
    page.locator("#notice").fill(NOTICE)
    page.locator("#notice").press("Enter")
    arm = page.get_by_label("前臂假肢（肌电控制）实际费用")
    arm.fill("30500.00")
    page.get_by_label("其他器具1编码").fill(WHEELCHAIR)
    page.get_by_label("其他器具1名称").fill(NAMES[WHEELCHAIR])
    page.get_by_label("其他器具1实际费用").fill("880.00")
    with UnitOfWork(site.engine) as uow:
        before = len(uow.encounters.list_for_person("P011"))
    _expire_sessions(site, clerk)
    page.get_by_role("button", name="配置结算", exact=True).click()
    expect(page.get_by_test_id("notice")).to_contain_text("刚才提交的操作未执行")

    _sign_in_again(page, clerk)
    expect(page).to_have_url(f"{site.base}/web/device")
    expect(page.get_by_test_id("restored")).to_contain_text(RESTORED)
    expect(page.locator("#card")).to_have_value(CARDS["P011"])
    expect(page.locator("#notice")).to_have_value(NOTICE)
    page.locator("#notice").press("Enter")
    expect(arm).to_have_value("30500.00")
    expect(page.get_by_label("其他器具1编码")).to_have_value(WHEELCHAIR)
    expect(page.get_by_label("其他器具1名称")).to_have_value(NAMES[WHEELCHAIR])
    expect(page.get_by_label("其他器具1实际费用")).to_have_value("880.00")
    expect(page.get_by_label("其他器具2实际费用")).to_have_value("")
    expect(page.get_by_test_id("restored")).to_contain_text(RESTORED)
    shot(page, "fitting-filled")
    with UnitOfWork(site.engine) as uow:
        assert len(uow.encounters.list_for_person("P011")) == before
    assert errors == []


def test_an_edited_payload_sent_after_the_sign_in_ran_out_is_filled_in_again(
    page: Page, site: Site
) -> None:
    context = f"E-KEPT-{datetime.now(ZONE):%H%M%S%f}"
    job_id = queue_admission(
        site.runtime, context, {"mdtrt_id": context, "psn_no": "P001"},
        datetime.now(UTC) + timedelta(hours=1),
    )  # fmt: skip
    eventually(lambda: _dead(site, job_id))
    worker = USERS["it"]
    sign_in(page, site, worker, path="/web/monitor")
    dead = page.locator(f"form.dead-job[data-job='{job_id}']")
    box = dead.get_by_label(f"任务{job_id}的上传报文")
    edited = box.input_value().replace(context, f"{context}-FIXED")
    box.fill(edited)
    dead.get_by_label(f"任务{job_id}的重发说明").fill("补全入院时间后重发")
    _expire_sessions(site, worker)
    dead.get_by_role("button", name="重发").click()
    expect(page.get_by_test_id("notice")).to_contain_text("刚才提交的操作未执行")

    _sign_in_again(page, worker)
    expect(page).to_have_url(f"{site.base}/web/monitor")
    expect(box).to_have_value(edited)
    expect(dead.get_by_label(f"任务{job_id}的重发说明")).to_have_value("补全入院时间后重发")
    expect(page.get_by_test_id("restored")).to_contain_text(RESTORED)
    assert _dead(site, job_id)  # not re-sent


def _dead(site: Site, job_id: int) -> bool:
    return any(j.id == job_id for j in site.runtime.queue.list_jobs(status="dead", limit=1000))


def test_another_clerk_signing_in_at_the_tab_does_not_get_the_form(page: Page, site: Site) -> None:
    clerk = USERS["admission"]
    _admission_form(page, site, clerk)
    visit = f"ZY-OTHER-{datetime.now(ZONE):%H%M%S%f}"
    page.locator("#his_visit_id").fill(visit)
    _expire_sessions(site, clerk)
    page.get_by_role("button", name="确认入院登记").click()
    expect(page.get_by_test_id("notice")).to_contain_text("刚才提交的操作未执行")
    _sign_in_again(page, USERS["it"])  # not an admission clerk: the page is refused
    expect(page.get_by_test_id("user")).to_contain_text(USERS["it"])
    assert page.evaluate("sessionStorage.length") == 0
    page.get_by_role("button", name="退出登录").click()
    sign_in(page, site, clerk, path="/web/admission")
    expect(page.locator("#card")).to_be_visible()
    expect(page.get_by_test_id("restored")).to_have_count(0)
    expect(page.locator("#card")).to_have_value("")


def _dialogs(page: Page) -> list[str]:
    seen: list[str] = []

    def answer(dialog: Dialog) -> None:
        seen.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    return seen


def test_leaving_an_edited_admission_form_asks_first(page: Page, site: Site) -> None:
    _admission_form(page, site, USERS["admission"])
    seen = _dialogs(page)
    page.locator("#his_visit_id").press_sequentially("ZY-HALF")  # typed: the page was used
    with page.expect_event("dialog"):
        page.get_by_role("link", name="工伤保险跨省异地就医直接结算").click()
    assert seen == ["beforeunload"]
    expect(page.locator("#his_visit_id")).to_have_value("ZY-HALF")  # still here, as typed
    shot(page, "stayed")


def test_leaving_an_untouched_form_or_a_search_does_not_ask(page: Page, site: Site) -> None:
    close_open_stay(site, "P001")
    sign_in(page, site, USERS["admission"], path="/web/admission")
    seen = _dialogs(page)
    page.locator("#card").press_sequentially("310100")  # the card check is a search
    page.get_by_label("筛选住院号").press_sequentially("ZY")
    page.get_by_role("link", name="工伤保险跨省异地就医直接结算").click()
    expect(page).to_have_url(f"{site.base}/web/")
    page.goto(f"{site.base}/web/admission")
    page.locator("#card").press_sequentially(CARDS["P001"])
    page.locator("#card").press("Enter")
    page.locator("#his_visit_id").click()  # the form is used, nothing typed into it
    page.get_by_role("link", name="工伤保险跨省异地就医直接结算").click()
    expect(page).to_have_url(f"{site.base}/web/")
    assert seen == []


def test_sending_an_edited_form_does_not_ask(page: Page, site: Site) -> None:
    _admission_form(page, site, USERS["admission"])
    seen = _dialogs(page)
    page.locator("#his_visit_id").press_sequentially("Z" * 65)  # refused: nothing admitted
    page.get_by_role("button", name="确认入院登记").click()
    expect(page.get_by_test_id("error")).to_contain_text("HIS 住院号最长64个字符")
    assert seen == []
