"""The device counter's requests as the REST tests and the end-to-end tests send them: a
fitting of items under an approval notice (N§34, B§34)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.integration.services.device_world import NAMES, NOTICE
from tests.integration.services.helpers import local

P011_CARD = "310100L0011"  # the demo's device worker, filed under NOTICE


def fitting(
    *items: tuple[str, str],
    card_no: str = P011_CARD,
    notice: str = NOTICE,
    hour: int = 9,
    fitted_at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A fitting of ``items`` (code, actual cost) for the worker with ``card_no``, fitted at
    ``fitted_at`` (by default today at ``hour``); ``extra`` as the request's other fields."""
    return {
        "card": {"kind": "physical", "card_no": card_no},
        "approval_notice_no": notice,
        "items": [
            {"device_code": code, "device_name": NAMES.get(code, code), "actual_cost": cost}
            for code, cost in items
        ],
        "fitted_at": (fitted_at or local(0, hour)).isoformat(),
        **extra,
    }
