"""The desks in the header, and which roles open each."""

from __future__ import annotations

NAV = (
    (frozenset({"admission"}), "/web/admission", "入院登记"),
    (frozenset({"billing"}), "/web/billing", "结算收费"),
    (frozenset({"device"}), "/web/device", "辅助器具配置"),
    (frozenset({"it"}), "/web/monitor", "上传队列监控"),
    (frozenset({"billing", "it", "device"}), "/web/reconciliation", "月度对账"),
)


def nav_for(roles: frozenset[str] | set[str]) -> list[tuple[str, str]]:
    """The desks a user's roles open, in the order of :data:`NAV`."""
    return [(href, label) for allowed, href, label in NAV if allowed & set(roles)]
