"""The 80 mm receipt as a thermal printer prints it, in Chromium at 80 mm wide: one block per
fee line with its labels and amounts, totals that fit 48 columns on one line each."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from adapter.store.uow import UnitOfWork
from adapter.web.render import money
from tests.e2e.web.conftest import Shots, report, sign_in
from tests.e2e.web.site import USERS, ZONE, Site
from tests.e2e.web.stays import admit_with_fees, settle_by_api

MM = 96 / 25.4  # CSS pixels per millimetre
LINE_LABELS = ("数量", "单价", "金额", "基金支付", "个人自付", "支付方")


def columns(text: str) -> int:
    """Columns a thermal printer gives ``text``: two for a wide (Chinese) character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_the_receipt_prints_each_fee_line_as_a_labelled_block_at_80mm(
    browser: Browser,
    site: Site,
    screens: Path,
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> None:
    visit = f"ZY-RCPT-{datetime.now(ZONE):%H%M%S%f}"
    settlement_id = str(settle_by_api(site, admit_with_fees(site, visit, own_day=True))["id"])
    with UnitOfWork(site.engine) as uow:
        settlement = uow.settlements.get(settlement_id)
    priced = settlement.bill.lines
    width = round(80 * MM)
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        path = f"/api/v1/settlements/{settlement_id}/slip?layout=receipt"
        sign_in(page, site, USERS["billing"], path=path)
        expect(page.locator("body.receipt")).to_be_visible()
        page.wait_for_load_state("load")
        body = page.locator("body").bounding_box()
        assert body is not None and body["width"] <= 72 * MM + 1  # the printable 72 mm

        blocks = page.get_by_test_id("receipt-line")
        expect(blocks).to_have_count(len(priced))
        for block, line in zip(blocks.all(), priced, strict=True):
            text = block.inner_text()
            for label in LINE_LABELS:
                assert label in text, (label, text)
            name = line.line.item_name or line.line.item_code
            expect(block.locator(".name")).to_contain_text(name)
            shown = {
                f: Decimal(block.locator(f"[data-field={f}]").inner_text())
                for f in ("amount", "fund", "personal")
            }
            assert shown == {
                "amount": line.amount,
                "fund": line.fund_pay,
                "personal": line.personal_pay,
            }
            assert shown["fund"] + shown["personal"] == shown["amount"]
            quantity = Decimal(block.locator("[data-field=quantity]").inner_text())
            assert quantity == line.line.quantity
            unit_price = Decimal(block.locator("[data-field=unit-price]").inner_text())
            assert unit_price == line.line.unit_price
        bed = blocks.filter(has_text="床位费")
        expect(bed).to_contain_text("自付原因：")
        expect(bed).to_contain_text("N§32")
        expect(blocks.filter(has_text="进口止痛贴")).to_contain_text("目录外")

        totals = page.get_by_test_id("receipt-totals").locator(".row")
        expect(totals).to_have_count(6)
        b = settlement.breakdown
        texts = totals.all_inner_texts()
        assert texts[0].split() == ["医疗费用总额", money(b.total)]
        assert texts[1].split() == ["基金支付", money(b.fund_pay)]
        assert texts[2].split() == ["个人支付", money(b.personal_pay)]
        # one printed line each: the row is one line high and nothing overflows it
        line_height = page.evaluate(
            "() => parseFloat(getComputedStyle(document.querySelector("
            "'[data-testid=receipt-totals] .row')).lineHeight)"
        )
        for row in totals.all():
            box = row.bounding_box()
            assert box is not None and box["height"] <= line_height * 1.2, row.inner_text()
            assert row.evaluate("e => e.scrollWidth <= e.clientWidth"), row.inner_text()
            assert columns(" ".join(row.inner_text().split())) <= 48
        header = page.get_by_role("heading", name="费用合计（元）")
        header_box = header.bounding_box()
        assert header_box is not None and header_box["height"] <= line_height * 1.6
        # 48 columns of the receipt's font fit its printable width
        fits = page.evaluate(
            "() => { const s = document.createElement('span'); s.textContent = '0'.repeat(48);"
            " s.style.whiteSpace = 'pre'; document.querySelector('.totals').appendChild(s);"
            " const w = s.getBoundingClientRect().width; s.remove();"
            " return w <= document.body.clientWidth; }"
        )
        assert fits
        # nothing on the receipt runs past the paper's edge
        assert page.evaluate(
            "() => [...document.querySelectorAll('.slip .row, .slip p, .slip dl div')]"
            ".every(e => e.scrollWidth <= e.clientWidth + 1)"
        )
        expect(page.get_by_test_id("excluded-note")).to_contain_text("住院伙食补助费")
        shots = Shots(page, screens, request.node.name)
        shots("receipt-80mm")
        report(request, record_property, shots)
    finally:
        context.close()
