"""The HL7 site profile: how this hospital's HIS speaks, read from ``config/hl7_site.toml``.

Fee category (which catalogue a fee line is priced against) is decided per FT1 line:

1. FT1-7.3 (the coding system of the item code) looked up in ``[fee_categories.coding_systems]``;
2. otherwise the longest matching prefix of FT1-7.1 in ``[fee_categories.item_code_prefixes]``;
3. otherwise ``fee_categories.default`` when set;
4. otherwise the line cannot be priced and the message is refused (AR at FT1-7).

A wrong profile raises :class:`SiteProfileError` naming the key, at start-up.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapter.domain.errors import AdapterError
from adapter.domain.fees import FeeCategory

DEFAULT_PATH = Path("config/hl7_site.toml")


class SiteProfileError(AdapterError):
    code = "HL7_SITE_PROFILE_INVALID"


def _empty() -> Mapping[str, FeeCategory]:
    return MappingProxyType({})


@dataclass(frozen=True)
class SiteProfile:
    discharge_settles: bool = True  # A03 settles at once (True) or marks ready for billing
    time_zone: str = "Asia/Shanghai"  # for HL7 times sent without an offset
    processing_id: str = "P"  # the MSH-11 applied; others (training T, debugging D) refused
    sending_application: str = "WIADAPTER"  # MSH-3 of our ACKs
    sending_facility: str = ""  # MSH-4 of our ACKs (the institution code)
    category_by_coding_system: Mapping[str, FeeCategory] = field(default_factory=_empty)
    category_by_prefix: Mapping[str, FeeCategory] = field(default_factory=_empty)
    default_category: FeeCategory | None = None

    def __post_init__(self) -> None:
        if self.processing_id.upper() not in ("P", "T", "D"):
            raise SiteProfileError(
                f"processing_id: {self.processing_id!r} is not P, T or D (HL7 table 0103)"
            )
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SiteProfileError(f"time_zone: unknown time zone {self.time_zone!r}") from exc

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def category_for(self, item_code: str, coding_system: str = "") -> FeeCategory | None:
        """The fee category of an item, or ``None`` when the profile cannot tell."""
        if coding_system:
            found = self.category_by_coding_system.get(coding_system.upper())
            if found is not None:
                return found
        best: FeeCategory | None = None
        best_length = -1
        for prefix, category in self.category_by_prefix.items():
            if item_code.startswith(prefix) and len(prefix) > best_length:
                best, best_length = category, len(prefix)
        return best if best is not None else self.default_category


def load_site_profile(path: str | Path = DEFAULT_PATH) -> SiteProfile:
    """Read and check the profile; :class:`SiteProfileError` names the first bad key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SiteProfileError(f"HL7 site profile {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SiteProfileError(f"HL7 site profile {path} is not valid TOML: {exc}") from exc
    return profile_from_mapping(data, source=str(path))


def profile_from_mapping(data: Mapping[str, Any], *, source: str = "profile") -> SiteProfile:
    known = {
        "discharge_settles",
        "time_zone",
        "processing_id",
        "sending_application",
        "sending_facility",
    }
    unknown = set(data) - known - {"fee_categories"}
    if unknown:
        raise SiteProfileError(f"{source}: unknown key {sorted(unknown)[0]!r}")
    settles = data.get("discharge_settles", True)
    if not isinstance(settles, bool):
        raise SiteProfileError(f"{source}: discharge_settles must be true or false")
    texts = {}
    for key in ("time_zone", "processing_id", "sending_application", "sending_facility"):
        if key in data and not isinstance(data[key], str):
            raise SiteProfileError(f"{source}: {key} must be a string")
        if key in data:
            texts[key] = data[key]
    fees = data.get("fee_categories", {})
    if not isinstance(fees, Mapping):
        raise SiteProfileError(f"{source}: fee_categories must be a table")
    unknown = set(fees) - {"default", "coding_systems", "item_code_prefixes"}
    if unknown:
        raise SiteProfileError(f"{source}: unknown key fee_categories.{sorted(unknown)[0]}")
    default_text = fees.get("default", "")
    default = _category(default_text, f"{source}: fee_categories.default") if default_text else None
    systems = _table(fees.get("coding_systems", {}), f"{source}: fee_categories.coding_systems")
    prefixes = _table(
        fees.get("item_code_prefixes", {}), f"{source}: fee_categories.item_code_prefixes"
    )
    return SiteProfile(
        discharge_settles=settles,
        category_by_coding_system=MappingProxyType({k.upper(): v for k, v in systems.items()}),
        category_by_prefix=MappingProxyType(prefixes),
        default_category=default,
        **texts,
    )


def _table(value: object, where: str) -> dict[str, FeeCategory]:
    if not isinstance(value, Mapping):
        raise SiteProfileError(f"{where} must be a table")
    return {str(key): _category(text, f"{where}.{key}") for key, text in value.items()}


def _category(value: object, where: str) -> FeeCategory:
    try:
        return FeeCategory(str(value))
    except ValueError as exc:
        choices = ", ".join(category.value for category in FeeCategory)
        raise SiteProfileError(f"{where}: {value!r} is not one of {choices}") from exc
