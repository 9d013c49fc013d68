"""A PostgreSQL session of an instance whose host lost power is given up in about a minute,
not the operating system's two hours: until then the server keeps the dead session's locks
(a stay being settled, a scheduled run's), and the other instances wait on them or skip."""

from __future__ import annotations

from adapter.settings import load_settings
from adapter.store.db import make_engine


def _server_keepalives(url: str, dead_peer_s: int) -> tuple[str, str, str]:
    engine = make_engine(url, pg_dead_peer_s=dead_peer_s)
    try:
        with engine.connect() as connection:
            shown = [
                str(connection.exec_driver_sql(f"SHOW tcp_keepalives_{name}").scalar_one())
                for name in ("idle", "interval", "count")
            ]
    finally:
        engine.dispose()
    return shown[0], shown[1], shown[2]


def test_the_server_probes_a_silent_instance_and_gives_it_up_within_the_setting(
    pg_url: str,
) -> None:
    shipped = load_settings(database={"url": pg_url}).database.pg_dead_peer_s
    assert shipped == 60
    # idle 30 s, then 3 probes 10 s apart: a minute
    assert _server_keepalives(pg_url, shipped) == ("30", "10", "3")


def test_zero_leaves_the_silent_peer_to_the_operating_system(pg_url: str) -> None:
    """For PgBouncer in transaction mode, which refuses startup options."""
    idle, _, _ = _server_keepalives(pg_url, 0)
    assert idle in ("0", "7200")  # the OS's: two hours (0 where the server cannot tell)
