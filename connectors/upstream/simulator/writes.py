"""The simulator's writes: admission, its revocation, rehab plan, discharge settlement, its
revocation, reversal, device settlement and the monthly fund confirmation.

Writes are checked the way upstream would check them and refused with ``infcode -1`` and a
Chinese ``err_msg`` (:class:`~connectors.upstream.simulator.checks.Refused`) when they break a
rule; their effects are read back from the stored writes (an admission is registered while an
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
from typing import Any

from connectors.upstream.simulator.checks import Refused, amounts, known_person, money, need
from connectors.upstream.simulator.state import SimState

WRITES = frozenset({"WI2401", "WI2404", "WI2501", "WI2301", "WI2305", "WI2601", "WI2701",
                    "WI3301"})  # fmt: skip


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
    need(data, "mdtrt_id", "psn_no", "begntime")
    known_person(state, data["psn_no"])
    try:
        _admission(state, data["mdtrt_id"], envelope["fixmedins_code"])
    except Refused:
        return {"mdtrt_id": data["mdtrt_id"], "registered": True}
    raise Refused(f"就诊 {data['mdtrt_id']} 已办理入院登记，不能重复登记")


def revoke_admission(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    need(data, "mdtrt_id")
    _admission(state, data["mdtrt_id"], envelope["fixmedins_code"])
    settled = [w for w in state.effective("WI2301") if w.input.get("mdtrt_id") == data["mdtrt_id"]]
    if any(_settlement(state, w.input["setl_id"]) for w in settled):
        raise Refused("该就诊已结算，不能撤销入院登记；请先撤销结算")
    return {"mdtrt_id": data["mdtrt_id"], "revoked": True}


def rehab_plan(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    need(data, "mdtrt_id")
    _admission(state, data["mdtrt_id"], envelope["fixmedins_code"])
    return {"mdtrt_id": data["mdtrt_id"], "plan_received": True}


def discharge(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    need(data, "mdtrt_id", "psn_no", "setl_id", "setl_time")
    admission = _admission(state, data["mdtrt_id"], envelope["fixmedins_code"])
    if admission.get("psn_no") != data["psn_no"]:
        raise Refused("结算人员与入院登记人员不符")
    amounts(data)
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
    need(envelope["input"], "setl_id")
    setl_id = envelope["input"]["setl_id"]
    if _settlement(state, setl_id) is None:
        raise Refused(f"结算ID {setl_id} 不存在或已撤销")
    return {"setl_id": setl_id, "revoked": True}


def reversal(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    need(data, "omsgid", "oinfno")
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
    need(data, "setl_id", "psn_no", "approval_notice_no", "setl_time")
    known_person(state, data["psn_no"])
    notices = {f.get("approval_notice_no") for f in state.find("filings", psn_no=data["psn_no"])
               if f.get("purpose") == "device" and f.get("status") == "active"}  # fmt: skip
    if data["approval_notice_no"] not in notices:
        raise Refused("配置费用核付通知单号与备案信息不符（B§34）")
    amounts(data)
    if _settlement(state, data["setl_id"]) is not None:
        raise Refused(f"结算ID {data['setl_id']} 已存在，不能重复上传")
    return {"setl_id": data["setl_id"], "fund_pay_sumamt": data["fund_pay_sumamt"]}


def confirm_funds(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    need(data, "month", "amount")
    if not re.match(r"^\d{4}-\d{2}$", str(data["month"])):
        raise Refused("入参校验失败：month 须为 yyyy-mm")
    money(data, "amount")
    return {"month": data["month"], "confirmed": True}
