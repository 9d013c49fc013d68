"""The MLLP listener as the settings describe it, driving the same services as REST."""

from __future__ import annotations

import ssl
from functools import partial

from sqlalchemy import Engine

from adapter.domain.commands import EncounterCommands
from adapter.settings import Settings
from adapter.store.db import deferred_sync, immediate, joined_transaction, one_transaction
from connectors.hl7 import (
    ListenerConfig,
    ListenerThread,
    MessageLog,
    MllpListener,
    Transactions,
    build_inbound,
    load_site_profile,
)
from connectors.hl7.service import Hl7Service


def build_hl7(settings: Settings, engine: Engine, commands: EncounterCommands) -> Hl7Service:
    hl7 = settings.hl7
    profile = load_site_profile(hl7.site_profile)
    # One sync per A08/DFT: the ACK's synced commit carries the message's earlier ones.
    # Several senders' A08s share one synced commit (SQLite; the pipeline ignores it otherwise).
    transactions = (
        Transactions(
            partial(one_transaction, immediate(engine)), partial(joined_transaction, engine)
        )
        if hl7.group_commit
        else None
    )
    inbound = build_inbound(
        engine,
        commands,
        profile,
        defer_sync=deferred_sync,
        transactions=transactions,
        takeover_after_s=hl7.unanswered_takeover_s,
    )
    listener = ListenerThread(MllpListener(inbound, listener_config(settings)))
    return Hl7Service(inbound, MessageLog(engine), listener, hl7.host, hl7.port)


def listener_config(settings: Settings) -> ListenerConfig:
    hl7 = settings.hl7
    return ListenerConfig(
        host=hl7.host,
        port=hl7.port,
        allowed_peers=tuple(hl7.allowed_peers),
        max_message_bytes=hl7.max_message_bytes,
        idle_timeout_s=hl7.idle_timeout_s,
        max_connections=hl7.max_connections,
        workers=hl7.workers,
        ssl_context=_tls(hl7.tls_cert, hl7.tls_key),
    )


def _tls(cert: str, key: str) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key or None)
    return context
