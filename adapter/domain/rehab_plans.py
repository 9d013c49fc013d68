"""A rehab plan's (康复方案) content, checked wherever it comes from — the API, the billing
desk's form — before it is stored and queued for upstream (N§33, B§32).

The bounds are the API's (:class:`adapter.api.routes.encounter_bodies.RehabPlanIn`); the
desk's form is parsed into the same shape and must not go around them. The expected days
bound the upload's deadline (:func:`adapter.services.rehab.plan_deadline`); no source names a
longest rehab stay, so the bound is a sanity one: ten years.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.domain.errors import InvalidMessage
from adapter.domain.text import MAX_REHAB_ITEMS, control_character, control_message

MAX_GOALS = 2000
MAX_ITEM_CODE = 64
MAX_ITEM_NAME = 200
MAX_FREQUENCY = 64
MAX_EXPECTED_DAYS = 3650


def _refuse(message: str, field: str) -> InvalidMessage:
    return InvalidMessage(message + "（N§33、B§32）", field=field, code="REHAB_PLAN_INVALID")


def _text(value: Any, label: str, field: str, longest: int, *, free: bool = False) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if len(text) > longest:
        raise _refuse(f"{label}最长{longest}个字符（现为{len(text)}个），请精简后重新提交", field)
    char = control_character(text, free_text=free)
    if char is not None:
        raise _refuse(control_message(label, char, free_text=free), field)
    return text


def check_plan(plan: Mapping[str, Any]) -> None:
    """Refuse a plan the API would refuse, or that says nothing: blank goals, no items, an
    item without a code, expected days outside 1–3650, a control character anywhere."""
    if not _text(plan.get("goals"), "康复目标", "goals", MAX_GOALS, free=True).strip():
        raise _refuse("康复方案须填写康复目标", "goals")
    items = plan.get("items")
    if not isinstance(items, list) or not items:
        raise _refuse("康复方案须至少包含一个康复项目", "items")
    if len(items) > MAX_REHAB_ITEMS:
        raise _refuse(
            f"康复项目最多{MAX_REHAB_ITEMS}个（现为{len(items)}个），请合并或精简后重新提交",
            "items",
        )
    for index, item in enumerate(items):
        where = f"items.{index}"
        if not isinstance(item, Mapping):
            raise _refuse(f"第{index + 1}个康复项目格式错误", where)
        label = f"第{index + 1}个康复项目的"
        code = _text(item.get("item_code"), label + "项目编码", f"{where}.item_code", MAX_ITEM_CODE)
        if not code.strip():
            raise _refuse(f"第{index + 1}个康复项目须填写项目编码", f"{where}.item_code")
        _text(item.get("item_name"), label + "名称", f"{where}.item_name", MAX_ITEM_NAME)
        _text(item.get("frequency"), label + "频次", f"{where}.frequency", MAX_FREQUENCY)
        sessions = item.get("sessions")
        if sessions is not None and (
            isinstance(sessions, bool) or not isinstance(sessions, int) or sessions < 0
        ):
            raise _refuse(f"第{index + 1}个康复项目的次数须为不小于0的整数", f"{where}.sessions")
    _text(plan.get("frequency"), "频次", "frequency", MAX_FREQUENCY)
    days = plan.get("expected_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPECTED_DAYS:
        raise _refuse(f"预计天数须为1至{MAX_EXPECTED_DAYS}天的整数", "expected_days")
