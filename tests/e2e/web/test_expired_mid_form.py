"""A clerk's sign-in runs out while a form is on the screen (lunch, a long phone call): the
form's send is refused, the sign-in page says that nothing was done, and signing in again
leads back to the desk the clerk was working at — not to the address the form posts to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import text

from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import CARDS, PASSWORD, USERS, ZONE, Site
from tests.e2e.web.stays import close_open_stay


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


def test_a_sign_in_expired_mid_admission_says_nothing_was_done_and_leads_back_to_the_desk(
    page: Page, site: Site
) -> None:
    close_open_stay(site, "P001")
    clerk = USERS["admission"]
    sign_in(page, site, clerk, path="/web/admission")
    page.locator("#card").fill(CARDS["P001"])
    page.locator("#card").press("Enter")
    visit = f"ZY-EXPIRED-{datetime.now(ZONE):%H%M%S%f}"
    page.locator("#his_visit_id").fill(visit)
    _expire_sessions(site, clerk)
    page.get_by_role("button", name="确认入院登记").click()
    notice = page.get_by_test_id("notice")
    expect(notice).to_contain_text("登录已超时")
    # before: only "登录已超时，请重新登录。" — was the admission made or not?
    expect(notice).to_contain_text("刚才提交的操作未执行")
    shot(page, "expired")
    page.get_by_label("用户名").fill(clerk)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_label("密码").press("Enter")
    # before: /web/admission/check, "该地址不能直接打开"
    expect(page).to_have_url(f"{site.base}/web/admission")
    expect(page.locator("#card")).to_be_visible()
    with UnitOfWork(site.engine) as uow:
        assert uow.encounters.find_by_visit(site.runtime.settings.institution.code, visit) is None
