"""What the IT pages need from the operator parts, as a :class:`typing.Protocol`.

``adapter.web`` must not import ``upload_queue`` or ``connectors`` (an import contract says
so). The composition root may pass any object with these methods to
:func:`adapter.web.install`; by default :class:`RuntimeOps` duck-types over
``app.state.runtime`` (``queue``, ``call_log``, ``hl7``, ``msgids``, ``engine``, ``audit``,
``wake``).
"""

from __future__ import annotations

from typing import Any, Protocol


class OpsConsole(Protocol):
    def summary(self) -> Any: ...
