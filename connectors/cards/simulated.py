"""A simulated physical card reader for the demo and tests: present a card, remove it, unplug.

It behaves like :class:`~connectors.cards.bridge.BridgeCardReader` — the same errors for no
card and an unplugged reader — without hardware. :func:`card_from_seed` makes the card of a
seeded worker (:mod:`connectors.upstream.simulator.demo_seed`).
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from adapter.domain.people import CardData, CardKind, CardStatus, Gender
from connectors.cards.errors import NoCardPresent, ReaderUnavailable


def card_from_seed(person: dict[str, Any]) -> CardData:
    """The physical card of a worker in the simulator's seed format (the chip says "normal";
    a card reported lost is known upstream only, so its status here is the seed's)."""
    return CardData(
        kind=CardKind.PHYSICAL,
        card_no=person["card_no"],
        citizen_id=person["certno"],
        name=person["psn_name"],
        gender=Gender(person.get("gend", "9")),
        issuing_region=person["insuplc_admdvs"],
        card_sn=person.get("card_sn", ""),
        status=CardStatus(person.get("card_status", "normal")),
        expires_on=date.fromisoformat(person["card_expires_on"])
        if person.get("card_expires_on")
        else None,
    )


class SimulatedCardReader:
    """Satisfies :class:`adapter.domain.ports.CardReader`. Thread-safe."""

    def __init__(self, card: CardData | None = None) -> None:
        self._lock = threading.Lock()
        self._card = card
        self._plugged = True
        self.reads = 0

    def present(self, card: CardData) -> None:
        with self._lock:
            self._card = card

    def remove(self) -> None:
        with self._lock:
            self._card = None

    def unplug(self) -> None:
        with self._lock:
            self._plugged = False

    def plug_in(self) -> None:
        with self._lock:
            self._plugged = True

    def read(self) -> CardData:
        with self._lock:
            self.reads += 1
            if not self._plugged:
                raise ReaderUnavailable("读卡器未连接或故障，请检查读卡器连接")
            if self._card is None:
                raise NoCardPresent("未检测到社保卡，请将卡插入读卡器后重试")
            return self._card
