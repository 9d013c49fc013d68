"""The settlement slip: the printable page (A4 and 80 mm) and the PDF with its Chinese font."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import httpx
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import USERS, ZONE, Site
from tests.e2e.web.stays import admit_with_fees, settle_by_api


def _settled(site: Site) -> str:
    visit = f"ZY-SLIP-{datetime.now(ZONE):%H%M%S%f}"
    return str(settle_by_api(site, admit_with_fees(site, visit, own_day=True))["id"])


def test_the_slip_page_shows_the_settlement_to_the_fen(page: Page, site: Site) -> None:
    settlement_id = _settled(site)
    with UnitOfWork(site.engine) as uow:
        settlement = uow.settlements.get(settlement_id)
    b = settlement.breakdown
    assert b.fund_pay + b.personal_pay == b.total
    sign_in(page, site, USERS["billing"], path=f"/api/v1/settlements/{settlement_id}/slip")
    slip = page.get_by_test_id("slip")
    expect(slip.locator("h1")).to_have_text("工伤保险跨省异地就医结算单")
    expect(page.get_by_test_id("slip-no")).to_have_text(settlement.slip_no)
    shown = {k: Decimal(page.get_by_test_id(k).inner_text()) for k in ("total", "fund", "personal")}
    assert shown == {"total": b.total, "fund": b.fund_pay, "personal": b.personal_pay}
    assert shown["fund"] + shown["personal"] == shown["total"]
    certno = site.person("P001")["certno"]
    expect(page.get_by_test_id("citizen-id")).to_have_text(certno[:6] + "********" + certno[-4:])
    assert certno not in page.content()
    lines = page.get_by_test_id("lines")
    headers = lines.locator("thead th").all_inner_texts()
    assert headers == ["费用类别", "项目名称", "单位", "单价", "数量", "金额", "基金支付",
                       "个人自付", "目录内/目录外", "个人自付原因"]  # fmt: skip
    over = lines.locator("tbody tr", has_text="床位费")
    expect(over).to_contain_text("超出住院服务标准")
    expect(over).to_contain_text("N§32, N§37, B§30")
    expect(lines.locator("tbody tr", has_text="进口止痛贴")).to_contain_text("目录外")
    expect(lines.locator("tbody tr", has_text="塞来昔布")).to_contain_text("非工伤")
    expect(page.get_by_test_id("excluded-note")).to_contain_text("由工伤职工持相关材料回参保地")
    expect(slip).to_contain_text("签字")
    expect(page.locator("#print")).to_be_focused()
    shot(page, "slip-a4")
    page.emulate_media(media="print")
    expect(page.locator("nav.no-print")).to_be_hidden()
    page.emulate_media(media="screen")
    page.get_by_role("link", name="80mm 小票").click()
    expect(page.locator("body.receipt")).to_be_visible()
    page.wait_for_load_state("load")
    page.wait_for_function("document.body.getBoundingClientRect().width < 320")  # 74 mm
    shot(page, "slip-receipt")


def test_the_slip_pdf_embeds_a_chinese_font_and_its_text_is_extractable(site: Site) -> None:
    settlement_id = _settled(site)
    with UnitOfWork(site.engine) as uow:
        settlement = uow.settlements.get(settlement_id)
    reply = httpx.get(
        f"{site.base}/api/v1/settlements/{settlement_id}/slip",
        headers={
            "Authorization": f"Bearer {site.tokens['admission']}",
            "Accept": "application/pdf",
        },
    )
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(reply.content))
    text = "".join(p.extract_text() for p in reader.pages)
    flat = text.replace(" ", "").replace("\n", "")
    for words in ("工伤保险跨省异地就医结算单", settlement.slip_no, "王建国", "基金支付",
                  "目录外", "住院伙食补助费", "签字"):  # fmt: skip
        assert words in flat, words
    b = settlement.breakdown
    for amount in (b.total, b.fund_pay, b.personal_pay):
        assert str(amount) in flat
    assert site.person("P001")["certno"] not in flat
    fonts = [font.get_object() for p in reader.pages for font in p["/Resources"]["/Font"].values()]
    embedded = [
        f["/BaseFont"]
        for f in fonts
        if f["/Subtype"] == "/Type0"
        and "/FontFile2" in f["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    ]
    assert embedded and all("WenQuanYi" in str(name) for name in embedded), embedded


def test_the_slip_is_negotiated_and_needs_a_caller(site: Site) -> None:
    settlement_id = _settled(site)
    url = f"{site.base}/api/v1/settlements/{settlement_id}/slip"
    token = {"Authorization": f"Bearer {site.tokens['it']}"}
    html = httpx.get(url, headers={**token, "Accept": "text/html"})
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert "工伤保险跨省异地就医结算单" in html.text
    pdf = httpx.get(url, headers={**token, "Accept": "text/html;q=0.5, application/pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    assert httpx.get(url, headers={**token, "Accept": "image/png"}).status_code == 406
    assert httpx.get(url, headers={"Accept": "application/pdf"}).status_code == 401
    # Before, a stranger asking for JSON was told 406 (the formats) before being asked who
    # they were, and curl's */* was redirected to the desks' sign-in page.
    for accept in ("application/json", "*/*"):
        stranger = httpx.get(url, headers={"Accept": accept})
        assert stranger.status_code == 401, (accept, stranger.status_code)
        assert "访问令牌" in stranger.json()["detail"] or "访问令牌" in stranger.text
    browser = httpx.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 303 and "/login" in browser.headers["location"]
    assert httpx.get(f"{site.base}/api/v1/settlements/NOPE/slip", headers=token).status_code == 404
