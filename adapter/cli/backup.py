"""``backup PATH`` and ``restore PATH``: the database as one file, for SQLite.

SQLite: ``backup`` copies the live database with SQLite's online backup API (safe while the
adapter runs; WAL included), into ``PATH`` or, when ``PATH`` is a folder (or is not there yet
and has no suffix), a file named by the time in it (``adapter-20261206T000000.250Z.db``, never
one already there); ``restore`` checks the file (integrity, the adapter's
schema) and copies it back the same way — stop the adapter first. PostgreSQL: both print the
``pg_dump`` / ``pg_restore`` command to run and exit 2, since the server's own tools do it
better.
"""

from __future__ import annotations

import argparse
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from adapter.cli.events import changed
from adapter.cli.progress import progress_bar
from adapter.settings import load_settings

PROGRESS_HELP = "进度条 / draw a progress bar on stderr (drawn anyway on a terminal)"


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, progress: bool) -> None:
    """SQLite's online backup, in steps of 1024 pages when a progress bar is drawn."""
    bar = progress_bar(progress)
    if bar is None:
        source.backup(target)
        return
    source.backup(
        target,
        pages=1024,
        progress=lambda _status, remaining, total: bar("copy", total - remaining, total),
    )


def register(subparsers: Any) -> None:
    backup = subparsers.add_parser(
        "backup", help="备份数据库 / back up the database (SQLite; PostgreSQL: what to run)"
    )
    backup.add_argument(
        "path", type=Path, help="a file (x.db), or a folder for a dated file (made if missing)"
    )
    backup.add_argument("--progress", action="store_true", help=PROGRESS_HELP)
    backup.set_defaults(handler=_backup)
    restore = subparsers.add_parser(
        "restore", help="从备份恢复数据库 / restore the database (stop the adapter first)"
    )
    restore.add_argument("path", type=Path, help="a file `wi-adapter backup` wrote")
    restore.add_argument("--progress", action="store_true", help=PROGRESS_HELP)
    restore.set_defaults(handler=_restore)


def _database() -> tuple[str, Path | None]:
    url = make_url(load_settings().database.url)
    if url.get_backend_name() != "sqlite":
        return url.render_as_string(hide_password=True).replace("+psycopg", ""), None
    return "", Path(url.database or "")


def _backup(args: argparse.Namespace) -> int:
    server, database = _database()
    target: Path = args.path.expanduser()
    if database is None:
        print(f"PostgreSQL: run   pg_dump -Fc -d '{server}' -f {target}")
        return 2
    if not database.is_file():
        print(f"wi-adapter: database {database} does not exist")
        return 1
    # a path that is not there yet and has no file suffix (`/backup`) is a folder to make, as
    # the guide uses it: taken as a file name, each night's backup replaced the last.
    if target.is_dir() or (not target.exists() and not target.suffix):
        target.mkdir(parents=True, exist_ok=True)
        target = _new_file(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database) as source, sqlite3.connect(target) as copy:
        _copy(source, copy, args.progress)
    copy.close()
    source.close()
    size = target.stat().st_size
    changed("database.backed_up", database=str(database), file=str(target), bytes=size)
    print(f"backed up {database} to {target} ({size} bytes)")
    return 0


def _new_file(folder: Path) -> Path:
    """A file of its own for this backup in ``folder``, made here so no other backup takes it.

    Named by UTC with a Z (the local clock's name did not say whose clock, and repeated an
    hour where summer time ends), to the millisecond: two backups within one second shared a
    name and the second silently replaced the first. A name already taken (the same
    millisecond) moves on by a millisecond, so the names still sort as the backups were taken.
    """
    moment = datetime.now(UTC)
    while True:
        target = folder / f"adapter-{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}Z.db"
        try:
            target.touch(exist_ok=False)
        except FileExistsError:
            moment += timedelta(milliseconds=1)
            continue
        return target


def _restore(args: argparse.Namespace) -> int:
    server, database = _database()
    source_file: Path = args.path.expanduser()
    if database is None:
        print(f"PostgreSQL: stop the adapter, then run   pg_restore -c -d '{server}' {source_file}")
        return 2
    if not source_file.is_file():
        print(f"wi-adapter: backup {source_file} does not exist")
        return 1
    with sqlite3.connect(f"file:{source_file}?mode=ro", uri=True) as source:
        problem = _check(source)
        if problem:
            print(f"wi-adapter: {source_file} is not a usable backup: {problem}")
            return 1
        database.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(database) as live:
            _copy(source, live, args.progress)
        live.close()
    source.close()
    changed("database.restored", database=str(database), file=str(source_file))
    print(f"restored {database} from {source_file}")
    print("  next: wi-adapter audit verify; wi-adapter queue summary; then start the adapter")
    return 0


def _check(connection: sqlite3.Connection) -> str:
    try:
        (verdict,) = connection.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            return f"integrity check says {verdict}"
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "" if row else "no schema version (not an adapter database)"
