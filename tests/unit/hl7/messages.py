"""Builders for test messages: realistic HL7 v2 text with Chinese names and items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

CHARSET_CODECS = {"UNICODE UTF-8": "utf-8", "GB 18030-2000": "gb18030", "": "utf-8"}


def seg(name: str, fields: Mapping[int, str]) -> str:
    """A segment with the given fields at their positions (others empty, no trailing bars)."""
    size = max(fields) if fields else 0
    return "|".join([name, *(fields.get(i, "") for i in range(1, size + 1))])


def msh(
    event: str,
    control_id: str = "MSG0001",
    *,
    version: str = "2.5",
    charset: str = "UNICODE UTF-8",
    sender: str = "HIS",
    facility: str = "H1",
) -> str:
    code = "DFT" if event == "P03" else "ADT"
    structure = f"{code}_{event}" if version not in ("2.3",) else ""
    message_type = f"{code}^{event}" + (f"^{structure}" if structure else "")
    fields = [
        "MSH",
        "^~\\&",
        sender,
        facility,
        "WIADAPTER",
        "H11010000001",
        "20260301120000+0800",
        "",
        message_type,
        control_id,
        "P",
        version,
        "",
        "",
        "AL",
        "NE",
        "",
        charset,
    ]
    return "|".join(fields if charset else fields[:-1])


def pid(
    name: str = "张三", citizen_id: str = "110101199001011234", patient_id: str = "P0001"
) -> str:
    ids = f"{citizen_id}^^^^NI~{patient_id}^^^^PI"
    return seg("PID", {1: "1", 3: ids, 5: name, 7: "19900101", 8: "M"})


def pv1(
    visit: str = "V0001",
    *,
    admitted: str = "20260301080000",
    discharged: str = "",
    service: str = "",
    department: str = "骨科病区",
) -> str:
    fields = {1: "1", 2: "I", 3: department, 10: service, 19: visit, 44: admitted}
    if discharged:
        fields[45] = discharged
    return seg("PV1", fields)


def zwi(
    kind: str = "P",
    card_no: str = "A12345678",
    token: str = "",
    parts: str = "左手~右腕",
    encounter: str = "medical",
) -> str:
    return seg("ZWI", {1: kind, 2: card_no, 3: token, 4: parts, 5: encounter})


def dg1(code: str = "S62.001", name: str = "左手舟骨骨折") -> str:
    return seg("DG1", {1: "1", 3: f"{code}^{name}^I10"})


def ft1(
    line_id: str,
    *,
    kind: str = "CG",
    code: str = "XA01",
    name: str = "布洛芬缓释胶囊",
    system: str = "99DRUG",
    quantity: str = "2",
    amount: str = "24.00",
    price: str = "12.00",
    reverses: str = "",
    when: str = "20260301100000",
    department: str = "ORT^骨科",
    set_id: int = 1,
) -> str:
    item = f"{code}^{name}^{system}" if system else f"{code}^{name}"
    return seg(
        "FT1",
        {
            1: str(set_id),
            2: line_id,
            3: reverses,
            4: when,
            6: kind,
            7: item,
            10: quantity,
            11: amount,
            12: price,
            13: department,
        },
    )


def message(*segments: str, sep: str = "\r") -> str:
    return sep.join(segments) + sep


def admit(control_id: str = "MSG0001", visit: str = "V0001", **kw: str) -> str:
    version = kw.pop("version", "2.5")
    charset = kw.pop("charset", "UNICODE UTF-8")
    return message(
        msh("A01", control_id, version=version, charset=charset),
        "EVN|A01|20260301080000",
        pid(),
        pv1(visit),
        dg1(),
        zwi(),
    )


def adt(
    event: str,
    control_id: str,
    visit: str = "V0001",
    *,
    discharged: str = "20260310090000",
    version: str = "2.5",
    charset: str = "UNICODE UTF-8",
    patient: str = "",
) -> str:
    segments = [
        msh(event, control_id, version=version, charset=charset),
        f"EVN|{event}|20260310090000||01^患者要求",
        patient or pid(),
        pv1(visit, discharged=discharged),
    ]
    if event in ("A03", "A08"):
        segments.append(dg1())
    return message(*segments)


def dft(
    control_id: str,
    lines: Sequence[str],
    visit: str = "V0001",
    *,
    version: str = "2.5",
    charset: str = "UNICODE UTF-8",
) -> str:
    return message(
        msh("P03", control_id, version=version, charset=charset),
        "EVN|P03|20260301120000",
        pid(),
        pv1(visit),
        *lines,
    )


def encode(text: str, charset: str = "UNICODE UTF-8") -> bytes:
    return text.encode(CHARSET_CODECS[charset])
