"""What the simulator does for each transaction of the reference dialect.

Reads look up the seed. Writes are checked the way upstream would check them and refused
with ``infcode -1`` and a Chinese ``err_msg`` (:class:`Refused`) when they break a rule;
their effects are read back from the stored writes (an admission is registered while an
effective ``WI2401`` for its ``mdtrt_id`` has no effective ``WI2404``, and so on).

Write inputs the simulator insists on (anything else is kept as sent):

==========  =====================================================================
``WI2401``  ``mdtrt_id``, ``psn_no``, ``begntime``
``WI2404``  ``mdtrt_id`` of a registered admission with no settlement
``WI2501``  ``mdtrt_id`` of a registered admission
``WI2301``  ``mdtrt_id`` (registered), ``psn_no``, ``setl_id``, ``setl_time``,
            ``medfee_sumamt`` = ``fund_pay_sumamt`` + ``psn_pay`` (money strings);
            ``feedetail[].feedetl_sn`` unique; ``med_type: "rehab"`` needs a rehab plan
``WI2305``  ``setl_id`` of an effective settlement
``WI2601``  ``omsgid``, ``oinfno``
``WI2701``  ``setl_id``, ``psn_no``, ``approval_notice_no`` on the worker's device filing,
            ``setl_time`` and the three amounts as for ``WI2301``
``WI3301``  ``month`` (yyyy-mm), ``amount``
==========  =====================================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.upstream.simulator.state import SimState

ENVELOPE_FIELDS = ("infno", "msgid", "mdtrtarea_admvs", "recer_sys_code", "infver", "opter_type",
                   "opter", "inf_time", "fixmedins_code", "sign_no", "input")  # fmt: skip
WRITES = frozenset({"WI2401", "WI2404", "WI2501", "WI2301", "WI2305", "WI2601", "WI2701",
                    "WI3301"})  # fmt: skip
SIGN_EXPIRED = "签到信息已失效，请重新签到（sign_no expired）"
MSGID_PATTERN = re.compile(r"^[A-Z0-9]{12}\d{14}\d{4}$")


class Refused(Exception):
    """A business or validation refusal: ``infcode -1`` with this ``err_msg``."""

    def __init__(self, err_msg: str) -> None:
        super().__init__(err_msg)
        self.err_msg = err_msg


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


def _need(data: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if data.get(k) in (None, "", [])]
    if missing:
        raise Refused(f"入参校验失败：缺少 {', '.join(missing)}")


def _money(data: dict[str, Any], key: str) -> Decimal:
    value = data.get(key)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Refused(f"入参校验失败：{key} 不是金额（{value!r}）") from None
    if (
        isinstance(value, float)
        or not amount.is_finite()
        or amount != amount.quantize(Decimal("0.01"))
    ):
        raise Refused(f"入参校验失败：{key} 须为精确到分的金额字符串（{value!r}）")
    return amount


def _amounts(data: dict[str, Any]) -> None:
    total = _money(data, "medfee_sumamt")
    fund = _money(data, "fund_pay_sumamt")
    personal = _money(data, "psn_pay")
    if fund + personal != total:
        raise Refused(f"结算金额不平：基金支付 {fund} + 个人支付 {personal} ≠ 总费用 {total}")


def _person(state: SimState, psn_no: str) -> dict[str, Any]:
    found = state.find("people", psn_no=psn_no)
    if not found:
        raise Refused(f"人员编号 {psn_no} 不存在")
    return found[0]


def _person_output(state: SimState, person: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "psn_no",
        "certno",
        "psn_name",
        "gend",
        "brdy",
        "insuplc_admdvs",
        "card_no",
        "card_sn",
        "card_status",
    )
    base = {k: person.get(k) for k in keys}
    suspensions = [
        {"since": s["since"], "until": s.get("until"), "reason": s.get("reason", "")}
        for s in state.find("suspensions", psn_no=person["psn_no"])
    ]
    return {"baseinfo": base, "suspensions": suspensions}


# --- reads ------------------------------------------------------------------------------


def sign_in(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    sign_no = state.sign_in()
    return {"signinoutb": {"sign_no": sign_no, "sign_time": f"{state.clock.now():%F %T}"}}


def _token_person(state: SimState, token: str) -> dict[str, Any]:
    for person in state.rows("people"):
        if token and person.get("ecard_token") == token:
            expires = person.get("ecard_token_expires_at")
            now = state.clock.now().replace(tzinfo=None)
            if expires and datetime.fromisoformat(expires).replace(tzinfo=None) < now:
                raise Refused("电子社保卡二维码已过期，请刷新后重新出示")
            output = _person_output(state, person)
            output["token_expires_at"] = expires
            return output
    raise Refused("电子社保卡二维码无效或已被篡改，请重新出示")


def query_person(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    _need(data, "mdtrt_cert_type", "mdtrt_cert_no")
    cert_type, cert_no = data["mdtrt_cert_type"], data["mdtrt_cert_no"]
    if cert_type == "01":
        return _token_person(state, cert_no)
    key = {"02": "certno", "03": "card_no"}.get(cert_type)
    if key is None:
        raise Refused(f"入参校验失败：mdtrt_cert_type {cert_type} 不支持")
    found = state.find("people", **{key: cert_no})
    if not found:
        raise Refused("未查询到该人员的工伤保险参保信息")
    person = found[0]
    if cert_type == "03" and data.get("card_sn") and data["card_sn"] != person.get("card_sn"):
        raise Refused("社会保障卡识别码与卡号不符")
    if data.get("psn_name") and data["psn_name"] != person["psn_name"]:
        raise Refused("姓名与证件信息不符")
    return _person_output(state, person)


def verify_ecard(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    _need(envelope["input"], "ecqrcode")
    return _token_person(state, envelope["input"]["ecqrcode"])


def query_filings(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    _need(envelope["input"], "psn_no")
    psn_no = envelope["input"]["psn_no"]
    _person(state, psn_no)
    return {"filings": sorted(state.find("filings", psn_no=psn_no), key=lambda f: f["filing_no"])}


def institution(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    _need(envelope["input"], "fixmedins_code")
    found = state.find("institutions", fixmedins_code=envelope["input"]["fixmedins_code"])
    if not found:
        raise Refused("未查询到该协议机构")
    return {"institution": found[0]}


def catalogue(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    _need(data, "kind", "region")
    since = str(data.get("ver") or "")
    items = [
        i
        for i in state.find("catalogue", kind=data["kind"], region=data["region"])
        if str(i.get("version", "")) > since
    ]
    items.sort(key=lambda i: (i["code"], str(i.get("version", ""))))
    return {
        "items": items,
        "version": max((str(i.get("version", "")) for i in items), default=since),
    }


def _in_month(value: str, month: str) -> bool:
    return str(value).replace("/", "-")[:7] == month


def reconciliation(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    """``WI3201``: a month's settlements are those whose ``setl_time`` (the settlement time,
    local) falls in it — what the agency reconciles (N§35), not the discharge date."""
    data = envelope["input"]
    _need(data, "month")
    code, month = envelope["fixmedins_code"], data["month"]
    seeded = state.find("figures", fixmedins_code=code, month=month)
    settlements = list(seeded[0].get("settlements", [])) if seeded else []
    revoked = {w.input.get("setl_id") for w in state.effective("WI2305")}
    for infno, kind in (("WI2301", None), ("WI2701", "device")):
        for write in state.effective(infno):
            item = write.input
            if write.fixmedins_code != code or not _in_month(item.get("setl_time", ""), month):
                continue
            settlements.append(
                {
                    "setl_id": item["setl_id"],
                    "msgid": write.msgid,
                    "psn_no": item["psn_no"],
                    "kind": kind or item.get("med_type", "medical"),
                    "setl_date": str(item["setl_time"])[:10],
                    "total": item["medfee_sumamt"],
                    "fund_pay": item["fund_pay_sumamt"],
                    "psn_pay": item["psn_pay"],
                    "revoked": item["setl_id"] in revoked,
                }
            )
    live = [s for s in settlements if not s.get("revoked")]

    def total(key: str) -> str:
        return str(sum((Decimal(s[key]) for s in live), Decimal("0.00")))

    return {"fixmedins_code": code, "month": month, "setl_cnt": len(live),
            "total": total("total"), "fund_pay": total("fund_pay"), "psn_pay": total("psn_pay"),
            "settlements": settlements}  # fmt: skip


def deductions(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    _need(envelope["input"], "month")
    rows = state.find("deductions", month=envelope["input"]["month"])
    code = envelope["fixmedins_code"]
    return {"deductions": [r for r in rows if r.get("fixmedins_code", code) == code]}


# --- writes -----------------------------------------------------------------------------


def _admission(state: SimState, mdtrt_id: str, code: str) -> dict[str, Any]:
    admissions = [w for w in state.effective("WI2401") if w.input.get("mdtrt_id") == mdtrt_id]
    revoked = any(w.input.get("mdtrt_id") == mdtrt_id for w in state.effective("WI2404"))
    if not admissions or revoked or admissions[0].fixmedins_code != code:
        raise Refused(f"就诊登记 {mdtrt_id} 不存在或已撤销：请先办理入院登记（WI2401）")
    return admissions[0].input


def _settlement(state: SimState, setl_id: str) -> dict[str, Any] | None:
    revoked = {w.input.get("setl_id") for w in state.effective("WI2305")}
    for infno in ("WI2301", "WI2701"):
        for write in state.effective(infno):
            if write.input.get("setl_id") == setl_id and setl_id not in revoked:
                return write.input
    return None


def register_admission(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    _need(data, "mdtrt_id", "psn_no", "begntime")
    _person(state, data["psn_no"])
    try:
        _admission(state, data["mdtrt_id"], envelope["fixmedins_code"])
    except Refused:
        return {"mdtrt_id": data["mdtrt_id"], "registered": True}
    raise Refused(f"就诊 {data['mdtrt_id']} 已办理入院登记，不能重复登记")


def revoke_admission(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    _need(data, "mdtrt_id")
    _admission(state, data["mdtrt_id"], envelope["fixmedins_code"])
    settled = [w for w in state.effective("WI2301") if w.input.get("mdtrt_id") == data["mdtrt_id"]]
    if any(_settlement(state, w.input["setl_id"]) for w in settled):
        raise Refused("该就诊已结算，不能撤销入院登记；请先撤销结算")
    return {"mdtrt_id": data["mdtrt_id"], "revoked": True}


def rehab_plan(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    _need(data, "mdtrt_id")
    _admission(state, data["mdtrt_id"], envelope["fixmedins_code"])
    return {"mdtrt_id": data["mdtrt_id"], "plan_received": True}


def discharge(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    _need(data, "mdtrt_id", "psn_no", "setl_id", "setl_time")
    admission = _admission(state, data["mdtrt_id"], envelope["fixmedins_code"])
    if admission.get("psn_no") != data["psn_no"]:
        raise Refused("结算人员与入院登记人员不符")
    _amounts(data)
    if _settlement(state, data["setl_id"]) is not None:
        raise Refused(f"结算ID {data['setl_id']} 已存在，不能重复上传")
    serials = [line.get("feedetl_sn") for line in data.get("feedetail") or []]
    if len(serials) != len(set(serials)) or None in serials:
        raise Refused("费用明细流水号（feedetl_sn）缺失或重复")
    if data.get("med_type") == "rehab" and not any(
        w.input.get("mdtrt_id") == data["mdtrt_id"] for w in state.effective("WI2501")
    ):
        raise Refused("住院康复须在出院结算前上传康复方案（N§33、B§32）")
    return {"setl_id": data["setl_id"], "mdtrt_id": data["mdtrt_id"],
            "fund_pay_sumamt": data["fund_pay_sumamt"], "psn_pay": data["psn_pay"]}  # fmt: skip


def revoke_settlement(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    _need(envelope["input"], "setl_id")
    setl_id = envelope["input"]["setl_id"]
    if _settlement(state, setl_id) is None:
        raise Refused(f"结算ID {setl_id} 不存在或已撤销")
    return {"setl_id": setl_id, "revoked": True}


def reversal(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    _need(data, "omsgid", "oinfno")
    if data["oinfno"] not in WRITES or data["oinfno"] == "WI2601":
        raise Refused(f"原交易 {data['oinfno']} 不可冲正")
    with state.lock:
        original = state.received.get(data["omsgid"])
        if original is None:
            return {"omsgid": data["omsgid"], "reversed": False, "note": "原交易未到达，无需冲正"}
        if original.infno != data["oinfno"]:
            raise Refused(f"原交易类型不符：{data['omsgid']} 是 {original.infno}")
        if not original.took_effect:
            return {"omsgid": data["omsgid"], "reversed": False, "note": "原交易未生效，无需冲正"}
        original.reversed_by = envelope["msgid"]
    return {"omsgid": data["omsgid"], "reversed": True}


def device_settlement(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    _need(data, "setl_id", "psn_no", "approval_notice_no", "setl_time")
    _person(state, data["psn_no"])
    notices = {f.get("approval_notice_no") for f in state.find("filings", psn_no=data["psn_no"])
               if f.get("purpose") == "device" and f.get("status") == "active"}  # fmt: skip
    if data["approval_notice_no"] not in notices:
        raise Refused("配置费用核付通知单号与备案信息不符（B§34）")
    _amounts(data)
    if _settlement(state, data["setl_id"]) is not None:
        raise Refused(f"结算ID {data['setl_id']} 已存在，不能重复上传")
    return {"setl_id": data["setl_id"], "fund_pay_sumamt": data["fund_pay_sumamt"]}


def confirm_funds(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    _need(data, "month", "amount")
    if not re.match(r"^\d{4}-\d{2}$", str(data["month"])):
        raise Refused("入参校验失败：month 须为 yyyy-mm")
    _money(data, "amount")
    return {"month": data["month"], "confirmed": True}


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
