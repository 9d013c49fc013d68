"""What an operator's command changed, as one log event (``database.backed_up``,
``token.created``): logged through the ``[logging]`` the service uses — stderr and its log
file, time in the site's zone, personal data masked by :mod:`adapter.logs` — with the
operating-system user who ran it as ``actor``. Secrets (tokens, passwords) are never fields.
"""

from __future__ import annotations

import getpass
import logging
from typing import Any

log = logging.getLogger("adapter.cli")


def actor() -> str:
    """``cli:<operating-system user>``: who ran the command, as the audit log names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def changed(event: str, **fields: Any) -> None:
    log.info(event, extra={"event": event, "actor": actor(), **fields})
