"""Catalogue import from a CSV file, for sites without a catalogue download.

The file (UTF-8, with or without BOM, or GB 18030 as Excel saves it in China) has a header
row and one item per row. Columns, by English or Chinese name:

============  ==============  =========================================================
column        also            value
============  ==============  =========================================================
code          编码            required, at most 64 characters, once per file
name          名称            required
unit          单位            optional
price_cap     支付标准        money, required of a service standard (the fund pays up to
                              it, N§32); optional for other kinds
limit         最高支付限额    optional money (device items)
valid_from    生效日期        required date ``YYYY-MM-DD``
valid_to      失效日期        optional date, not before ``valid_from``
============  ==============  =========================================================

The kind, region and version are given with the file. Every row is checked before anything
is written; any problem refuses the whole file with :class:`CatalogueFileRefused`, whose
``problems`` name the row (the header is row 1) and the column. A good file is loaded in one
transaction (items of the same kind, region, code and version are replaced).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from adapter.domain.catalogue import CatalogueItem, CatalogueKind
from adapter.domain.errors import InvalidMessage
from adapter.domain.money import is_fen
from adapter.services.context import ServiceContext
from adapter.store.repositories import CatalogueUpdate

COLUMNS = {
    "code": ("code", "编码", "项目编码"),
    "name": ("name", "名称", "项目名称"),
    "unit": ("unit", "单位"),
    "price_cap": ("price_cap", "支付标准"),
    "limit": ("limit", "最高支付限额"),
    "valid_from": ("valid_from", "生效日期"),
    "valid_to": ("valid_to", "失效日期"),
}
REQUIRED = ("code", "name", "valid_from")
SERVICE_STANDARD_CAP = "住院服务标准须填写支付标准（基金按标准支付，超出部分由个人支付，N§32）"
MAX_PROBLEMS = 50
MAX_BYTES = 20 * 1024 * 1024
# how often a long import reports: every this many rows checked or items written
PROGRESS_EVERY = 5000

# ``progress(stage, done, total)``: stage "check" counts rows read of the file's rows (its
# line count: a quoted cell spanning lines makes it an estimate, so done may stop short),
# "load" counts items written of the items to write. Called every PROGRESS_EVERY and at the
# end of each stage; the command line draws it as a progress bar.
Progress = Callable[[str, int, int], None]
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_REGION = re.compile(r"^\d{6}$")
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    row: int  # 1 is the header
    column: str
    message: str

    @property
    def text(self) -> str:
        where = f"第{self.row}行" + (f"“{self.column}”列" if self.column else "")
        return f"{where}：{self.message}"

    @property
    def field(self) -> str:
        return f"file.row{self.row}" + (f".{self.column}" if self.column else "")


class CatalogueFileRefused(InvalidMessage):
    """The file has problems; nothing was loaded. ``problems`` lists each one."""

    code = "CATALOGUE_FILE_INVALID"

    def __init__(self, problems: list[Problem]):
        self.problems = tuple(problems)
        shown = "；".join(p.text for p in problems[:5])
        more = f"等{len(problems)}处问题" if len(problems) > 5 else ""
        super().__init__(f"目录文件有误，未导入任何项目：{shown}{more}", field=problems[0].field)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CatalogueFileRefused([Problem(1, "", "文件编码无法识别，请保存为 UTF-8 或 GB18030")])


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("须为金额（例如 50.00）") from None
    if not value.is_finite() or value < 0 or not is_fen(value):
        raise ValueError("须为不小于0、精确到分的金额")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("须为日期 YYYY-MM-DD（例如 2026-01-01）") from None


def _cell(
    values: dict[str, str],
    key: str,
    convert: Callable[[str], T],
    row: int,
    problems: list[Problem],
) -> T | None:
    """The cell converted, ``None`` when empty; a problem noted when it does not convert."""
    text = values.get(key, "")
    if not text:
        return None
    try:
        return convert(text)
    except ValueError as exc:
        problems.append(Problem(row, key, str(exc)))
        return None


def parse(
    data: bytes,
    kind: CatalogueKind,
    region: str,
    version: str,
    progress: Progress | None = None,
) -> list[CatalogueItem]:
    """The file's items, or :class:`CatalogueFileRefused` listing every problem found."""
    if len(data) > MAX_BYTES:
        raise CatalogueFileRefused([Problem(1, "", "文件超过 20MB，请分批导入")])
    text = _decode(data)
    rows = max(len(text.splitlines()) - 1, 0)  # without the header
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise CatalogueFileRefused([Problem(1, "", "文件为空或缺少表头行")])
    names = {alias: key for key, aliases in COLUMNS.items() for alias in aliases}
    position: dict[str, int] = {}
    problems: list[Problem] = []
    for index, cell in enumerate(header):
        key = names.get(cell.strip().lower()) or names.get(cell.strip())
        if key is None:
            problems.append(Problem(1, cell.strip(), "不认识的列名"))
        elif key in position:
            problems.append(Problem(1, cell.strip(), "列名重复"))
        else:
            position[key] = index
    for key in REQUIRED:
        if key not in position:
            problems.append(Problem(1, key, "缺少必需的列"))
    if problems:
        raise CatalogueFileRefused(problems)
    items: list[CatalogueItem] = []
    seen: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if progress is not None and (number - 1) % PROGRESS_EVERY == 0:
            progress("check", min(number - 1, rows), rows)
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are allowed
        if len(cells) != len(header):
            problems.append(Problem(number, "", f"应有{len(header)}列，实有{len(cells)}列"))
            continue
        values = {key: cells[index].strip() for key, index in position.items()}
        row_problems: list[Problem] = []

        for key in REQUIRED:
            if not values[key]:
                row_problems.append(Problem(number, key, "不能为空"))
        code, name, unit = values["code"], values["name"], values.get("unit", "")
        if len(code) > 64:
            row_problems.append(Problem(number, "code", "编码超过64个字符"))
        if len(name) > 300:
            row_problems.append(Problem(number, "name", "名称超过300个字符"))
        if len(unit) > 32:
            row_problems.append(Problem(number, "unit", "单位超过32个字符"))
        if code and code in seen:
            row_problems.append(Problem(number, "code", f"编码{code}与第{seen[code]}行重复"))
        price_cap = _cell(values, "price_cap", _money, number, row_problems)
        if (
            price_cap is None
            and kind is CatalogueKind.SERVICE_STANDARD
            and "price_cap" not in {p.column for p in row_problems}
        ):
            # A standard with no cap would price every bed fee as the fund's in full (N§32).
            row_problems.append(Problem(number, "price_cap", SERVICE_STANDARD_CAP))
        limit = _cell(values, "limit", _money, number, row_problems)
        valid_from = _cell(values, "valid_from", _date, number, row_problems)
        valid_to = _cell(values, "valid_to", _date, number, row_problems)
        if valid_from and valid_to and valid_to < valid_from:
            row_problems.append(Problem(number, "valid_to", "失效日期早于生效日期"))
        if row_problems:
            problems += row_problems
            if len(problems) >= MAX_PROBLEMS:
                break
            continue
        seen[code] = number
        assert valid_from is not None
        items.append(
            CatalogueItem(
                kind, code, name, region, unit, price_cap, limit, version, valid_from, valid_to
            )
        )
    if progress is not None:
        progress("check", rows, rows)
    if problems:
        raise CatalogueFileRefused(problems[:MAX_PROBLEMS])
    if not items:
        raise CatalogueFileRefused([Problem(2, "", "文件没有任何目录项目")])
    return items


