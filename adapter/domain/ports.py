"""What the domain needs from the outside world, as protocols.

``connectors/`` implements them and the composition root wires them; tests hand in fakes
that really behave. The upstream gateway's port lives in :mod:`adapter.domain.upstream`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from adapter.domain.people import CardData


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class CardReader(Protocol):
    """A social-security card reader: physical (vendor bridge), electronic, or simulated."""

    def read(self) -> CardData:
        """Read the card presented now; raises an ``AdapterError`` if no card can be read."""
        ...
