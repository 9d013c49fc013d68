"""The upload queue's partial lease index, as revision 0011 made it, for the revisions that
rebuild ``upload_job``.

SQLite alters a table by rebuilding it (batch mode), and the rebuild does not reproduce a
partial index: a revision that rebuilds ``upload_job`` drops the index first and makes it again
after. The definition is history (0011's), not the application's: a later revision that
changes the index writes its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

NAME = "upload_job_pending_edf"


def create() -> None:
    op.create_index(
        NAME,
        "upload_job",
        ["deadline", "id"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def drop() -> None:
    op.drop_index(NAME, table_name="upload_job")


@contextmanager
def dropped() -> Iterator[None]:
    """The index dropped while the block rebuilds ``upload_job``, made again after it."""
    drop()
    yield
    create()
