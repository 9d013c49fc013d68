"""The electronic social-security card (电子社保卡): a QR token verified upstream (``WI1102``).

The worker shows the QR code on a phone; the clerk's scanner types the token. The reader
asks upstream who it names and yields :class:`CardData` with ``kind=ECARD``. Upstream's
refusal is told apart: an expired code (:class:`TokenExpired`, "refresh and show again") from
one upstream never issued (:class:`TokenInvalid`); a card reported lost is
:class:`CardLost`. Upstream being unreachable stays ``UpstreamUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable

from adapter.domain.errors import UpstreamRejected
from adapter.domain.people import CardData, CardKind, CardStatus
from adapter.domain.upstream import UpstreamGateway
from connectors.cards.errors import CardLost, TokenExpired, TokenInvalid

EXPIRED_WORDS = ("过期", "失效", "expired")


class ElectronicCardReader:
    """Satisfies :class:`adapter.domain.ports.CardReader` for one scanned token source."""

    def __init__(self, gateway: UpstreamGateway, scan: Callable[[], str]) -> None:
        self._gateway = gateway
        self._scan = scan

    @classmethod
    def for_token(cls, gateway: UpstreamGateway, token: str) -> ElectronicCardReader:
        """A reader for a token already scanned (what the REST API receives)."""
        return cls(gateway, lambda: token)

    def read(self) -> CardData:
        token = self._scan().strip()
        if not token:
            raise TokenInvalid("未扫描到电子社保卡二维码，请让职工出示二维码后重新扫描")
        try:
            record = self._gateway.verify_ecard(token)
        except UpstreamRejected as exc:
            words = exc.upstream_message or exc.message
            if any(word in words for word in EXPIRED_WORDS):
                raise TokenExpired(
                    "电子社保卡二维码已过期，请让职工在手机上刷新后重新出示"
                ) from exc
            raise TokenInvalid(
                f"电子社保卡二维码无效，请让职工重新出示（平台提示：{words}）"
            ) from exc
        person = record.person
        if person.card_status is CardStatus.LOST:
            raise CardLost("该职工的社会保障卡已挂失，不能用于直接结算；请先办理解挂或补卡")
        return CardData(
            kind=CardKind.ECARD,
            card_no=person.card_no,
            citizen_id=person.citizen_id,
            name=person.name,
            gender=person.gender,
            issuing_region=person.insured_admdvs,
            card_sn=person.card_sn,
            status=person.card_status,
            qr_token=token,
            expires_on=record.token_expires_at.date() if record.token_expires_at else None,
        )
