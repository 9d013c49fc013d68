"""The simulator's demo data: one worker per eligibility case of domain.md, in the seed format.

Dates are relative to ``today`` so the demo stays valid whatever day it runs. The workers are
insured in other provinces and treated in Beijing (``110100``) at the demo institution
``H11010000001`` 示例工伤协议医院; citizen IDs are well-formed (GB 11643 check digit) but
invented. :data:`CASES` says which case each worker stands for (the README's table).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

DEMO_INSTITUTION = "H11010000001"
DEMO_INSTITUTION_NAME = "示例工伤协议医院"
BEIJING = "110100"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def citizen_id(region: str, birth: date, sequence: int) -> str:
    """An 18-digit citizen ID (GB 11643-1999) with a correct check digit."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    if len(body) != 17 or not body.isdigit():
        raise ValueError(f"bad citizen ID parts: {region!r}, {birth}, {sequence}")
    return body + _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def id_is_valid(value: str) -> bool:
    """True when ``value`` is 18 characters whose last is the right check digit."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    return (
        value[17].upper()
        == _CHECK[sum(int(d) * w for d, w in zip(value, _WEIGHTS, strict=False)) % 11]
    )


# psn_no → (case, the rule it exercises): the table in the report and the README
CASES: dict[str, str] = {
    "P001": "valid long-term-residence medical filing (异地长期居住就医), e-card token",
    "P002": "referral filing (异地转诊转院) that expires in 2 days",
    "P003": "filing expired 10 days ago",
    "P004": "filed for another city (上海 310100), not Beijing",
    "P005": "filed 3 days ago: an admission 5 days ago was before the filing",
    "P006": "filing cancelled (取消备案) 20 days ago",
    "P007": "filing changed (变更): F007A replaced by successor F007B (new injury part)",
    "P008": "filing terminated by loss of eligibility (丧失待遇资格) 15 days ago",
    "P009": "valid filing, but direct settlement suspended (严重违规)",
    "P010": "rehab filing (常驻异地工作康复), rehab plan needed; expired e-card token",
    "P011": "device filing with payment approval notice and two device items",
    "P012": "valid filing, third-party liability (第三方责任)",
    "P013": "valid filing, social-security card reported lost (挂失)",
    "P014": "no filing at all: help the worker to file",
}


def _person(
    psn_no: str,
    name: str,
    gend: str,
    birth: date,
    insured: str,
    sequence: int,
    card_no: str,
    card_status: str = "normal",
) -> dict[str, Any]:
    return {
        "psn_no": psn_no,
        "certno": citizen_id(insured[:4] + "02", birth, sequence),
        "psn_name": name,
        "gend": gend,
        "brdy": birth.isoformat(),
        "insuplc_admdvs": insured,
        "card_no": card_no,
        "card_sn": f"{insured}D156{int(psn_no[1:]):08d}",
        "card_status": card_status,
        "tel": f"1391000{int(psn_no[1:]):04d}",
    }


def demo_seed(today: date) -> dict[str, Any]:
    """The whole demo seed, as ``POST /_sim/seed`` would take it."""

    def d(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    people = [
        _person("P001", "王建国", "1", date(1978, 3, 14), "310100", 131, "310100A0001"),
        _person("P002", "李秀英", "2", date(1985, 7, 2), "130100", 242, "130100B0002"),
        _person("P003", "张伟", "1", date(1972, 11, 30), "410100", 357, "410100C0003"),
        _person("P004", "刘洋", "1", date(1990, 5, 21), "370100", 115, "370100D0004"),
        _person("P005", "陈静", "2", date(1988, 9, 9), "320100", 226, "320100E0005"),
        _person("P006", "杨帆", "1", date(1981, 1, 17), "440100", 173, "440100F0006"),
        _person("P007", "赵磊", "1", date(1976, 12, 3), "420100", 319, "420100G0007"),
        _person("P008", "黄海", "1", date(1969, 4, 25), "510100", 455, "510100H0008"),
        _person("P009", "周敏", "2", date(1992, 8, 16), "210100", 268, "210100J0009"),
        _person("P010", "吴刚", "1", date(1983, 2, 28), "330100", 391, "330100K0010"),
        _person("P011", "孙丽", "2", date(1979, 6, 6), "310100", 144, "310100L0011"),
        _person("P012", "徐强", "1", date(1987, 10, 12), "340100", 137, "340100M0012"),
        _person("P013", "马超", "1", date(1993, 3, 3), "140100", 159, "140100N0013", "lost"),
        _person("P014", "朱红", "2", date(1986, 12, 20), "120100", 282, "120100P0014"),
    ]
    token_day_end = datetime.combine(today + timedelta(days=1), time(23, 59, 59))
    people[0]["ecard_token"] = "ECQR-P001-DEMO"
    people[0]["ecard_token_expires_at"] = token_day_end.isoformat()
    people[9]["ecard_token"] = "ECQR-P010-OLD"
    people[9]["ecard_token_expires_at"] = datetime.combine(today, time(0, 0)).isoformat()
    by_no = {p["psn_no"]: p for p in people}

    def filing(
        filing_no: str,
        psn_no: str,
        *,
        begn: int,
        end: int,
        filed: int,
        category: str = "long_term_residence",
        purpose: str = "medical",
        city: str = BEIJING,
        status: str = "active",
        parts: tuple[str, ...] = ("左手",),
        **extra: Any,
    ) -> dict[str, Any]:
        person = by_no[psn_no]
        return {
            "filing_no": filing_no,
            "psn_no": psn_no,
            "category": category,
            "purpose": purpose,
            "mdtrtarea_admvs": city,
            "treatment_province": "北京市" if city == BEIJING else "上海市",
            "begndate": d(begn),
            "enddate": d(end),
            "filed_on": d(filed),
            "status": status,
            "terminated_on": None,
            "injury_parts": list(parts),
            "third_party_liability": False,
            "approval_notice_no": None,
            "devices": [],
            "psn_name": person["psn_name"],
            "gend": person["gend"],
            "certno": person["certno"],
            "tel": person["tel"],
            "insuplc_admdvs": person["insuplc_admdvs"],
            "injury_decision_no": f"{person['insuplc_admdvs'][:4]}工伤认〔{today.year - 1}〕"
            f"{int(psn_no[1:]) * 37}号",
            "agency_opinion": "同意备案",
            "filing_type": "new",
            "applicant": "self",
            **extra,
        }

    filings = [
        filing("F001", "P001", begn=-100, end=264, filed=-102, parts=("左手", "右前臂")),
        filing("F002", "P002", begn=-179, end=2, filed=-180, category="referral", parts=("腰椎",)),
        filing("F003", "P003", begn=-375, end=-10, filed=-377, parts=("右踝",)),
        filing("F004", "P004", begn=-30, end=334, filed=-31, city="310100", parts=("左膝",)),
        filing("F005", "P005", begn=-3, end=361, filed=-3, parts=("右手",)),
        filing(
            "F006",
            "P006",
            begn=-60,
            end=304,
            filed=-61,
            status="cancelled",
            terminated_on=d(-20),
            parts=("左肩",),
        ),
        filing(
            "F007A",
            "P007",
            begn=-200,
            end=164,
            filed=-201,
            status="changed",
            successor_no="F007B",
            parts=("右手",),
        ),
        filing(
            "F007B",
            "P007",
            begn=-40,
            end=164,
            filed=-40,
            filing_type="change",
            parts=("右手", "右腕"),
        ),
        filing(
            "F008",
            "P008",
            begn=-90,
            end=274,
            filed=-91,
            status="terminated",
            terminated_on=d(-15),
            parts=("胸椎",),
        ),
        filing("F009", "P009", begn=-50, end=314, filed=-51, parts=("左足",)),
        filing(
            "F010",
            "P010",
            begn=-20,
            end=344,
            filed=-21,
            category="resident_work",
            purpose="rehab",
            parts=("颈椎", "右上肢"),
            employer_name="杭州示例建筑工程有限公司",
            employer_credit_code="91330100MA2EXAMPLE",
        ),
        filing(
            "F011",
            "P011",
            begn=-15,
            end=349,
            filed=-16,
            purpose="device",
            parts=("左前臂",),
            applicant="employer",
            employer_name="上海示例机械制造有限公司",
            device_assessment_no="沪劳鉴辅〔2026〕第1187号",
            approval_notice_no="沪工伤辅核〔2026〕第0421号",
            devices=[
                {
                    "device_code": "SH-FZ-0101",
                    "device_name": "前臂假肢（肌电控制）",
                    "min_years": 4,
                    "limit": "28000.00",
                },
                {
                    "device_code": "SH-FZ-0305",
                    "device_name": "腕手矫形器",
                    "min_years": 2,
                    "limit": "1800.00",
                },
            ],
        ),
        filing(
            "F012",
            "P012",
            begn=-25,
            end=339,
            filed=-26,
            third_party_liability=True,
            parts=("右小腿",),
        ),
        filing("F013", "P013", begn=-45, end=319, filed=-46, parts=("左手",)),
    ]
    suspensions = [
        {"psn_no": "P009", "since": d(-60), "until": None, "reason": "严重违规：冒名就医"}
    ]
    institutions = [
        {"fixmedins_code": DEMO_INSTITUTION, "fixmedins_name": DEMO_INSTITUTION_NAME,
         "kinds": ["medical", "rehab", "device"], "admvs": BEIJING,
         "direct_settlement": "enabled"},
        {"fixmedins_code": "H11010500002", "fixmedins_name": "北京朝阳示例工伤康复医院",
         "kinds": ["rehab"], "admvs": BEIJING, "direct_settlement": "enabled"},
        {"fixmedins_code": "H11010800003", "fixmedins_name": "北京海淀示例假肢矫形器中心",
         "kinds": ["device"], "admvs": BEIJING, "direct_settlement": "suspended"},
        {"fixmedins_code": "H11010200004", "fixmedins_name": "北京西城示例骨科医院",
         "kinds": ["medical"], "admvs": BEIJING, "direct_settlement": "terminated"},
        {"fixmedins_code": "H31010100005", "fixmedins_name": "上海黄浦示例工伤医院",
         "kinds": ["medical"], "admvs": "310100", "direct_settlement": "enabled"},
    ]  # fmt: skip
    return {
        "people": people,
        "filings": filings,
        "suspensions": suspensions,
        "institutions": institutions,
        "catalogue": _catalogue(today),
        "figures": _figures(today),
        "deductions": _deductions(today),
    }


def _catalogue(today: date) -> list[dict[str, Any]]:
    start = date(today.year, 1, 1).isoformat()
    version = f"{today.year}.1"

    def item(kind: str, code: str, name: str, unit: str, region: str = BEIJING,
             price_cap: str | None = None, limit: str | None = None) -> dict[str, Any]:  # fmt: skip
        return {"kind": kind, "code": code, "name": name, "region": region, "unit": unit,
                "price_cap": price_cap, "limit": limit, "version": version,
                "begndate": start}  # fmt: skip

    drugs = [
        ("XN02BEB001", "布洛芬缓释胶囊", "盒"),
        ("XJ01DCC061", "头孢呋辛酯片", "盒"),
        ("XJ01DDA063", "注射用头孢曲松钠", "支"),
        ("XB05BBA001", "氯化钠注射液（0.9%，250ml）", "袋"),
        ("XM01AHC004", "塞来昔布胶囊", "盒"),
        ("XA11DBM001", "甲钴胺片", "盒"),
        ("XJ06AAP001", "破伤风抗毒素注射液", "支"),
        ("ZA12BAY002", "云南白药胶囊", "盒"),
        ("XB01ABE001", "依诺肝素钠注射液", "支"),
    ]
    treatments = [
        ("331601001", "清创缝合术（大）", "次"),
        ("331506005", "骨折切开复位内固定术（尺桡骨）", "次"),
        ("331522003", "肌腱修复术", "次"),
        ("210103001", "X线摄影（数字化）", "次"),
        ("210300001", "X线计算机体层（CT）平扫", "次"),
        ("210400001", "磁共振（MR）平扫", "次"),
        ("120400001", "静脉输液", "次"),
        ("120600001", "大换药", "次"),
    ]
    standards = [
        ("110900001A", "普通病房床位费（三人间）", "日", "50.00"),
        ("110900001B", "普通病房床位费（双人间）", "日", "70.00"),
        ("111100001", "一级护理", "日", "26.00"),
        ("110200005", "住院诊查费", "日", "20.00"),
    ]
    rehab = [
        ("340200001", "运动疗法", "次"),
        ("340200004", "作业疗法", "次"),
        ("340200019", "手功能训练", "次"),
        ("340100001", "康复评定", "次"),
        ("340200027", "中频电疗", "次"),
        ("340200009", "言语训练", "次"),
    ]
    devices = [
        ("310100", "SH-FZ-0101", "前臂假肢（肌电控制）", "具", "28000.00"),
        ("310100", "SH-FZ-0203", "小腿假肢（骨骼式）", "具", "15000.00"),
        ("310100", "SH-FZ-0305", "腕手矫形器", "具", "1800.00"),
        ("310100", "SH-FZ-0501", "普通轮椅", "台", "1200.00"),
        ("310100", "SH-FZ-0602", "肘拐", "副", "200.00"),
        ("130100", "HB-FZ-0101", "前臂假肢（索控式）", "具", "9000.00"),
        ("130100", "HB-FZ-0501", "普通轮椅", "台", "1000.00"),
        # A province-wide catalogue (江苏省): its cities and districts publish none of their
        # own, so a worker insured there is priced against the province's (N§32). Regions
        # absent here (e.g. 山东 37xxxx) publish none at all.
        ("320000", "JS-FZ-0101", "前臂假肢（索控式）", "具", "12000.00"),
        ("320000", "JS-FZ-0501", "普通轮椅", "台", "1100.00"),
    ]
    return (
        [item("drug", c, n, u) for c, n, u in drugs]
        + [item("treatment", c, n, u) for c, n, u in treatments]
        + [item("service_standard", c, n, u, price_cap=cap) for c, n, u, cap in standards]
        + [item("rehab", c, n, u) for c, n, u in rehab]
        + [item("device", c, n, u, region=r, limit=lim) for r, c, n, u, lim in devices]
    )


def _last_month(today: date) -> tuple[str, date]:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first:%Y-%m}", first.replace(day=1)


def _figures(today: date) -> list[dict[str, Any]]:
    month, start = _last_month(today)
    rows = [
        ("S20261001", "P001", "medical", start + timedelta(days=4), "18650.40", "17982.10"),
        ("S20261002", "P010", "rehab", start + timedelta(days=12), "9320.00", "9320.00"),
        ("S20261003", "P011", "device", start + timedelta(days=20), "30500.00", "29800.00"),
    ]
    settlements = []
    for setl_id, psn_no, kind, day, total, fund in rows:
        settlements.append(
            {
                "setl_id": setl_id,
                "msgid": f"{DEMO_INSTITUTION}{day:%Y%m%d}1015000001",
                "psn_no": psn_no,
                "kind": kind,
                "setl_date": day.isoformat(),
                "total": total,
                "fund_pay": fund,
                "psn_pay": str(Decimal(total) - Decimal(fund)),
                "revoked": False,
            }
        )
    return [
        {
            "fixmedins_code": DEMO_INSTITUTION,
            "month": month,
            "setl_cnt": 3,
            "total": "58470.40",
            "fund_pay": "57102.10",
            "psn_pay": "1368.30",
            "settlements": settlements,
        }
    ]


def _deductions(today: date) -> list[dict[str, Any]]:
    month, _ = _last_month(today)
    return [
        {"deduction_no": "KK2026110001", "fixmedins_code": DEMO_INSTITUTION, "month": month,
         "setl_id": "S20261001", "psn_no": "P001", "item_code": "XM01AHC004",
         "item_name": "塞来昔布胶囊", "amount": "86.40",
         "reason": "超药品说明书适应症用药，不予支付（N§37）"},
        {"deduction_no": "KK2026110002", "fixmedins_code": DEMO_INSTITUTION, "month": month,
         "setl_id": "S20261002", "psn_no": "P010", "item_code": "340200019",
         "item_name": "手功能训练", "amount": "120.00",
         "reason": "与康复方案不符的项目，不予支付"},
    ]  # fmt: skip
