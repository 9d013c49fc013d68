"""The HL7 interface of a running adapter: the MLLP listener on its thread, the message log
IT searches, and a stored message processed again on IT's request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.hl7.inbound import Hl7Inbound
from connectors.hl7.listener import ListenerThread
from connectors.hl7.message_log import LoggedMessage, MessageLog


@dataclass
class Hl7Service:
    inbound: Hl7Inbound
    log: MessageLog
    thread: ListenerThread
    host: str
    port: int

    def start(self) -> None:
        self.port = self.thread.start()

    def stop(self) -> None:
        self.thread.stop()

    def health(self) -> dict[str, Any]:
        """Ready only while the listener accepts connections."""
        if not self.thread.serving:
            return {"ok": False, "error": "HL7 listener is not accepting connections"}
        return {"ok": True, "listening": f"{self.host}:{self.port}"}

    def search(self, **filters: Any) -> list[LoggedMessage]:
        return self.log.search(**filters)

    def reprocess(self, message_id: int, *, actor: str) -> LoggedMessage:
        """Raises ``ReprocessRefused`` (a ``DomainError``) for a duplicate or unreadable one."""
        return self.inbound.reprocess(message_id, actor=actor)
