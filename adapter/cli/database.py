"""The configured database, opened for an operator's command only if it is the adapter's.

A command run against the wrong ``[database] url`` — a relative SQLite path is read against
the config file's folder, not the working directory — used to create an empty file there and
end in a traceback (``no such table``), or — for ``token`` and ``user``, which migrated it —
a token or user the server never saw. Commands that read or change what the adapter stored
open the database here instead: a missing SQLite file, or a database never migrated, is
refused in one line naming where it looked, and nothing is created.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from adapter.store.db import make_engine
from adapter.store.migrate import current

__all__ = ["NoStore", "open_existing", "open_migrated"]


class NoStore(Exception):
    """The configured database is missing or has no adapter tables (one line for stderr)."""


def open_existing(url: str) -> Engine:
    """An engine on ``url``, unless it names a SQLite file that is not there (opening one
    would create it empty)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or not Path(database).is_file():
            raise NoStore(
                f"no database file at {database or '(none)'} ([database] url = {_shown(url)}); "
                "check the setting (a relative path is read against the config file's "
                "folder), or run `wi-adapter migrate` to create it"
            )
    return make_engine(url)


def open_migrated(url: str) -> Engine:
    """An engine on ``url``, once it is known to hold the adapter's tables."""
    engine = open_existing(url)
    shown = _shown(url)
    if current(engine) is None:
        engine.dispose()
        raise NoStore(
            f"the database at {shown} has no adapter tables; run `wi-adapter migrate` first, "
            "or check [database] url"
        )
    return engine


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
