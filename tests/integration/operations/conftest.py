"""The real runtime as ``serve`` wires it (services, store, queue, MLLP, simulator over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from tests.support.live import RunningSite, running_site


@contextmanager
def live_adapter(db_url: str, engine: Engine, **sections: Any) -> Iterator[RunningSite]:
    """The adapter running, its scheduler off, with a token for his, billing and it;
    ``sections`` update settings sections, e.g. ``web={"slip_font": "/nowhere.ttc"}``."""
    roles = ["his", "billing", "it"]
    with running_site(db_url, engine, "HIS", roles, schedule={"enabled": False}, **sections) as s:
        yield s
