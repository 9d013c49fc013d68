"""The simulator's reads: sign-in, person, e-card, filings, institution, catalogue, and the
monthly reconciliation and deductions.

Reads look up the seed; the monthly reconciliation also reads back the settlements stored by
the writes (:mod:`connectors.upstream.simulator.writes`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.upstream.simulator.checks import Refused, known_person, need
from connectors.upstream.simulator.state import SimState


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
    need(data, "mdtrt_cert_type", "mdtrt_cert_no")
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
    need(envelope["input"], "ecqrcode")
    return _token_person(state, envelope["input"]["ecqrcode"])


def query_filings(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    need(envelope["input"], "psn_no")
    psn_no = envelope["input"]["psn_no"]
    known_person(state, psn_no)
    return {"filings": sorted(state.find("filings", psn_no=psn_no), key=lambda f: f["filing_no"])}


def institution(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    need(envelope["input"], "fixmedins_code")
    found = state.find("institutions", fixmedins_code=envelope["input"]["fixmedins_code"])
    if not found:
        raise Refused("未查询到该协议机构")
    return {"institution": found[0]}


def catalogue(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope["input"]
    need(data, "kind", "region")
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
    local) falls in it — what the agency reconciles (N§35), not the discharge date.

    The header (``setl_cnt`` and the three sums) adds up the rows in effect. A seeded
    ``figures`` row's ``reply`` object, if any, is laid over the reply as it is (a test hook:
    ``{"month": "2025-12"}``, ``{"fixmedins_code": …}``, ``{"total": "99.00"}`` make a reply
    for another month or institution, or one whose header disagrees with its own rows)."""
    data = envelope["input"]
    need(data, "month")
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

    output = {"fixmedins_code": code, "month": month, "setl_cnt": len(live),
              "total": total("total"), "fund_pay": total("fund_pay"), "psn_pay": total("psn_pay"),
              "settlements": settlements}  # fmt: skip
    return output | (seeded[0].get("reply") or {} if seeded else {})


def deductions(state: SimState, envelope: dict[str, Any]) -> dict[str, Any]:
    need(envelope["input"], "month")
    rows = state.find("deductions", month=envelope["input"]["month"])
    code = envelope["fixmedins_code"]
    return {"deductions": [r for r in rows if r.get("fixmedins_code", code) == code]}
