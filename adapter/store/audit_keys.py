"""The audit chain's keys: kept in a file outside the database, rotated by appending.

The key file (``[audit] key_file``; default ``<data_dir>/audit.key``) is text, readable by the
adapter's user only (mode 0600; a file others may read is refused)::

    # wi-adapter audit keys — keep apart from database backups; never edit by hand
    legacy-until 0
    key 5e1f09a2 3f9c…(64 hex digits)
    key c8d0417b a07b…

Each ``key`` line is one HMAC-SHA256 key and its id (a fingerprint of the key); the *last* one
signs new entries, the earlier ones still verify the entries they signed (each entry stores
its ``key_id``). :func:`rotate_key` appends a new key (``wi-adapter audit rotate-key``).
``legacy-until N``: entries 1…N were written before the log was keyed (plain SHA-256); any
later unkeyed entry is a forgery.

:func:`open_keyring` is what start-up runs: it reads the file, or — on first start, when the
log holds no keyed entry yet — creates it (0600) and logs where. A missing file while keyed
entries exist stops start-up: a new key would make the whole log unverifiable.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from adapter.domain.errors import AdapterError

log = logging.getLogger("adapter.audit")

_HEADER = "# wi-adapter audit keys — keep apart from database backups; never edit by hand\n"
_KEY_LINE = re.compile(r"^key\s+([A-Za-z0-9_-]{1,16})\s+([0-9a-fA-F]{64})$")
_LEGACY_LINE = re.compile(r"^legacy-until\s+(\d+)$")


class AuditKeyError(AdapterError):
    """The audit key file is missing, unreadable, malformed or readable by others."""

    code = "AUDIT_KEY_INVALID"


@dataclass(frozen=True)
class AuditKeyring:
    """Every key that ever signed entries (by id), the one signing now, and the legacy range."""

    keys: Mapping[str, bytes]
    current: str
    legacy_until: int = 0
    path: str = ""

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]

    @classmethod
    def generate(cls, key_id: str = "1", *, legacy_until: int = 0) -> AuditKeyring:
        """A keyring with one fresh random key (for tests and a first start)."""
        return cls({key_id: secrets.token_bytes(32)}, key_id, legacy_until)


def read_keyring(path: Path) -> AuditKeyring:
    """The keyring in ``path``; :class:`AuditKeyError` naming the problem otherwise."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditKeyError(f"audit key file {path} does not exist") from None
    except OSError as exc:
        raise AuditKeyError(f"audit key file {path} cannot be read: {exc.strerror}") from None
    if os.name == "posix" and mode & 0o077:
        raise AuditKeyError(
            f"audit key file {path} may be read by others (mode {mode & 0o777:o}); "
            f"run: chmod 600 {path}"
        )
    keys: dict[str, bytes] = {}
    current, legacy = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if match := _KEY_LINE.match(line):
            if match[1] in keys:
                raise AuditKeyError(f"audit key file {path} line {number}: key id {match[1]} twice")
            keys[match[1]] = bytes.fromhex(match[2])
            current = match[1]
        elif match := _LEGACY_LINE.match(line):
            legacy = int(match[1])
        else:
            raise AuditKeyError(f"audit key file {path} line {number} is not understood")
    if not keys:
        raise AuditKeyError(f"audit key file {path} holds no key")
    return AuditKeyring(keys, current, legacy, str(path))


def _write_private(path: Path, text: str, *, replace: bool = True) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600 from the first byte. ``replace=False``:
    :class:`FileExistsError` if ``path`` exists (two processes starting at once make one key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(temporary, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def key_id_of(key: bytes) -> str:
    """A key's id: a short fingerprint, so two keys made apart never share an id (entries
    signed by a key missing from the file are then reported as such, not as altered)."""
    return hmac.new(key, b"wi-adapter audit key id", hashlib.sha256).hexdigest()[:8]


def create_key_file(path: Path, *, legacy_until: int = 0) -> AuditKeyring:
    """A new key file with one random key; refuses to overwrite one."""
    key = secrets.token_bytes(32)
    try:
        text = f"{_HEADER}legacy-until {legacy_until}\nkey {key_id_of(key)} {key.hex()}\n"
        _write_private(path, text, replace=False)
    except FileExistsError:
        raise AuditKeyError(f"audit key file {path} already exists; rotate instead") from None
    return read_keyring(path)


def rotate_key(path: Path) -> AuditKeyring:
    """Append a new key; it signs every entry from now on (the old ones stay, to verify)."""
    read_keyring(path)  # a broken file is not rotated
    key = secrets.token_bytes(32)
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    _write_private(path, f"{text}key {key_id_of(key)} {key.hex()}\n")
    return read_keyring(path)


def open_keyring(
    path: Path, *, keyed_entries: Callable[[], bool], head_seq: Callable[[], int]
) -> AuditKeyring:
    """Start-up: read the key file, or create it when the log holds no keyed entry yet."""
    if path.exists():
        return read_keyring(path)
    if keyed_entries():
        raise AuditKeyError(
            f"audit key file {path} is missing but the audit log holds keyed entries; "
            "restore the key file from its safe copy (set [audit] key_file / "
            "ADAPTER_AUDIT__KEY_FILE to its path)"
        )
    try:
        keyring = create_key_file(path, legacy_until=head_seq())
    except AuditKeyError:
        if path.exists():  # another process created it a moment ago
            return read_keyring(path)
        raise
    log.warning(
        "audit_key_created",
        extra={"path": str(path.resolve()), "legacy_until": keyring.legacy_until},
    )
    return keyring
