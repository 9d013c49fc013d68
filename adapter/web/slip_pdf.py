"""The slip as a PDF with an embedded Chinese font (fpdf2, TrueType outlines, subset).

The font is a TrueType-outline CJK font (CFF-based OpenType such as Noto CJK cannot be
subset by fpdf2 and would be dropped). It is found, in order: the path given to
:func:`adapter.web.install` (``font_path``), the ``ADAPTER_SLIP_FONT`` environment variable,
then :data:`WELL_KNOWN_FONTS`. None found → :class:`SlipFontMissing` naming what to install.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import TableBordersLayout
from fpdf.fonts import FontFace

from adapter.domain.errors import AdapterError
from adapter.web.render import money, price, quantity, region
from adapter.web.slip import Slip

FONT_ENV = "ADAPTER_SLIP_FONT"
# the Debian/Ubuntu package of the first well-known font; the Makefile, the Dockerfile and the
# operations guide install this one
FONT_PACKAGE = "fonts-wqy-zenhei"
WELL_KNOWN_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian/Ubuntu: fonts-wqy-zenhei
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",  # Fedora/RHEL: wqy-zenhei-fonts
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/simsun.ttc",
)
LINE_COLUMNS = ("费用类别", "项目名称", "单位", "单价", "数量", "金额", "基金支付", "个人自付",
                "目录内/外", "个人自付原因")  # fmt: skip
LINE_WIDTHS = (14, 34, 9, 15, 11, 16, 16, 16, 13, 46)
LINE_ALIGN = ("LEFT", "LEFT", "LEFT", *("RIGHT",) * 5, "LEFT", "LEFT")
DEVICE_COLUMNS = ("器具编码", "器具名称", "行数", "合计金额", "最高支付限额", "基金支付",
                  "个人自付", "个人自付原因")  # fmt: skip
DEVICE_WIDTHS = (20, 34, 10, 18, 20, 18, 18, 52)
DEVICE_ALIGN = ("LEFT", "LEFT", *("RIGHT",) * 5, "LEFT")


class SlipFontMissing(AdapterError):
    code = "SLIP_FONT_MISSING"


def find_font(configured: str | None = None) -> Path:
    candidates: list[str] = [c for c in (configured, os.environ.get(FONT_ENV)) if c]
    for candidate in candidates:
        if not Path(candidate).is_file():
            raise SlipFontMissing(
                f"结算单字体文件不存在：{candidate}（设置 [web] slip_font 或 {FONT_ENV}）；"
                f"请安装 {FONT_PACKAGE}（apt-get install {FONT_PACKAGE}）或改正路径"
            )
    for candidate in (*candidates, *WELL_KNOWN_FONTS):
        if Path(candidate).is_file():
            return Path(candidate)
    raise SlipFontMissing(
        f"未找到可嵌入 PDF 的中文字体：请安装 {FONT_PACKAGE}（apt-get install {FONT_PACKAGE}），"
        f"或用环境变量 {FONT_ENV} 指定 TrueType 中文字体文件（.ttf/.ttc）"
    )


class _Pdf(FPDF):
    def __init__(self, font: Path, footer_text: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self._footer_text = footer_text
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(10, 10, 10)
        if font.suffix.lower() == ".ttc":  # a collection: its first face
            self.add_font("cjk", fname=str(font), collection_font_number=0)
        else:
            self.add_font("cjk", fname=str(font))
        self.set_font("cjk", size=9)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("cjk", size=7)
        self.cell(0, 4, f"{self._footer_text}　第 {self.page_no()} 页", align="C")


def _rows(pdf: FPDF, rows: Sequence[Sequence[str]], widths: Sequence[int], *, head: bool,
          align: Sequence[str] | None = None) -> None:  # fmt: skip
    with pdf.table(
        col_widths=widths,
        first_row_as_headings=head,
        line_height=4.6,
        text_align=tuple(align) if align else "LEFT",
        borders_layout=TableBordersLayout.ALL,
        padding=0.8,
        headings_style=FontFace(emphasis="", fill_color=(235, 235, 235)),
    ) as table:
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(value)


LINE_HEIGHT, PADDING = 4.6, 0.8  # the line table's, as :func:`_rows` lays out the others
HEADING_FILL = 235


def _line_table(pdf: FPDF, rows: Sequence[Sequence[str]], widths: Sequence[int],
                align: Sequence[str]) -> None:  # fmt: skip
    """The lines table, drawn row by row: bordered cells, the heading row shaded and repeated
    at the top of every page, long text wrapped within its column, as :func:`_rows` draws.

    fpdf2's table lays out every cell twice through ``multi_cell`` (about 0.2 ms a cell):
    a 90-day stay's 10,000 lines took minutes. Here a cell's text is measured once (a repeated
    text, such as a category or a reason, is measured once per slip) and only text wider than
    its column is wrapped by fpdf2.
    """
    lines_of: dict[tuple[str, int], list[str]] = {}

    def lines(text: str, width: int) -> list[str]:
        found = lines_of.get((text, width))
        if found is None:
            if pdf.get_string_width(text) <= width - 2 * PADDING:
                found = [text]
            else:
                # multi_cell keeps its cell margin on either side; the table has only padding
                wrapped = cast(list[str], pdf.multi_cell(  # output="LINES": the lines
                    width - 2 * PADDING + 2 * pdf.c_margin, LINE_HEIGHT, text, dry_run=True,
                    output="LINES"))  # fmt: skip
                found = [str(line) for line in wrapped] or [""]
            lines_of[(text, width)] = found
        return found

    def draw(values: Sequence[str], heading: bool) -> None:
        cells = [lines(value, width) for value, width in zip(values, widths, strict=True)]
        height = max(len(c) for c in cells) * LINE_HEIGHT + 2 * PADDING
        if pdf.y + height > pdf.page_break_trigger and not heading:
            pdf.add_page()
            draw(rows[0], True)
        x, y = pdf.l_margin, pdf.y
        rise = LINE_HEIGHT / 2 + 0.3 * pdf.font_size  # baseline below a text line's top
        for text_lines, width, side in zip(cells, widths, align, strict=True):
            pdf.rect(x, y, width, height, style="DF" if heading else "D")
            top = y + (height - len(text_lines) * LINE_HEIGHT) / 2
            for number, text in enumerate(text_lines):
                if text:
                    left = x + PADDING
                    if side == "RIGHT":
                        left = x + width - PADDING - pdf.get_string_width(text)
                    pdf.text(left, top + number * LINE_HEIGHT + rise, text)
            x += width
        pdf.set_xy(pdf.l_margin, y + height)

    pdf.set_fill_color(HEADING_FILL)
    draw(rows[0], True)
    for values in rows[1:]:
        draw(values, False)
    pdf.set_fill_color(255)


def _line_rows(slip: Slip) -> list[list[str]]:
    rows = [list(LINE_COLUMNS)]
    for x in slip.lines:
        rows.append(
            [x.category, x.name, x.unit, price(x.unit_price), quantity(x.quantity),
             money(x.amount), money(x.fund_pay), money(x.personal_pay), x.catalogue_label,
             x.reason]
        )  # fmt: skip
    for c in slip.by_category:
        subtotal = [money(c.total), money(c.fund_pay), money(c.personal_pay)]
        rows.append([f"{c.category}小计", "", "", "", "", *subtotal, "", ""])
    return rows


def _device_rows(slip: Slip) -> list[list[str]]:
    rows = [list(DEVICE_COLUMNS)]
    for d in slip.devices:
        limit = money(d.limit) if d.limit is not None else "—"
        rows.append(
            [d.device_code, d.device_name, str(d.lines), money(d.amount), limit,
             money(d.fund_pay), money(d.personal_pay), d.reason]
        )  # fmt: skip
    return rows


def render_pdf(slip: Slip, font: Path, zone: ZoneInfo, printed_at: datetime) -> bytes:
    """The slip as PDF bytes; times shown in ``zone`` (the institution's)."""
    settled = slip.settled_at.astimezone(zone)
    printed_at = printed_at.astimezone(zone)
    pdf = _Pdf(font, f"{slip.title} {slip.slip_no}")
    pdf.add_page()
    pdf.set_font("cjk", size=15)
    pdf.cell(0, 9, slip.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    if slip.status.value == "revoked":
        pdf.set_text_color(180, 0, 0)
        pdf.cell(0, 6, f"本结算已撤销（{slip.revoke_reason}），此单作废", align="C",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        pdf.set_text_color(0, 0, 0)
    pdf.cell(
        0,
        6,
        f"结算单号：{slip.slip_no}　　结算时间：{settled:%Y-%m-%d %H:%M}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    at = "配置日期" if slip.is_device else "入院日期"
    to = "结算日期" if slip.is_device else "出院日期"
    institution = f"{slip.institution_name}（{slip.institution_code}）"
    head = [
        ["协议机构", institution, "就诊类别", slip.kind_label],
        ["姓名", slip.name, "性别", slip.gender],
        ["公民身份号码", slip.citizen_id, "人员编号", slip.psn_no],
        ["参保地", region(slip.insured_admdvs), "就医地", region(slip.treatment_admdvs)],
        ["备案编号", slip.filing_no, "人员类别", slip.person_category],
        [at, str(slip.admitted_on), to, str(slip.discharged_on)],
        ["住院号", slip.his_visit_id, "科室", slip.department],
        ["诊断", "；".join(slip.diagnoses), "受伤部位", "、".join(slip.injury_parts)],
    ]
    if slip.device_notice_no:
        head.append(["核付通知单", slip.device_notice_no, "", ""])
    _rows(pdf, head, (28, 67, 28, 67), head=False)
    pdf.ln(2)
    pdf.cell(0, 6, "费用合计（元）", new_x="LMARGIN", new_y="NEXT")
    t = slip.totals
    _rows(
        pdf,
        [
            ["医疗费用总额", "基金支付", "个人支付", "其中：目录外", "超标准/超限额", "非工伤"],
            [
                money(t.total),
                money(t.fund_pay),
                money(t.personal_pay),
                money(t.out_of_catalogue),
                money(t.over_limit),
                money(t.non_work_injury),
            ],
        ],
        (32, 32, 32, 32, 31, 31),
        head=True,
        align=("RIGHT",) * 6,
    )
    if slip.out_of_catalogue_parts:
        parts = "；".join(
            f"{label} {money(amount)}元" for label, amount in slip.out_of_catalogue_parts
        )
        pdf.multi_cell(0, 5, f"目录外（个人支付）其中：{parts}", new_x="LMARGIN", new_y="NEXT")
    if slip.devices:
        pdf.ln(2)
        pdf.cell(0, 6, "辅助器具汇总（每件器具本次配置按一个最高支付限额计算）",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        pdf.set_font("cjk", size=7.5)
        _rows(pdf, _device_rows(slip), DEVICE_WIDTHS, head=True, align=DEVICE_ALIGN)
        pdf.set_font("cjk", size=9)
    pdf.ln(2)
    pdf.cell(0, 6, "费用明细", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=7.5)
    _line_table(pdf, _line_rows(slip), LINE_WIDTHS, LINE_ALIGN)
    if slip.excluded:
        pdf.set_font("cjk", size=9)
        pdf.ln(2)
        pdf.cell(0, 6, "不纳入直接结算的费用", new_x="LMARGIN", new_y="NEXT")
        rows = [["费用类别", "项目名称", "数量", "金额"]] + [
            [x.category, x.name, quantity(x.quantity), money(x.amount)] for x in slip.excluded
        ]
        _rows(pdf, rows, (40, 90, 30, 30), head=True)
    pdf.set_font("cjk", size=8)
    pdf.ln(2)
    for note in (*slip.notes, f"说明：{slip.excluded_note}"):
        pdf.multi_cell(0, 4.5, note, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 7, f"经办人：{slip.operator}　　打印时间：{printed_at:%Y-%m-%d %H:%M}",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(8)
    pdf.cell(0, 7, slip.signature, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
