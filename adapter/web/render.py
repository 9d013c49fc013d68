"""Templates and the filters every page uses: money to the fen, local times, masks, regions.

:func:`page` renders a template with what the layout needs (the signed-in user, the CSRF
token, the navigation for the user's roles).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from adapter.api.deps import optional_settings
from adapter.domain.catalogue import CatalogueKind
from adapter.domain.fees import FeeCategory
from adapter.domain.money import to_fen
from adapter.domain.people import mask_card_no, mask_citizen_id, mask_name, mask_phone
from adapter.web.auth import session_of
from adapter.web.config import TEMPLATES, web_config
from adapter.web.navigation import nav_for

# First two digits of an administrative division code → the province-level name.
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
}  # fmt: skip


def money(value: Decimal | None) -> str:
    return "" if value is None else str(to_fen(value))


def quantity(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def price(value: Decimal | None) -> str:
    """A unit price: at least to the fen (18.25, 60.00), more places only when it has them."""
    if value is None:
        return ""
    return str(to_fen(value)) if value == to_fen(value) else quantity(value)


def region(code: str | None) -> str:
    if not code:
        return ""
    name = PROVINCES.get(code[:2])
    return f"{name}（{code}）" if name else code


def fee_category(value: str) -> str:
    """A fee category code (``drug``) as the clerk reads it (药品费)."""
    try:
        return FeeCategory(value).label
    except ValueError:
        return value


# What each upload to upstream is, for the clerk who sees its code (WI2301 → 出院结算信息).
UPLOADS = {
    "WI2401": "入院登记", "WI2404": "撤销入院登记", "WI2501": "康复方案",
    "WI2301": "出院结算信息", "WI2305": "撤销结算", "WI2601": "冲正",
    "WI2701": "辅助器具配置结算信息", "WI3301": "器具结算资金到账确认",
}  # fmt: skip


def upload_label(infno: str) -> str:
    """``WI2301`` → ``出院结算信息（WI2301）``; an unknown code as it is."""
    name = UPLOADS.get(infno)
    return f"{name}（{infno}）" if name else infno


# Who did it, when it was not a person at a desk (the scheduler, IT's command line).
ACTORS = {"system:schedule": "系统（定时任务）", "cli": "信息科（命令行）"}


def actor_label(value: str) -> str:
    """``system:schedule`` → ``系统（定时任务）``; a user's name as it is."""
    return ACTORS.get(value, value)


# What an upstream call was for, when not for a stay (its context, set by the caller).
PURPOSES = {"deductions": "审核扣款", "reconciliation": "月度对账"}
CONTEXTS = {"health": "连通检查", "demo": "演示数据"}


def call_purpose(context: str) -> str:
    """``deductions:2026-11`` → ``审核扣款 2026-11``, ``catalogue:device:310100`` →
    ``下载辅助器具目录 上海市（310100）``; a stay's key or an unknown one as it is."""
    kind, _, rest = context.partition(":")
    if kind in PURPOSES and rest:
        return f"{PURPOSES[kind]} {rest}"
    if kind == "catalogue" and rest:
        name, _, code = rest.partition(":")
        try:
            label = CatalogueKind(name).label
        except ValueError:
            return context
        return f"下载{label}目录 {region(code)}".rstrip()
    return CONTEXTS.get(context, context)


def job_error(message: str | None) -> str:
    """A queue job's recorded error without the exception's class name in front
    (``UpstreamRefused: 工伤保险信息系统拒绝了…`` → ``工伤保险信息系统拒绝了…``)."""
    return re.sub(r"^[A-Z][A-Za-z]+: ", "", message or "")


def make_templates(zone: ZoneInfo) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env

    def local(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.astimezone(zone).strftime(fmt)
        return value.strftime("%Y-%m-%d")

    env.filters.update(
        money=money,
        quantity=quantity,
        price=price,
        local=local,
        region=region,
        mask_id=mask_citizen_id,
        mask_card=mask_card_no,
        mask_name=mask_name,
        mask_phone=mask_phone,
        fee_category=fee_category,
        upload=upload_label,
        actor=actor_label,
        call_purpose=call_purpose,
        job_error=job_error,
    )
    return templates


def card_reader_url(request: Request) -> str:
    """The desk's card-reader bridge (``[cards] bridge_url``); empty when none is configured."""
    settings = optional_settings(request)
    return settings.cards.bridge_url if settings is not None else ""


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session = session_of(request)
    roles = session.user.roles if session else frozenset()
    nav = nav_for(roles)
    return web_config(request).templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "nav": nav,
            "csrf": session.csrf_token if session else "",
            "card_reader": card_reader_url(request),
            **context,
        },
        status_code=status_code,
    )
