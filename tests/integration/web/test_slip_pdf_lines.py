"""The PDF slip of a long stay: every line on it once, in order, over many pages, each page of
the lines table under its heading, long reasons wrapped whole (the lines table is drawn by
``adapter.web.slip_pdf._line_table``, not fpdf2's table)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from adapter.domain.settlement import Breakdown, CategoryTotal, SettlementStatus
from adapter.web.slip import Slip, SlipLine
from adapter.web.slip_pdf import find_font, render_pdf

ZONE = ZoneInfo("Asia/Shanghai")
REASON = "超出住院服务标准（70.00元/日）的部分基金不予支付，由个人支付（N§32, N§37, B§30）"


def _slip(count: int) -> Slip:
    lines = tuple(
        SlipLine(
            category="住院服务费" if n % 3 == 0 else "药品费",
            name=f"项目{n:04d}",
            unit="日",
            unit_price=Decimal("90.00"),
            quantity=Decimal(1),
            amount=Decimal("90.00"),
            fund_pay=Decimal("70.00") if n % 3 == 0 else Decimal("90.00"),
            personal_pay=Decimal("20.00") if n % 3 == 0 else Decimal("0.00"),
            in_catalogue=True,
            reason=REASON if n % 3 == 0 else "",
        )
        for n in range(count)
    )
    total = Decimal("90.00") * count
    personal = sum((x.personal_pay for x in lines), Decimal("0.00"))
    return Slip(
        settlement_id="S1", slip_no="GS202612020001", status=SettlementStatus.SETTLED,
        revoked_at=None, revoke_reason="", institution_name="北京市第一医院",
        institution_code="H11010000001", treatment_admdvs="110100", name="张三", gender="男",
        citizen_id="110101********1234", psn_no="P1", insured_admdvs="310100",
        filing_no="F1", person_category="在职", filing_valid="2026-01-01 至 2026-12-31",
        kind_label="住院", his_visit_id="Z1", department="骨科",
        admitted_on=date(2026, 9, 1), discharged_on=date(2026, 12, 1),
        diagnoses=("S62.301 左手第三掌骨骨折",), injury_parts=("左手",),
        totals=Breakdown(total, total - personal, personal, Decimal("0.00"), personal,
                         Decimal("0.00")),
        by_category=(CategoryTotal("住院服务费", total, total - personal, personal),),
        lines=lines, excluded=(), notes=(), operator="收费员甲",
        settled_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
    )  # fmt: skip


def test_a_long_stays_pdf_slip_lists_every_line_once_in_order_under_a_heading_per_page() -> None:
    count = 400
    pdf = render_pdf(_slip(count), find_font(), ZONE, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))

    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) > 5
    names = re.findall(r"项目\d{4}", "".join(pages))
    assert names == [f"项目{n:04d}" for n in range(count)]
    for text in pages[1:]:  # a page break repeats the heading above the lines it carries
        first_line = re.search(r"项目\d{4}", text)
        if first_line is not None:
            assert "个人自付原因" in text[: first_line.start()]
    flat = re.sub(r"\s", "", "".join(pages))
    assert flat.count(re.sub(r"\s", "", REASON)) == len(range(0, count, 3))  # wrapped, whole
    assert "住院服务费小计" in flat  # the subtotal rows close the table
