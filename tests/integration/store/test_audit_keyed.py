"""The keyed audit chain against a database writer: the three forgeries that an unkeyed
chain let through — an edited entry, the last entry deleted with the head set back, the
whole chain recomputed (with plain SHA-256, or with a guessed key) — are all found; the key
lives in a file outside the database, rotates, and anchors pin the head outside it."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, select, update

from adapter.cli import main
from adapter.store.audit import AuditLog, head, install_keyring, installed_keyring, verify
from adapter.store.audit import entry_hash as audit_entry_hash
from adapter.store.audit_anchor import AnchorFileError, read_anchors, write_anchor
from adapter.store.audit_keys import (
    AuditKeyError,
    AuditKeyring,
    create_key_file,
    open_keyring,
    read_keyring,
    rotate_key,
)
from adapter.store.sql import table
from adapter.store.tables import AuditEntryRow, AuditHeadRow
from adapter.store.uow import UnitOfWork
from tests.integration.store.conftest import FakeClock

log = table(AuditEntryRow)
head_row = table(AuditHeadRow)


def _append(store: Engine, clock: FakeClock, count: int, keyring: AuditKeyring) -> None:
    with UnitOfWork(store, clock=clock) as uow:
        audit = AuditLog(uow.session, clock, keyring)
        for n in range(1, count + 1):
            clock.advance(minutes=1)
            audit.append(actor=f"clerk0{n % 2}", role="billing", action="settle",
                         subject_type="settlement", subject_id=f"S{n}",
                         details={"total": f"{n}00.00"})  # fmt: skip
        uow.commit()


def _rechain(store: Engine, *, key_id: str, key: bytes | None, edit: dict[str, str]) -> None:
    """What a database writer can do without the key file: edit entry 2, then recompute every
    hash, link and the head with the hashing it can do (``key``: a guess; None: SHA-256)."""
    with store.begin() as connection:
        if edit:
            connection.execute(update(log).where(log.c.seq == 2).values(**edit))
        rows = connection.execute(select(log).order_by(log.c.seq)).all()
        prev = "0" * 64
        for row in rows:
            digest = audit_entry_hash(
                seq=row.seq, at=row.at, actor=row.actor, role=row.role, action=row.action,
                subject_type=row.subject_type, subject_id=row.subject_id, details=row.details,
                prev_hash=prev, key_id=key_id, key=key,
            )  # fmt: skip
            connection.execute(
                update(log)
                .where(log.c.seq == row.seq)
                .values(prev_hash=prev, hash=digest, key_id=key_id)
            )
            prev = digest
        connection.execute(update(head_row).values(hash=prev))


@pytest.fixture
def keyring() -> AuditKeyring:
    return AuditKeyring.generate("1")


def test_forgery_1_an_edited_entry_is_found(
    store: Engine, clock: FakeClock, keyring: AuditKeyring
) -> None:
    _append(store, clock, 4, keyring)
    assert verify(store, keyring=keyring).ok
    with store.begin() as connection:
        connection.execute(update(log).where(log.c.seq == 2).values(details='{"total":"1.00"}'))
    result = verify(store, keyring=keyring)
    assert (result.ok, result.broken_seq) == (False, 2) and "altered" in result.problem


def test_forgery_2_the_last_entry_deleted_and_the_head_set_back_is_found_by_the_anchor(
    store: Engine, clock: FakeClock, keyring: AuditKeyring, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.jsonl"
    _append(store, clock, 4, keyring)
    written = write_anchor(store, keyring, anchors)
    assert (written.seq, written.hash) == head(store)
    with store.begin() as connection:
        kept = connection.execute(select(log.c.hash).where(log.c.seq == 3)).scalar_one()
        connection.execute(delete(log).where(log.c.seq == 4))
        connection.execute(update(head_row).values(seq=3, hash=kept))
    assert verify(store, keyring=keyring).ok  # the chain alone cannot tell
    result = verify(store, keyring=keyring, anchors=read_anchors(anchors, keyring))
    assert (result.ok, result.broken_seq) == (False, 4)
    assert "anchor" in result.problem and "4 entries" in result.problem


def test_a_line_torn_by_a_power_cut_is_passed_over_and_the_next_anchor_starts_its_own(
    store: Engine, clock: FakeClock, keyring: AuditKeyring, tmp_path: Path
) -> None:
    """Before, the half line made every later read refuse the whole file, and the next anchor
    was glued onto it: `audit verify --anchor` failed on a chain nobody had touched."""
    anchors = tmp_path / "anchors.jsonl"
    _append(store, clock, 2, keyring)
    write_anchor(store, keyring, anchors)
    whole = anchors.read_text()
    with open(anchors, "a", encoding="utf-8") as file:
        file.write(whole[: len(whole) // 2])  # the power went mid-line
    _append(store, clock, 1, keyring)
    written = write_anchor(store, keyring, anchors)
    read = read_anchors(anchors, keyring)
    assert [a.seq for a in read] == [2, written.seq] and written.seq == 3
    assert verify(store, keyring=keyring, anchors=read).ok
    # a whole line that is not ours is still refused
    with open(anchors, "a", encoding="utf-8") as file:
        file.write('{"at": "2026-12-01T00:00:00+00:00", "seq": 1}\n')
    with pytest.raises(AnchorFileError, match="line 4 is not an anchor"):
        read_anchors(anchors, keyring)


def test_on_sqlite_the_anchor_reads_the_head_inside_a_write_of_its_own(
    store: Engine, clock: FakeClock, keyring: AuditKeyring, tmp_path: Path
) -> None:
    """An HL7 message's commits are not synced on their own; an anchor naming an entry still
    in the page cache would, after a power cut, report a truncated chain nobody touched. The
    head is read inside a write (whose synced commit puts the earlier ones on the disk)."""
    if store.dialect.name != "sqlite":
        pytest.skip("PostgreSQL syncs every commit")
    _append(store, clock, 2, keyring)
    seen: list[str] = []

    def trace(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()[:3]).upper())

    event.listen(store, "before_cursor_execute", trace)
    try:
        written = write_anchor(store, keyring, tmp_path / "anchors.jsonl")
    finally:
        event.remove(store, "before_cursor_execute", trace)
    assert written.seq == 2
    # one transaction: a write (a frame for its commit to sync), then the head in it
    assert seen == [
        "BEGIN DEFERRED",
        "UPDATE AUDIT_HEAD SET",
        "SELECT AUDIT_LOG.SEQ, AUDIT_LOG.HASH",
    ]


@pytest.mark.parametrize("hashing", ["sha256", "sha256 under the real key id", "guessed key"])
def test_forgery_3_the_whole_chain_recomputed_without_the_key_is_found(
    store: Engine, clock: FakeClock, keyring: AuditKeyring, hashing: str
) -> None:
    _append(store, clock, 4, keyring)
    edit = {"actor": "someone-else"}
    if hashing == "sha256":
        _rechain(store, key_id="", key=None, edit=edit)
        problem = "not keyed"
    elif hashing == "guessed key":
        _rechain(store, key_id="1", key=secrets.token_bytes(32), edit=edit)
        problem = "altered"
    else:
        _rechain(store, key_id="", key=None, edit=edit)
        with store.begin() as connection:
            connection.execute(update(log).values(key_id="1"))  # claims the key, is SHA-256
        problem = "altered"
    result = verify(store, keyring=keyring)
    assert (result.ok, result.broken_seq) == (False, 1) and problem in result.problem


def test_entries_from_before_the_key_still_verify_and_none_may_follow_unkeyed(
    store: Engine, clock: FakeClock, keyring: AuditKeyring
) -> None:
    _append(store, clock, 3, keyring)
    _rechain(store, key_id="", key=None, edit={})  # as an unkeyed adapter wrote them
    legacy = AuditKeyring(keyring.keys, keyring.current, legacy_until=3)
    _append(store, clock, 2, legacy)
    assert verify(store, keyring=legacy).ok
    assert verify(store, keyring=keyring).broken_seq == 1  # without legacy-until: refused


def test_a_rotated_key_signs_new_entries_and_old_ones_verify_with_theirs(
    store: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "audit.key"
    first = create_key_file(path)
    _append(store, clock, 2, first)
    second = rotate_key(path)
    assert first.current != second.current and set(second.keys) == {first.current, second.current}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    _append(store, clock, 2, second)
    with store.connect() as connection:
        used = connection.execute(select(log.c.key_id).order_by(log.c.seq)).scalars().all()
    assert used == [first.current] * 2 + [second.current] * 2
    assert verify(store, keyring=read_keyring(path)).ok
    lost_old = AuditKeyring({second.current: second.current_key}, second.current)
    assert "lacks" in verify(store, keyring=lost_old).problem


def test_the_key_file_is_created_on_first_start_and_required_once_used(
    store: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "keys" / "audit.key"
    created = open_keyring(path, keyed_entries=lambda: False, head_seq=lambda: 0)
    assert oct(path.stat().st_mode & 0o777) == "0o600" and len(created.current) == 8
    path.unlink()
    with pytest.raises(AuditKeyError, match="missing"):
        open_keyring(path, keyed_entries=lambda: True, head_seq=lambda: 7)
    create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(AuditKeyError, match="chmod 600"):
        read_keyring(path)


def test_an_anchor_line_not_written_with_the_key_is_refused(
    store: Engine, clock: FakeClock, keyring: AuditKeyring, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.jsonl"
    _append(store, clock, 2, keyring)
    write_anchor(store, keyring, anchors)
    line = json.loads(anchors.read_text())
    anchors.write_text(json.dumps({**line, "seq": 1}) + "\n")
    with pytest.raises(AnchorFileError, match="not written with the audit key"):
        read_anchors(anchors, keyring)


def test_cli_anchors_and_verifies_against_the_anchor_file(
    store: Engine, db_url: str, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    anchors = tmp_path / "anchors.jsonl"
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    monkeypatch.setenv("ADAPTER_AUDIT__ANCHOR_FILE", str(anchors))
    _append(store, clock, 3, installed_keyring())
    assert main(["audit", "anchor"]) == 0
    assert main(["audit", "verify", "--anchor", str(anchors)]) == 0
    assert "3 entries checked, 1 anchors matched" in capsys.readouterr().out
    with store.begin() as connection:
        kept = connection.execute(select(log.c.hash).where(log.c.seq == 2)).scalar_one()
        connection.execute(delete(log).where(log.c.seq == 3))
        connection.execute(update(head_row).values(seq=2, hash=kept))
    assert main(["audit", "verify"]) == 0  # without the anchors nothing shows
    assert main(["audit", "verify", "--anchor", str(anchors)]) == 1
    assert "BROKEN at entry 3" in capsys.readouterr().out


def test_a_process_without_an_installed_key_loads_it_from_the_settings(
    store: Engine, db_url: str, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    monkeypatch.setenv("ADAPTER_AUDIT__KEY_FILE", str(tmp_path / "audit.key"))
    saved = installed_keyring()
    install_keyring(None)
    try:
        loaded = installed_keyring(store)
        assert loaded.path == str(tmp_path / "audit.key")
        _append(store, clock, 1, loaded)
    finally:
        install_keyring(saved)
    assert verify(store, keyring=read_keyring(tmp_path / "audit.key")).ok


def test_a_first_append_inside_a_write_lock_loads_the_key_without_waiting_for_that_lock(
    store: Engine, db_url: str, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CLI command (no key installed at start-up) whose first audit entry is written in an
    IMMEDIATE unit of work — the month's reconciliation — reads the log for its key on
    another connection. On SQLite that read must not ask for the write lock its own unit of
    work holds (it waited 30 s and failed with "database is locked")."""
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    monkeypatch.setenv("ADAPTER_AUDIT__KEY_FILE", str(tmp_path / "audit.key"))
    saved = installed_keyring()
    install_keyring(None)
    try:
        with UnitOfWork(store, clock=clock, immediate=True) as uow:
            uow.audit.append(actor="system:schedule", action="reconciliation.run")
            uow.commit()
        assert installed_keyring().path == str(tmp_path / "audit.key")
    finally:
        install_keyring(saved)
    assert verify(store, keyring=read_keyring(tmp_path / "audit.key")).ok


def test_the_running_adapter_anchors_the_head_at_intervals(
    store: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    from adapter.services.audit_anchoring import AuditAnchorer

    anchors = tmp_path / "anchors.jsonl"
    _append(store, clock, 2, installed_keyring())
    anchorer = AuditAnchorer(store, anchors, every_s=0.05)
    anchorer.start()
    try:
        deadline = time.monotonic() + 15
        while not (anchors.exists() and anchors.read_text().count("\n") >= 2):
            assert time.monotonic() < deadline, "no anchor written"
            time.sleep(0.02)
    finally:
        anchorer.stop()
    lines = read_anchors(anchors, installed_keyring())
    assert {(a.seq, a.hash) for a in lines} == {head(store)}