def check_target(kind: str, region: str, version: str) -> CatalogueKind:
    try:
        parsed = CatalogueKind(kind)
    except ValueError:
        allowed = "、".join(k.value for k in CatalogueKind)
        raise InvalidMessage(f"目录类别须为 {allowed} 之一", field="kind") from None
    if not _REGION.match(region):
        raise InvalidMessage("地区须为6位行政区划代码（例如 110100）", field="region")
    if not _VERSION.match(version):
        raise InvalidMessage(
            "版本号须为1至32位字母、数字、点、下划线或连字符（例如 2026.2）", field="version"
        )
    return parsed


class CatalogueImport:
    def __init__(self, ctx: ServiceContext):
        self._ctx = ctx

    def import_csv(
        self,
        data: bytes,
        *,
        kind: str,
        region: str,
        version: str,
        actor: str,
        progress: Progress | None = None,
    ) -> CatalogueUpdate:
        """Check the whole file, then load it in one transaction (nothing half-written);
        ``progress`` hears how far each stage is (:data:`Progress`)."""
        ctx = self._ctx
        parsed = check_target(kind, region, version)
        items = parse(data, parsed, region, version, progress)
        update = CatalogueUpdate(
            parsed.value, region, version, "import", len(items), actor, ctx.now()
        )
        with ctx.uow() as uow:
            for start in range(0, len(items), PROGRESS_EVERY):
                uow.catalogue.load(items[start : start + PROGRESS_EVERY])
                if progress is not None:
                    progress("load", min(start + PROGRESS_EVERY, len(items)), len(items))
            uow.catalogue_updates.add(update)
            uow.audit.append(
                actor=actor,
                action="catalogue.import",
                subject_type="catalogue",
                subject_id=f"{parsed.value}:{region}",
                details={"version": version, "items": len(items)},
            )
            uow.commit()
        return update
