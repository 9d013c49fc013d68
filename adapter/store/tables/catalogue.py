"""Catalogue items: every version of every item of every catalogue the adapter prices against.

Unique on (kind, region, code, version); looked up by (kind, region, code). The repositories
load a region's rows once into the domain's in-memory :class:`~adapter.domain.catalogue.Catalogue`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import SQLModel

from adapter.store.tables._common import key_field, money, pk_id, text_field, utc


class CatalogueItemRow(SQLModel, table=True):
    __tablename__ = "catalogue_item"
    __table_args__ = (
        UniqueConstraint("kind", "region", "code", "version", name="uq_catalogue_item_version"),
        Index("ix_catalogue_item_lookup", "kind", "region", "code"),
    )

    id: int | None = pk_id()
    kind: str = key_field(24)
    code: str = key_field()
    name: str = text_field(300)
    region: str = key_field(12)
    unit: str = text_field(32)
    price_cap: Decimal | None = money(nullable=True)
    limit_amount: Decimal | None = money(nullable=True)  # "limit" is an SQL keyword
    version: str = text_field(32)
    valid_from: date
    valid_to: date | None = None
    # When this row was last written: a fee line priced before it is priced again (NULL: loaded
    # before fee lines kept their prices, which are all priced when next read).
    loaded_at: datetime | None = utc(nullable=True)
