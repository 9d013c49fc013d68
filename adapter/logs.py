"""Structured logging: one line per event, configured once at start-up from ``[logging]``.

Every line carries the time in the site's zone (``+08:00``), the level, the logger, the event
name and the event's fields, as a JSON object (``format = "json"``) or as
``time level logger event key=value …`` (``format = "kv"``). Fields come from ``extra=`` of
the standard library's logging calls, so the code logs as it always did::

    log.info("upload.delivered", extra={"encounter": "E1", "msgid": "H1…"})

and from :func:`bind`, which adds fields to every line logged inside it in the same context
(the HTTP middleware binds ``request_id``; a use case may bind ``encounter``). Personal data is
masked here, with the masking the pages use (:mod:`adapter.domain.people`): a field named like
a citizen ID, card number, phone or a person's name is masked whole, and any 18-character
citizen ID inside any other text is masked too. A line never carries one in full.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from adapter.domain.people import mask_card_no, mask_citizen_id, mask_name, mask_phone

_BOUND: ContextVar[Mapping[str, Any]] = ContextVar(
    "adapter_log_fields", default=MappingProxyType({})
)
_CITIZEN_ID = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")
_MASKERS = {
    "certno": mask_citizen_id,
    "citizen_id": mask_citizen_id,
    "card_no": mask_card_no,
    "card_sn": mask_card_no,
    "tel": mask_phone,
    "phone": mask_phone,
    "mob": mask_phone,
    "psn_name": mask_name,
    "worker_name": mask_name,
    "patient_name": mask_name,
}
# attributes every LogRecord has; anything else on a record came from ``extra=``
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}
_MARK = "_adapter_handler"
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")


def masked(value: Any, key: str = "") -> Any:
    """``value`` with personal data masked (nested mappings and lists too)."""
    if isinstance(value, Mapping):
        return {str(k): masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, key) for v in value]
    if isinstance(value, str):
        if key in _MASKERS and value:
            return _MASKERS[key](value)
        return _CITIZEN_ID.sub(lambda m: mask_citizen_id(m.group()), value)
    return value


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every line logged inside the block (this thread or task only)."""
    token = _BOUND.set({**_BOUND.get(), **fields})
    try:
        yield
    finally:
        _BOUND.reset(token)


def bound() -> Mapping[str, Any]:
    return _BOUND.get()


class StructuredFormatter(logging.Formatter):
    """A record as one JSON object or one ``key=value`` line (see the module docstring)."""

    def __init__(self, style: str = "json", zone: ZoneInfo | None = None) -> None:
        super().__init__()
        self.style = style
        self.zone = zone or ZoneInfo("Asia/Shanghai")

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        event = extra.pop("event", None)
        rendered = record.getMessage()
        if not event and record.args:  # "database_disk_low folder=%s ...": name, then text
            first = str(record.msg).split(" ", 1)[0]
            event = first if _EVENT_NAME.fullmatch(first) else None
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, self.zone).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "event": str(event) if event else rendered,
        }
        if rendered != out["event"]:
            out["message"] = rendered
        out.update(_BOUND.get())
        out.update(extra)
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__
            out["traceback"] = self.formatException(record.exc_info)
        return {k: masked(_plain(v), k) for k, v in out.items()}

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        if self.style == "json":
            return json.dumps(fields, ensure_ascii=False, default=str)
        head = " ".join(str(fields.pop(k)) for k in ("time", "level", "logger", "event"))
        trace = fields.pop("traceback", None)
        tail = " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        line = f"{head} {tail}" if tail else head
        return f"{line}\n{trace}" if trace else line


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool | type(None) | Mapping | list | tuple):
        return value
    return str(value)


def _kv(value: Any) -> str:
    if isinstance(value, str) and value and not re.search(r"[\s\"=]", value):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def configure(
    *,
    level: str = "INFO",
    style: str = "json",
    file: str = "",
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 5,
    zone: ZoneInfo | None = None,
    stream: Any = None,
    terminal: tuple[str, ...] | None = None,
) -> None:
    """Send every logger's lines, formatted, to stderr and (when ``file``) a rotating file.

    ``terminal`` (an operator's command): stderr is a person's terminal, whose command
    answers on stdout in one line — it gets warnings, and the lines of the loggers named, as
    ``kv``; the file gets everything at ``level`` as ``style``, as the service writes it.

    Idempotent: the handlers a previous call installed are replaced. uvicorn's loggers lose
    their own handlers and propagate here, so its lines are formatted the same way.
    """
    formatter = StructuredFormatter(style, zone)
    root = logging.getLogger()
    unconfigure()
    handlers: list[logging.Handler] = []
    if file:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                file, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
            )
        )
    to_stream = logging.StreamHandler(stream or sys.stderr)
    handlers.append(to_stream)
    for handler in handlers:
        setattr(handler, _MARK, True)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    if terminal is not None:
        to_stream.setFormatter(StructuredFormatter("kv", zone))
        to_stream.addFilter(
            lambda record: record.levelno >= logging.WARNING or record.name in terminal
        )
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # libraries that narrate every poll or request at INFO: our own lines say what matters
    for name in ("apscheduler.executors.default", "apscheduler.scheduler", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    # fontTools, subsetting the slip font of each PDF slip: some 40 INFO lines of glyph lists
    # and a WARNING that the font's bitmap table was dropped (as it should be) — every slip
    logging.getLogger("fontTools").setLevel(max(root.level, logging.ERROR))


@contextmanager
def warnings_only_on_the_terminal() -> Iterator[None]:
    """While it lasts, stderr shows warnings and errors only; a log file still gets every
    line at its level. The demo's start-up (catalogues loaded, users made, a month seeded:
    some 35 lines) otherwise pushed its banner — the addresses and tokens a new user came
    for — off the screen."""

    def warnings(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING

    terminals = [
        h
        for h in logging.getLogger().handlers
        if getattr(h, _MARK, False)
        and isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
    ]
    for handler in terminals:
        handler.addFilter(warnings)
    try:
        yield
    finally:
        for handler in terminals:
            handler.removeFilter(warnings)


def configure_from(settings: Any, terminal: tuple[str, ...] | None = None) -> None:
    """:func:`configure` from :class:`adapter.settings.Settings` (its ``[logging]``)."""
    config = settings.logging
    configure(
        level=config.level,
        style=config.format,
        file=config.file,
        max_bytes=config.max_bytes,
        backup_count=config.backup_count,
        zone=settings.zone,
        terminal=terminal,
    )


def unconfigure() -> None:
    """Remove the handlers :func:`configure` installed (tests; a second start-up in-process)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
        handler.close()
