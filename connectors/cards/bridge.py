"""A physical social-security card reader, through a bridge service on the clerk's workstation.

Vendors' readers are driven by a DLL (``SSCardDriver``, function ``iReadCardBas``) that only
runs on the workstation the reader is plugged into; a small service there exposes it over
HTTP **on loopback**. This module is the adapter's side of that contract.

The contract (the bridge service implements it; the adapter only calls it)::

    GET {base_url}/v1/card/basic           no body; answers within the reader's time-out
    200 {"ret": 0, "out": "<iReadCardBas output>"}
    200 {"ret": 1, "msg": "..."}            no card in the reader
    200 {"ret": 2, "msg": "..."}            reader not connected / device error
    200 {"ret": 3, "msg": "..."}            card present but unreadable (chip, PSAM, auth)
    200 {"ret": <other>, "msg": "..."}      any other driver error code

``out`` is ``iReadCardBas``'s text: fields separated by ``|`` (a trailing ``|`` is usual)::

    发卡地区行政区划代码|社会保障号码|卡号|卡识别码|姓名|卡复位信息|规范版本|发卡日期|卡有效期|终端机编号|终端设备号|

The social-security number is the citizen ID; dates are ``YYYYMMDD``. Gender is taken from the
citizen ID (17th digit odd: male). The bridge must bind to 127.0.0.1 only; this reader refuses
any ``base_url`` that is not loopback. A card past its expiry date is returned with status
``expired`` (the eligibility check refuses it); whether a card is reported lost only upstream
knows (``WI1101``).
"""

from __future__ import annotations

import ipaddress
import json
from datetime import date, datetime
from urllib.parse import urlsplit

import httpx

from adapter.domain.people import CardData, CardKind, CardStatus, Gender
from connectors.cards.errors import CardUnreadable, NoCardPresent, ReaderUnavailable

DEFAULT_BRIDGE_URL = "http://127.0.0.1:9527"
FIELD_COUNT = 11


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _yyyymmdd(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise CardUnreadable(f"社保卡日期无法识别（{value}），请重新插卡") from None


def _gender(citizen_id: str) -> Gender:
    if len(citizen_id) == 18 and citizen_id[16].isdigit():
        return Gender.MALE if int(citizen_id[16]) % 2 else Gender.FEMALE
    return Gender.UNKNOWN


def parse_basic(text: str, *, today: date | None = None) -> CardData:
    """Read ``iReadCardBas``'s ``|``-separated output into :class:`CardData`."""
    fields = text.strip().split("|")
    if fields and fields[-1] == "":
        fields = fields[:-1]
    if len(fields) < FIELD_COUNT:
        raise CardUnreadable(
            f"读卡器返回的数据不完整（{len(fields)}/{FIELD_COUNT} 项），请重新插卡"
        )
    region, citizen_id, card_no, card_sn, name = (f.strip() for f in fields[:5])
    if not citizen_id or not card_no or not name:
        raise CardUnreadable("读卡器未返回卡号、社会保障号码或姓名，请重新插卡")
    expires_on = _yyyymmdd(fields[8])
    status = CardStatus.NORMAL
    if expires_on is not None and today is not None and expires_on < today:
        status = CardStatus.EXPIRED
    return CardData(
        kind=CardKind.PHYSICAL,
        card_no=card_no,
        citizen_id=citizen_id,
        name=name,
        gender=_gender(citizen_id),
        issuing_region=region,
        card_sn=card_sn,
        status=status,
        expires_on=expires_on,
    )


class BridgeCardReader:
    """Satisfies :class:`adapter.domain.ports.CardReader` via the workstation bridge."""

    def __init__(
        self,
        base_url: str = DEFAULT_BRIDGE_URL,
        *,
        http: httpx.Client | None = None,
        timeout_s: float = 8.0,
        today: date | None = None,
    ) -> None:
        if not _is_loopback(base_url):
            raise ValueError(f"the card reader bridge must be on loopback, not {base_url!r}")
        self._url = base_url.rstrip("/") + "/v1/card/basic"
        self._http = http or httpx.Client(timeout=timeout_s)
        self._today = today

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BridgeCardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self) -> CardData:
        try:
            response = self._http.get(self._url)
        except httpx.ConnectError as exc:
            raise ReaderUnavailable(
                "读卡服务未启动：请检查本机读卡服务程序是否运行，或改用电子社保卡"
            ) from exc
        except httpx.TransportError as exc:
            raise ReaderUnavailable("读卡服务无响应，请检查读卡器连接后重试") from exc
        try:
            body = response.json()
            ret = int(body["ret"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise CardUnreadable(
                f"读卡服务返回的内容无法识别（HTTP {response.status_code}）"
            ) from exc
        message = str(body.get("msg") or "")
        if ret == 1:
            raise NoCardPresent("未检测到社保卡，请将卡插入读卡器后重试")
        if ret == 2:
            raise ReaderUnavailable(f"读卡器未连接或故障，请检查读卡器连接（{message}）")
        if ret != 0:
            raise CardUnreadable(f"读卡失败，请重新插卡（读卡器返回 {ret}：{message}）")
        return parse_basic(str(body.get("out") or ""), today=self._today)
