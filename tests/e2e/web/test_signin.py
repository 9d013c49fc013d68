"""Signing in and out of the desks, in a real browser: wrong password, expiry, CSRF, roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import update

from adapter.store.tables.web import web_session
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import USERS, Site


def test_a_clerk_signs_in_lands_on_the_desk_and_signs_out(page: Page, site: Site) -> None:
    sign_in(page, site, USERS["admission"], path="/web/admission")
    expect(page).to_have_url(f"{site.base}/web/admission")
    expect(page.get_by_test_id("user")).to_contain_text("入院-测试（入院登记）")
    expect(page.get_by_role("navigation", name="工作台")).to_have_text("入院登记")
    shot(page, "admission-desk")
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("status")).to_have_text("您已退出登录。")
    page.goto(f"{site.base}/web/admission")
    expect(page).to_have_url(f"{site.base}/web/login?next=%2Fweb%2Fadmission")


def test_a_wrong_password_is_refused_in_chinese(page: Page, site: Site) -> None:
    sign_in(page, site, USERS["billing"], password="not-the-password")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误，或该用户已停用。")
    expect(page.get_by_test_id("user")).to_have_count(0)
    shot(page, "wrong-password")
    sign_in(page, site, "无此用户")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误，或该用户已停用。")


def test_an_expired_session_sends_the_clerk_back_to_sign_in(page: Page, site: Site) -> None:
    sign_in(page, site, USERS["admission"], path="/web/admission")
    expect(page.locator("#card")).to_be_focused()
    with site.engine.begin() as connection:  # the shift ended: idle time has run out
        connection.execute(
            update(web_session).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    page.reload()
    expect(page.get_by_role("status")).to_have_text("登录已超时，请重新登录。")
    shot(page, "expired")
    page.get_by_label("用户名").fill(USERS["admission"])
    page.get_by_label("密码").fill("correct-horse-7")
    page.get_by_label("密码").press("Enter")
    expect(page).to_have_url(f"{site.base}/web/admission")  # back where the clerk was


def test_a_form_without_its_csrf_token_is_refused(page: Page, site: Site) -> None:
    sign_in(page, site, USERS["admission"], path="/web/admission")
    expect(page.locator("#card")).to_be_visible()
    forged = page.request.post(
        f"{site.base}/web/admission/check", form={"card": "310100A0001", "csrf_token": "forged"}
    )
    assert forged.status == 403
    assert "CSRF 校验未通过" in forged.text()
    missing = page.request.post(f"{site.base}/web/admission/check", form={"card": "310100A0001"})
    assert missing.status == 403
    # The page's own token passes: the same request through the form works.
    page.evaluate("document.querySelector('#card-form input[name=csrf_token]').value = 'tampered'")
    page.locator("#card").fill("310100A0001")
    page.locator("#card").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("CSRF 校验未通过")
    shot(page, "csrf-refused")
    logout = page.request.post(f"{site.base}/web/logout", form={"csrf_token": "forged"})
    assert logout.status == 403  # not even sign-out is forgeable


def test_an_admission_clerk_cannot_open_the_billing_desk(page: Page, site: Site) -> None:
    sign_in(page, site, USERS["admission"])
    expect(page.get_by_role("navigation", name="工作台").get_by_role("link")).to_have_count(1)
    for path in ("/web/billing", "/web/monitor", "/web/device"):
        reply = page.goto(f"{site.base}{path}")
        assert reply is not None and reply.status == 403, path
        expect(page.get_by_role("alert")).to_contain_text("该页面需要以下角色之一")
    shot(page, "forbidden")
    expect(page.get_by_role("alert")).to_contain_text("您的角色：入院登记")
    # the refusal keeps the header: the clerk's own desk, and a sign-out that works
    expect(page.get_by_role("navigation", name="工作台").get_by_role("link")).to_have_text(
        ["入院登记"]
    )
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/web/login"))
