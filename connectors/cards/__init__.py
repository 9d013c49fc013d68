"""Social-security card readers (interfaces.md §4), each a :class:`adapter.domain.ports.CardReader`.

* :class:`ElectronicCardReader` — the e-card QR token, verified upstream (``WI1102``).
* :class:`BridgeCardReader` — a physical reader through a service on the clerk's workstation
  over loopback HTTP (contract in :mod:`connectors.cards.bridge`).
* :class:`SimulatedCardReader` — for the demo and tests.

Failures are :mod:`connectors.cards.errors`, one class per thing the clerk must do differently.
"""

from connectors.cards.bridge import BridgeCardReader, parse_basic
from connectors.cards.ecard import ElectronicCardReader
from connectors.cards.errors import (
    CardError,
    CardLost,
    CardUnreadable,
    NoCardPresent,
    ReaderUnavailable,
    TokenExpired,
    TokenInvalid,
)
from connectors.cards.simulated import SimulatedCardReader, card_from_seed

__all__ = [
    "BridgeCardReader",
    "CardError",
    "CardLost",
    "CardUnreadable",
    "ElectronicCardReader",
    "NoCardPresent",
    "ReaderUnavailable",
    "SimulatedCardReader",
    "TokenExpired",
    "TokenInvalid",
    "card_from_seed",
    "parse_basic",
]
