"""Free disk space where the SQLite database lives: IT sees it in /healthz and /metrics, and an
instance about to run out of space reports itself not ready before writes start failing."""

from __future__ import annotations

import shutil
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from adapter.store.migrate import upgrade
from adapter.store.tokens import create_token
from tests.support.database_faults import serving_over
from tests.support.live import adapter_settings


def serve(db_url: str, engine: Engine, min_free_mb: int) -> AbstractContextManager[str]:
    settings = adapter_settings(
        db_url, database={"min_free_mb": min_free_mb}, schedule={"enabled": False}
    )
    return serving_over(engine, settings)


def test_health_and_metrics_report_the_database_disk_s_free_space(
    tmp_path: Path, db_url: str, engine: Engine
) -> None:
    upgrade(engine)
    token = create_token(engine, "信息科-01", ["it"], datetime.now(UTC))
    with serve(db_url, engine, min_free_mb=1) as base:
        health = httpx.get(f"{base}/healthz", timeout=10)
        metrics = httpx.get(
            f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).text
    assert health.status_code == 200, health.text
    checks = health.json()["checks"]
    if engine.dialect.name == "postgresql":  # the server's disk is watched where it runs
        assert "storage" not in checks
        assert "adapter_database_disk_free_bytes" not in metrics
        return
    storage = checks["storage"]
    free_mb = shutil.disk_usage(tmp_path).free // 2**20
    assert storage["ok"] is True and storage["folder"] == str(tmp_path.resolve())
    assert abs(storage["free_mb"] - free_mb) < 256  # the same filesystem, give or take writes
    (line,) = [m for m in metrics.splitlines() if m.startswith("adapter_database_disk_free_bytes")]
    assert abs(float(line.split()[-1]) / 2**20 - free_mb) < 256


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL: no local file
def test_an_instance_short_of_disk_space_is_not_ready(db_url: str, engine: Engine) -> None:
    upgrade(engine)
    more_than_any_disk = 1024**3  # MB: a petabyte
    with serve(db_url, engine, min_free_mb=more_than_any_disk) as base:
        health = httpx.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 503
    assert health.json()["status"] == "degraded"
    storage = health.json()["checks"]["storage"]
    assert storage["ok"] is False and storage["min_free_mb"] == more_than_any_disk
