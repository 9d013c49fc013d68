"""What both soak scripts need: a fresh database, process figures, and the run's duration."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scripts.scratch_db import default_admin_url, scratch_database

# The loopback server of this machine kind (trust auth); the soak makes its own database there.
DEFAULT_PG_URL = default_admin_url()


def add_common_arguments(parser: argparse.ArgumentParser, *, default_minutes: float) -> None:
    """``--minutes``/``--seconds``, ``--database``, ``--pg-url``, ``--seed``, ``--keep``."""
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--minutes", type=float, help=f"how long to run (default {default_minutes})"
    )
    length.add_argument("--seconds", type=float, help="how long to run, for short trial runs")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="a PostgreSQL server URL; a fresh database is created on it and dropped at the end "
        "(default: $ADAPTER_TEST_PG_URL or the loopback server)",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: printed)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (logs, SQLite file) on success"
    )


def run_seconds(args: argparse.Namespace, default_minutes: float) -> float | None:
    if args.seconds is not None:
        return float(args.seconds)
    if args.minutes is not None:
        return float(args.minutes) * 60
    return None if getattr(args, "rounds", None) else default_minutes * 60


def in_work_folder(prefix: str, keep: bool, body: Callable[[Path], int]) -> int:
    """Run ``body`` in a temporary folder for logs and the SQLite file, and return its exit
    code. The folder is kept when the run fails (or ``keep``), so the adapter's logs of the
    failed round can be read afterwards; otherwise removed."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    code = 1
    try:
        code = body(folder)
        return code
    finally:
        if code != 0 or keep:
            print(f"work folder kept: {folder}", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_database(kind: str, pg_url: str, folder: Path) -> Iterator[str]:
    """A new, empty database for the run: a SQLite file in ``folder``, or a new PostgreSQL
    database on ``pg_url``'s server, dropped at the end (even when the run fails: its rows
    are in the printed violation, and a soak must not leave databases behind on staging)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/adapter.db"
        return
    with scratch_database(pg_url, "wi_soak") as url:
        yield url


def database_bytes(url: str) -> int:
    """The database's size on disk: the SQLite file with its WAL, or pg_database_size."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
    finally:
        engine.dispose()


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (VmRSS from /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Clock:
    """Elapsed time of the run, for the printed lines."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stamp(self) -> str:
        seconds = int(self.elapsed())
        return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
