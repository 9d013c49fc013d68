"""Identifiers the adapter makes: encounters (``mdtrt_id`` upstream), settlements
(``setl_id``) and manual claims. Random, so two instances never collide, and short enough
for every column and upstream field they travel in (≤ 30 characters)."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    """``prefix`` + 24 upper-case hex digits, e.g. ``E3F9A…``."""
    return f"{prefix}{uuid.uuid4().hex[:24].upper()}"


def encounter_id() -> str:
    return new_id("E")


def settlement_id() -> str:
    return new_id("S")


def manual_claim_id() -> str:
    return new_id("M")
