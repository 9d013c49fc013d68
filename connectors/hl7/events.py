"""Which message types and trigger events the adapter takes, and what it answers the rest.

A HIS's ADT feed carries every event of every patient; the adapter takes the ones that change
a direct-settlement stay (:data:`SUPPORTED_EVENTS`, mapped in :mod:`connectors.hl7.mapping`).
Every other event is refused (AR, 201 at MSH-9.2) — but the events a HIS commonly sends say
*why* and *what to send instead*, so the HIS team neither waits for the adapter to "support"
them nor keeps resending:

* A04 (outpatient registration), A07 (inpatient back to outpatient): outpatient visits are not
  direct settlement (``HL7_NOT_DIRECT_SETTLEMENT``, N§3).
* A05 (pre-admission), A14 (pending admission) and their cancels A38, A27: a planned admission
  is not an admission — identity and filing are checked when the worker is admitted (N§33,
  B§28) — so nothing is registered before the A01 and there is nothing to cancel
  (``HL7_NOT_AN_ADMISSION``).
* A12, A23, A28, A31, A40 and any other event: ``HL7_UNSUPPORTED_EVENT``, saying what to send
  instead where there is something, and listing the ADT events the adapter takes.
"""

from __future__ import annotations

from connectors.hl7.errors import (
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    Hl7Error,
    Location,
)
from connectors.hl7.reader import Hl7Message

SUPPORTED_EVENTS = {
    "ADT": ("A01", "A02", "A03", "A06", "A08", "A11", "A13"),
    "DFT": ("P03",),
}
_ADMIT_INSTEAD = "工伤职工入院时请发送入院登记（ADT^A01）"
_SCOPE = "直接结算的是住院工伤医疗、住院工伤康复和辅助器具配置费用（N§3）"
# Outpatient events, outside direct settlement (N§3): what the HIS team should do instead.
_OUTPATIENT_REGISTRATION = (
    f"门诊登记（ADT^A04）不属于工伤保险跨省异地就医直接结算：{_SCOPE}，"
    f"本适配器不处理门诊登记，无需重发；{_ADMIT_INSTEAD}"
)
_BACK_TO_OUTPATIENT = (
    f"住院转门诊（ADT^A07）不属于工伤保险跨省异地就医直接结算：{_SCOPE}，"
    "门诊就诊不能直接结算；本适配器不处理A07，请改为发送取消入院（ADT^A11）撤销该次住院登记"
)
# A planned admission and its cancel: nothing is registered before the worker is admitted.
_PLANNED = {"A05": "预住院", "A14": "待入院"}
_PLANNED_CANCELS = {"A38": "A05", "A27": "A14"}
_PLANNED_ARTICLE = "N§33, B§28"
# Other events of an ADT feed: what to send instead, or why nothing is needed.
_INSTEAD = {
    "A12": "取消转科（ADT^A12）：请发送转科（ADT^A02），PV1-3为转回的科室",
    "A23": "删除就诊（ADT^A23）：撤销住院登记请发送取消入院（ADT^A11）",
    "A28": "新增人员信息（ADT^A28）无需发送：工伤职工的身份随入院登记（ADT^A01）的PID和ZWI核对",
    "A31": "更新人员信息（ADT^A31）：住院期间更正姓名请发送住院信息更新（ADT^A08）",
    "A40": "合并患者（ADT^A40）无需发送：住院登记按PID-3的身份证号（NI）认定工伤职工",
}


def message_type(message: Hl7Message) -> tuple[str, str]:
    """(message code, trigger event), checked against what we support."""
    msh = message.msh
    code = msh.get(9, 1).upper()
    event = msh.get(9, 2).upper()
    if not event:
        evn = message.first("EVN")
        event = evn.get(1).upper() if evn else ""
    if code not in SUPPORTED_EVENTS:
        raise Hl7Error(
            f"不支持的消息类型：{code or '（空）'}",
            msh.location(9, 1),
            hl7_code=UNSUPPORTED_MESSAGE_TYPE,
            code="HL7_UNSUPPORTED_TYPE",
        )
    if event not in SUPPORTED_EVENTS[code]:
        raise _refusal(code, event, msh.location(9, 2))
    return code, event


def _refusal(code: str, event: str, where: Location) -> Hl7Error:
    """The AR for an event we do not take, saying why where a HIS commonly sends it."""
    if code == "ADT" and event in ("A04", "A07"):
        return Hl7Error(
            _OUTPATIENT_REGISTRATION if event == "A04" else _BACK_TO_OUTPATIENT,
            where,
            hl7_code=UNSUPPORTED_EVENT_CODE,
            code="HL7_NOT_DIRECT_SETTLEMENT",
            article="N§3",
        )
    if code == "ADT" and (event in _PLANNED or event in _PLANNED_CANCELS):
        cancel = event in _PLANNED_CANCELS
        planned = _PLANNED_CANCELS.get(event, event)
        name = _PLANNED[planned]
        return Hl7Error(
            (f"取消{name}（ADT^{event}）：" if cancel else "")
            + f"{name}（ADT^{planned}）不是入院登记：工伤职工的身份信息和备案信息在办理入院登记时"
            + f"核对（N§33、B§28），本适配器不登记{name}，"
            + ("无需撤销，无需重发" if cancel else "无需重发；" + _ADMIT_INSTEAD),
            where,
            hl7_code=UNSUPPORTED_EVENT_CODE,
            code="HL7_NOT_AN_ADMISSION",
            article=_PLANNED_ARTICLE,
        )
    taken = "、".join(SUPPORTED_EVENTS[code])
    instead = _INSTEAD.get(event, "") if code == "ADT" else ""
    return Hl7Error(
        f"不支持的事件：{code}^{event or '（空）'}；"
        + (f"{instead}；" if instead else "")
        + f"本适配器处理的{code}事件：{taken}",
        where,
        hl7_code=UNSUPPORTED_EVENT_CODE,
        code="HL7_UNSUPPORTED_EVENT",
    )
