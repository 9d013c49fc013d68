"""A page of a stay's fee lines is one statement that the database answers from the stay's
arrival-order index, on both backends: no sort of the stay's lines, no scan of the table, the
lines before the page skipped in the index, wherever the page starts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, event, text

from adapter.store.sql import table
from adapter.store.tables import FeeLineRow
from adapter.store.uow import UnitOfWork
from tests.integration.store import factories as f
from tests.integration.store.conftest import FakeClock

LINES = 3000  # of the stay paged
WARD = 5000  # the other stays' lines arriving between each 100 of its lines: 150,000 in all
INDEX = "ix_fee_line_stay_order"
_fee_line = table(FeeLineRow)


def _stays(store: Engine, clock: FakeClock) -> list[str]:
    """A stay of 3,000 lines whose every 100 arrive between 5,000 of the ward's other stays
    (a 2 % share of the table, as a long stay has in a hospital's year of lines); the stay's
    line ids in arrival order. The ward's lines are copies of one made in the database."""
    model = f.fee_lines()[0]
    columns = [c.name for c in _fee_line.columns if c.name not in ("id", "encounter_id", "line_id")]
    ward = text(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
        f"INSERT INTO fee_line (encounter_id, line_id, {', '.join(columns)}) "
        f"SELECT 'E1', :prefix || n.i, {', '.join(f'm.{c}' for c in columns)} "
        "FROM n, fee_line AS m WHERE m.id = (SELECT min(id) FROM fee_line)"
    )
    ids = []
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter("E0", visit="V0"))
        uow.encounters.add(replace(f.encounter("E1", visit="V1"), psn_no="P002"))
        for batch in range(LINES // 100):
            lines = [replace(model, line_id=f"E0-{batch}-{n:02d}") for n in range(100)]
            uow.fee_lines.add("E0", lines)
            ids += [line.line_id for line in lines]
            uow.session.execute(ward, {"last": WARD - 1, "prefix": f"W{batch}-"})
        uow.commit()
    # statistics, and on PostgreSQL the visibility map an index-only scan needs, as
    # autovacuum keeps them for a table that takes inserts
    with store.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE" if store.dialect.name == "sqlite" else "VACUUM ANALYZE"))
    return ids


def _plan(store: Engine, statement: str, parameters: Any) -> list[str]:
    """How the database reads ``fee_line`` for ``statement`` as it was issued: each access
    (SQLite's plan lines; PostgreSQL's plan nodes as type and index), and any sort."""
    with store.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None  # a checked-out connection
        cursor = driver.cursor()
        if store.dialect.name == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return sorted(row[-1] for row in cursor.fetchall() if "SUBQUERY" not in row[-1])
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        found: list[str] = []
        nodes = [cursor.fetchone()[0][0]["Plan"]]
        while nodes:
            node = nodes.pop()
            nodes += node.get("Plans", [])
            if node["Node Type"] != "Limit":
                found.append(f"{node['Node Type']} {node.get('Index Name', '')}".strip())
        return sorted(found)


def test_a_page_is_one_indexed_read_of_its_own_lines(store: Engine, clock: FakeClock) -> None:
    ids = _stays(store, clock)
    for offset in (0, 1500, 2900, 2990, 3000):
        issued: list[tuple[str, Any]] = []

        def listen(_c: object, _cursor: object, statement: str, parameters: Any, *_: Any) -> None:
            issued.append((statement, parameters))  # noqa: B023 - removed before the next

        event.listen(store, "before_cursor_execute", listen)
        try:
            with UnitOfWork(store) as uow:
                page = uow.fee_totals.page("E0", offset=offset, limit=200)
        finally:
            event.remove(store, "before_cursor_execute", listen)
        assert [s.line.line_id for s in page] == ids[offset : offset + 200]
        # the page's lines and no other, in one statement (the rest begin the transaction)
        [(statement, parameters)] = [(s, p) for s, p in issued if "fee_line" in s]
        plan = _plan(store, statement, parameters)
        if store.dialect.name == "sqlite":
            # the page searched in the index, its start counted off in the index alone
            # (covering: no line read); nothing sorted
            assert plan == [
                f"SEARCH fee_line USING COVERING INDEX {INDEX} (encounter_id=?)",
                f"SEARCH fee_line USING INDEX {INDEX} (encounter_id=? AND id>?)",
            ], plan
        else:
            # the same on PostgreSQL: the start from the index alone, the page by index range
            assert plan == [f"Index Only Scan {INDEX}", f"Index Scan {INDEX}"], plan
