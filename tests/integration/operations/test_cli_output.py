"""Lists print aligned by display width, in the site's time, and as JSON with --json."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from adapter.cli import main
from adapter.cli.output import pad, width
from adapter.store.migrate import upgrade
from adapter.store.tokens import create_token


@pytest.fixture
def configured(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    upgrade(engine)
    return engine


def test_chinese_text_is_padded_by_the_columns_it_takes() -> None:
    assert width("住院处-01") == 9 and width("HIS") == 3
    assert width(pad("住院处-01", 12)) == 12 and width(pad("HIS", 12)) == 12
    cut = pad("结算处工作站-第一台电脑", 10)
    assert cut.rstrip().endswith("…") and width(cut) == 10


def test_token_list_aligns_chinese_names_shows_site_time_and_has_json(
    configured: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    created = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    create_token(configured, "住院处-01", ["admission"], created)
    create_token(configured, "HIS", ["his"], created)
    assert main(["token", "list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    column = width(header[: header.index("roles")])
    for row, role in zip(rows, ("admission", "his"), strict=True):
        assert width(row[: row.index(role)]) == column, row
    assert all("2026-03-01 08:30:00" in row for row in rows)  # 00:30 UTC is 08:30 in Beijing
    assert main(["token", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed] == ["住院处-01", "HIS"]
    assert listed[0]["created_at"] == "2026-03-01T08:30:00+08:00"
    assert "token_hash" not in listed[0]


def test_user_list_and_hl7_log_have_json(
    configured: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a-long-password-1\n"))
    assert main(["user", "create", "--name", "入院处-01", "--role", "admission",
                 "--password-stdin"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["user", "list", "--json"]) == 0
    (user,) = json.loads(capsys.readouterr().out)
    assert user["name"] == "入院处-01" and user["roles"] == ["admission"]
    assert main(["hl7", "log", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
