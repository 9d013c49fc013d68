"""``api_token``: one per user or workstation, with roles; only the token's hash is stored
(see :mod:`adapter.store.tokens`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from adapter.store.tables._common import flag, key_field, pk_id, text_field, utc


class ApiTokenRow(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = pk_id()
    name: str = key_field(64, index=True)
    roles: str = text_field(128)  # comma-separated
    token_hash: str = Field(max_length=64, nullable=False, unique=True)
    hint: str = text_field(16)  # the last characters, so IT can tell tokens apart
    created_at: datetime = utc()
    revoked: bool = flag()
    revoked_at: datetime | None = utc(nullable=True)
