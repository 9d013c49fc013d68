"""The real runtime as ``serve`` wires it (services, store, queue, MLLP, simulator over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine

from adapter.bootstrap import build_app
from adapter.demo import insured_regions, load_catalogues
from adapter.settings import load_settings
from adapter.store.migrate import upgrade
from adapter.store.tokens import create_token
from adapter.wiring.runtime import Runtime, build_runtime
from connectors.upstream.simulator import start_simulator
from tests.e2e.test_hl7_matches_rest import SHANGHAI
from tests.support.live import serving
from tests.support.ports import free_port


class Live(NamedTuple):
    base: str  # HTTP
    port: int  # MLLP
    headers: dict[str, str]  # a token for his, billing and it
    runtime: Runtime
    simulator: str  # its URL


@contextmanager
def live_adapter(db_url: str, engine: Engine, **sections: dict[str, Any]) -> Iterator[Live]:
    """The adapter running; ``sections`` update settings sections, e.g.
    ``web={"slip_font": "/nowhere.ttc"}``."""
    upgrade(engine)
    with start_simulator() as simulator:
        settings = load_settings(database={"url": db_url})
        updates: dict[str, Any] = {
            "upstream": {"base_url": simulator.url},
            "hl7": {"port": free_port()},
            "queue": {"workers": 1, "poll_seconds": 0.2},
            "schedule": {"enabled": False},
        }
        for name, values in sections.items():
            updates[name] = {**updates.get(name, {}), **values}
        settings = settings.model_copy(
            update={k: getattr(settings, k).model_copy(update=v) for k, v in updates.items()}
        )
        runtime = build_runtime(settings)
        today = datetime.now(SHANGHAI).date()
        load_catalogues(runtime.engine, runtime.gateway, "110100", insured_regions(today))
        token = create_token(runtime.engine, "HIS", ["his", "billing", "it"], datetime.now(UTC))
        with serving(build_app(settings, runtime)) as base:
            headers = {"Authorization": f"Bearer {token}"}
            yield Live(base, settings.hl7.port, headers, runtime, simulator.url)
