"""Anchors: the audit chain's head written outside the database, so a rewrite shows.

A database writer who cannot read the audit key still can delete the newest entries and set
the head row back to the last one kept — the remaining chain is intact. An *anchor*, written
where that writer cannot reach, remembers how long the chain was and what its last hash was.
:func:`write_anchor` appends one line of JSON to the anchor file (IT ships the file off the
host: syslog forwarding, a backup job, a log collector) and logs the same fields::

    {"at": "2026-12-02T03:00:00+00:00", "seq": 1234, "hash": "…", "key_id": "1", "mac": "…"}

``mac`` is HMAC-SHA256 under the audit key ``key_id`` over ``anchor|seq|hash|at``, so a line
made up without the key is refused too. ``wi-adapter audit verify --anchor FILE`` checks the
chain against every line (:func:`read_anchors`, :func:`adapter.store.audit.verify`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select, update

from adapter.store.audit import Anchor, head
from adapter.store.audit_keys import AuditKeyring
from adapter.store.sql import table
from adapter.store.tables import AuditEntryRow, AuditHeadRow

log = logging.getLogger("adapter.audit")

_head = table(AuditHeadRow)
_entry = table(AuditEntryRow)


class AnchorFileError(ValueError):
    """An anchor file line that cannot be read or whose MAC does not check."""


@dataclass(frozen=True)
class Written:
    at: str
    seq: int
    hash: str
    path: str


def _mac(key: bytes, seq: int, digest: str, at: str) -> str:
    return hmac.new(key, f"anchor|{seq}|{digest}|{at}".encode(), hashlib.sha256).hexdigest()


def write_anchor(
    engine: Engine, keyring: AuditKeyring, path: Path, now: datetime | None = None
) -> Written:
    """Append the chain's current head to ``path`` (created if needed) and log it."""
    seq, digest = _durable_head(engine)
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    line = {
        "at": at,
        "seq": seq,
        "hash": digest,
        "key_id": keyring.current,
        "mac": _mac(keyring.current_key, seq, digest, at),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # A power cut mid-write leaves the last line torn: start on a line of our own after it
    lead = "" if _ends_a_line(path) else "\n"
    with open(path, "a", encoding="utf-8") as file:
        file.write(lead + json.dumps(line, sort_keys=True) + "\n")
        file.flush()
        os.fsync(file.fileno())
    log.info("audit_anchor", extra={"seq": seq, "hash": digest, "anchor_file": str(path)})
    return Written(at, seq, digest, str(path))


def _durable_head(engine: Engine) -> tuple[int, str]:
    """The head, once it is on the disk. On SQLite an HL7 message's commits are not synced on
    their own (its ACK's synced commit carries them), so the newest entries may still be in
    the page cache: an anchor naming one that a power cut then takes would report a truncated
    chain nobody touched. The head is read inside a write whose commit is synced — in WAL mode
    that sync puts every earlier commit on the disk too."""
    if engine.dialect.name != "sqlite":
        return head(engine)  # PostgreSQL syncs each commit (synchronous_commit)
    with engine.begin() as connection:
        connection.execute(update(_head).values(seq=_head.c.seq))  # a frame to sync
        row = connection.execute(
            select(_entry.c.seq, _entry.c.hash).order_by(_entry.c.seq.desc()).limit(1)
        ).first()
    return (int(row.seq), str(row.hash)) if row else head(engine)


def _ends_a_line(path: Path) -> bool:
    """Whether ``path`` is empty, missing, or ends with a whole line."""
    try:
        with open(path, "rb") as file:
            if file.seek(0, os.SEEK_END) == 0:
                return True
            file.seek(-1, os.SEEK_END)
            return file.read(1) == b"\n"
    except FileNotFoundError:
        return True


def _torn(text: str) -> bool:
    """A line cut short by a power cut while it was written: the start of one of ours, never
    closed. It says nothing (its MAC is missing), so it is passed over, not refused."""
    stripped = text.strip()
    return stripped.startswith("{") and not stripped.endswith("}")


def read_anchors(path: Path, keyring: AuditKeyring) -> list[Anchor]:
    """Every anchor in ``path``; :class:`AnchorFileError` for a line that is not one of ours
    (a torn line is passed over with a warning, ``audit_anchor_torn``)."""
    anchors = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        if _torn(text):
            log.warning("audit_anchor_torn", extra={"anchor_file": str(path), "line": number})
            continue
        try:
            line = json.loads(text)
            at, seq, digest = str(line["at"]), int(line["seq"]), str(line["hash"])
            key_id, mac = str(line["key_id"]), str(line["mac"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorFileError(f"{path} line {number} is not an anchor ({exc})") from None
        key = keyring.keys.get(key_id)
        if key is None:
            raise AnchorFileError(f"{path} line {number} names audit key {key_id!r}, unknown")
        if not hmac.compare_digest(_mac(key, seq, digest, at), mac):
            raise AnchorFileError(f"{path} line {number} was not written with the audit key")
        anchors.append(Anchor(at, seq, digest))
    return anchors
