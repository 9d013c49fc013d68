"""HL7 v2 over MLLP: the HIS integration (interfaces.md §2).

The composition root needs only this::

    from connectors.hl7 import ListenerConfig, ListenerThread, build_listener, load_site_profile

    listener = build_listener(engine, commands, load_site_profile("config/hl7_site.toml"),
                              ListenerConfig(host=..., port=2575, allowed_peers=(...),
                                             max_message_bytes=..., ssl_context=None))
    await listener.start() ... await listener.stop()      # inside an event loop, or
    thread = ListenerThread(listener); thread.start(); ...; thread.stop()

Modules: ``mllp`` (framing), ``header`` (MSH from raw bytes, charsets), ``reader`` (fast
segment/field access), ``fieldmap`` (names from hl7apy), ``values`` (TS, NM), ``mapping`` and
``fees`` (messages → commands), ``ack`` (ACKs with hl7apy), ``message_log`` (durable log, on
the tables of ``message_tables``), ``inbound`` (store → process → ACK) with ``decode`` (raw
bytes → message), ``processing`` (message → use case → outcome), ``outcomes`` (outcome → ACK
and logged result) and ``reprocess`` (an operator's re-process), ``listener`` (asyncio
server), ``profile`` (site profile).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from adapter.domain.commands import EncounterCommands
from connectors.hl7.inbound import Hl7Inbound
from connectors.hl7.listener import ListenerConfig, ListenerThread, MllpListener
from connectors.hl7.message_log import MessageLog
from connectors.hl7.message_tables import create_tables, metadata
from connectors.hl7.profile import SiteProfile, SiteProfileError, load_site_profile
from connectors.hl7.reprocess import ReprocessRefused


def build_inbound(
    engine: Engine,
    commands: EncounterCommands,
    profile: SiteProfile,
    *,
    defer_sync: Callable[[], AbstractContextManager[Any]] = nullcontext,
    transactions: Transactions | None = None,
    takeover_after_s: float = 60.0,
) -> Hl7Inbound:
    """The message pipeline (also what ``wi-adapter hl7 reprocess`` uses); ``defer_sync`` marks
    the commits a message's synced ACK commit makes durable, ``transactions`` lets several
    messages share one commit (:mod:`connectors.hl7.inbound`); a resend of a message stored
    ``takeover_after_s`` ago and never answered (its process died) is processed in its place."""
    if transactions is None:
        return Hl7Inbound(
            MessageLog(engine),
            commands,
            profile,
            defer_sync=defer_sync,
            stale_after_s=takeover_after_s,
        )
    return Hl7Inbound(
        MessageLog(engine, joined=transactions.joined),
        commands,
        profile,
        defer_sync=defer_sync,
        group_transaction=transactions.begin,
        stale_after_s=takeover_after_s,
    )


@dataclass(frozen=True)
class Transactions:
    """One transaction several messages join (the store's ``one_transaction`` on the engine):
    ``begin`` opens it for this thread, ``joined`` is its connection while it is open."""

    begin: Callable[[], AbstractContextManager[Any]]
    joined: Callable[[], Connection | None]


def build_listener(
    engine: Engine,
    commands: EncounterCommands,
    profile: SiteProfile,
    config: ListenerConfig | None = None,
) -> MllpListener:
    """An MLLP listener storing into ``engine`` and driving ``commands``; not started yet."""
    return MllpListener(build_inbound(engine, commands, profile), config)


__all__ = [
    "Hl7Inbound",
    "ListenerConfig",
    "ListenerThread",
    "MessageLog",
    "MllpListener",
    "ReprocessRefused",
    "SiteProfile",
    "SiteProfileError",
    "Transactions",
    "build_inbound",
    "build_listener",
    "create_tables",
    "load_site_profile",
    "metadata",
]
