"""A stay whose lines are priced when recorded, and the treatment place's catalogue changed
under it: a version of an item, for a day already charged, published after the charge — the
version in force on a fee's own day prices it (N§32, B§30)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from adapter.domain.catalogue import CatalogueItem, CatalogueKind
from adapter.domain.encounters import Encounter
from adapter.services.container import Services
from adapter.store.uow import UnitOfWork
from tests.integration.services.helpers import admit
from tests.integration.services.support import BEIJING, MovableClock

BED = "110900001A"  # 普通病房床位费（三人间）: a service standard, the fund pays up to 50 a day


def priced_stay(services: Services, clock: MovableClock) -> Encounter:
    """P001's stay, admitted an hour on, past the margin a price is taken with: the prices its
    lines are stored with are what settles (none is stale until the catalogue changes)."""
    clock.advance(timedelta(hours=1))
    return services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter


def publish_later(
    db: Engine, clock: MovableClock, kind: CatalogueKind, code: str, day: date, /, **changes: Any
) -> CatalogueItem:
    """Load (as of ``clock``) the treatment place's version of ``code`` in force on ``day``
    with ``changes``, as upstream publishes a new version; returns the version it copied."""
    with UnitOfWork(db, clock=clock) as uow:
        current = uow.catalogue.treatment_catalogue(BEIJING).lookup(kind, BEIJING, code, day)
        assert current is not None, f"{code} is not in force on {day}"
        uow.catalogue.load([dataclasses.replace(current, **changes)])
        uow.commit()
    return current


def later_bed_standard(
    db: Engine, clock: MovableClock, fee_day: date, price_cap: str, valid_from: date | None = None
) -> CatalogueItem:
    """A bed-day standard of ``price_cap`` a day (version ``2026-late``), in force from the day
    before ``fee_day`` (or ``valid_from``), published now; returns the one in force before."""
    return publish_later(
        db,
        clock,
        CatalogueKind.SERVICE_STANDARD,
        BED,
        fee_day,
        version="2026-late",
        valid_from=valid_from or fee_day - timedelta(days=1),
        price_cap=Decimal(price_cap),
    )
