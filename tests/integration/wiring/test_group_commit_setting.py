"""``[hl7] group_commit`` decides whether A08s arriving together share one commit: on by
default on SQLite, off when IT says so; PostgreSQL (many writers at once) never groups."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from adapter.services.container import Services
from adapter.settings import load_settings
from adapter.wiring.hl7 import build_hl7
from tests.integration.services.fixtures import *  # noqa: F403 - the use cases' fixtures


@pytest.mark.parametrize("setting", [True, False])
def test_the_setting_decides_on_sqlite_and_postgresql_never_groups(
    db: Engine, services: Services, setting: bool
) -> None:
    settings = load_settings(hl7={"group_commit": setting})
    hl7 = build_hl7(settings, db, services.commands)
    assert hl7.inbound.group_commit is (setting and db.dialect.name == "sqlite")


def test_it_is_on_as_shipped() -> None:
    assert load_settings().hl7.group_commit is True
