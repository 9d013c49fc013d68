"""The MLLP listener as the settings describe it, driving the same services as REST."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from adapter.domain.commands import EncounterCommands
from adapter.settings import Settings
from connectors.hl7 import (
    Hl7Inbound,
    ListenerConfig,
    ListenerThread,
    MessageLog,
    MllpListener,
    build_inbound,
    load_site_profile,
)


@dataclass
class Hl7Runtime:
    inbound: Hl7Inbound
    log: MessageLog
    thread: ListenerThread
    host: str
    port: int

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: Engine, commands: EncounterCommands
    ) -> Hl7Runtime:
        hl7 = settings.hl7
        profile = load_site_profile(hl7.site_profile)
        inbound = build_inbound(engine, commands, profile)
        listener = MllpListener(inbound, listener_config(settings))
        return cls(inbound, MessageLog(engine), ListenerThread(listener), hl7.host, hl7.port)

    def start(self) -> None:
        self.port = self.thread.start()

    def stop(self) -> None:
        self.thread.stop()

    def health(self) -> dict[str, Any]:
        """Ready only while the listener accepts connections."""
        if not self.thread.serving:
            return {"ok": False, "error": "HL7 listener is not accepting connections"}
        return {"ok": True, "listening": f"{self.host}:{self.port}"}


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


def encounter_commands(settings: Settings, engine: Engine) -> EncounterCommands:
    """The services' ``EncounterCommands``, for ``wi-adapter hl7 reprocess`` outside ``serve``."""
    from adapter.wiring.runtime import build_runtime

    return build_runtime(
        settings, engine=engine, workers=0, hl7=False, scheduled=False
    ).services.commands
