"""What the simulator does for each transaction of the reference dialect.

The envelope every request carries is checked here (:func:`check_envelope`), each ``infno`` is
routed to its handler (:data:`HANDLERS`: reads in :mod:`connectors.upstream.simulator.reads`,
writes and the inputs they insist on in :mod:`connectors.upstream.simulator.writes`), and the
answer is wrapped in the reply envelope (:func:`reply`). A handler that breaks a rule raises
:class:`~connectors.upstream.simulator.checks.Refused`: ``infcode -1`` with its ``err_msg``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from connectors.upstream.simulator.checks import Refused
from connectors.upstream.simulator.reads import (
    catalogue,
    deductions,
    institution,
    query_filings,
    query_person,
    reconciliation,
    sign_in,
    verify_ecard,
)
from connectors.upstream.simulator.state import SimState
from connectors.upstream.simulator.writes import (
    confirm_funds,
    device_settlement,
    discharge,
    register_admission,
    rehab_plan,
    reversal,
    revoke_admission,
    revoke_settlement,
)

ENVELOPE_FIELDS = ("infno", "msgid", "mdtrtarea_admvs", "recer_sys_code", "infver", "opter_type",
                   "opter", "inf_time", "fixmedins_code", "sign_no", "input")  # fmt: skip
SIGN_EXPIRED = "签到信息已失效，请重新签到（sign_no expired）"
MSGID_PATTERN = re.compile(r"^[A-Z0-9]{12}\d{14}\d{4}$")

__all__ = [
    "ENVELOPE_FIELDS",
    "HANDLERS",
    "MSGID_PATTERN",
    "SIGN_EXPIRED",
    "Handler",
    "check_envelope",
    "institution_may_write",
    "reply",
]


def check_envelope(envelope: Any, infno: str) -> dict[str, Any]:
    if not isinstance(envelope, dict):
        raise Refused("报文格式错误：请求体不是 JSON 对象")
    missing = [f for f in ENVELOPE_FIELDS if f not in envelope]
    if missing:
        raise Refused(f"报文格式错误：缺少字段 {', '.join(missing)}")
    if envelope["infno"] != infno:
        raise Refused(f"报文格式错误：交易编号 {envelope['infno']} 与地址 {infno} 不符")
    if not isinstance(envelope["msgid"], str) or not MSGID_PATTERN.match(envelope["msgid"]):
        raise Refused("报文格式错误：msgid 须为 30 位（机构编码12位+时间14位+顺序号4位）")
    if not isinstance(envelope["input"], dict):
        raise Refused("报文格式错误：input 须为对象")
    return envelope


Handler = Callable[[SimState, dict[str, Any]], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    "WI9001": sign_in,
    "WI1101": query_person,
    "WI1102": verify_ecard,
    "WI1201": query_filings,
    "WI1301": institution,
    "WI1401": catalogue,
    "WI3201": reconciliation,
    "WI3202": deductions,
    "WI2401": register_admission,
    "WI2404": revoke_admission,
    "WI2501": rehab_plan,
    "WI2301": discharge,
    "WI2305": revoke_settlement,
    "WI2601": reversal,
    "WI2701": device_settlement,
    "WI3301": confirm_funds,
}


def institution_may_write(state: SimState, code: str) -> None:
    found = state.find("institutions", fixmedins_code=code)
    if not found:
        raise Refused(f"机构 {code} 不是工伤保险协议机构")
    if found[0].get("direct_settlement") != "enabled":
        status = found[0]["direct_settlement"]
        raise Refused(f"机构 {code} 未开通工伤保险跨省异地就医直接结算（状态：{status}）")


def reply(state: SimState, output: dict[str, Any], err_msg: str = "") -> dict[str, Any]:
    now = state.clock.now()
    return {
        "infcode": -1 if err_msg else 0,
        "inf_refmsgid": state.next_ref(),
        "refmsg_time": f"{now - timedelta(milliseconds=1):%Y-%m-%d %H:%M:%S}",
        "respond_time": f"{now:%Y-%m-%d %H:%M:%S}",
        "err_msg": err_msg,
        "output": output,
    }
