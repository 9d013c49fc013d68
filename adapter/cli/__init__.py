"""``wi-adapter``: the one console script. Each command group lives in its own module."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapter import __version__
from adapter.cli.database import NoStore
from adapter.cli.events import log as events_log
from adapter.domain.errors import AdapterError
from adapter.logs import configure as configure_logs
from adapter.logs import configure_from
from adapter.logs import unconfigure as unconfigure_logs
from adapter.settings import ENV_PREFIX, SettingsError, load_settings

CONFIG_VARIABLE = f"{ENV_PREFIX}CONFIG_FILE"

# Modules with a ``register(subparsers)`` function, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "adapter.cli.serve",
    "adapter.cli.token",
    "adapter.cli.migrate",
    "adapter.cli.queue",
    "adapter.cli.simulator",
    "adapter.cli.audit",
    "adapter.cli.hl7",
    "adapter.cli.user",
    "adapter.cli.monthly",
    "adapter.cli.config",
    "adapter.cli.backup",
)


# The Chinese name of each command, put before its English help in ``wi-adapter --help`` (the
# people who run these read Chinese; option names stay English, as in the guide).
CHINESE_HELP = {
    "serve": "运行适配器",
    "demo": "演示（内置模拟器与示例数据）",
    "token": "API 令牌",
    "migrate": "升级数据库结构",
    "queue": "上传队列",
    "simulator": "上级系统模拟器",
    "audit": "审计日志",
    "hl7": "HL7 报文日志",
    "user": "页面用户",
    "reconcile": "对账",
    "deductions": "审核扣款",
    "catalogue": "目录",
    "device-funds": "辅助器具资金到账",
    "config": "配置文件",
    "backup": "备份数据库",
    "restore": "恢复数据库",
}


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="wi-adapter",
        description="工伤保险跨省异地就医直接结算 协议机构适配器 (work-injury settlement adapter)",
    )
    parser.add_argument("--version", action="version", version=f"wi-adapter {__version__}")
    add_config_option(parser, default=None)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for choice in subparsers._choices_actions:  # the listing --help prints
        chinese = CHINESE_HELP.get(choice.dest, "")
        if chinese and chinese not in str(choice.help or ""):
            choice.help = f"{chinese} / {choice.help}"
    return parser


def add_config_option(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    """``--config PATH``: the settings file (as ``ADAPTER_CONFIG_FILE``); relative paths in
    it resolve against its folder. Accepted before the command and after ``serve``/``migrate``."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="配置文件 / the settings file (default: ADAPTER_CONFIG_FILE, else "
        "config/adapter.toml here)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", None):
        os.environ[CONFIG_VARIABLE] = str(Path(args.config).expanduser().resolve())
    # Restored after, for a caller that runs commands in-process.
    root = logging.getLogger()
    level = root.level
    _configure_logs()
    try:
        result = args.handler(args)
    except SettingsError as exc:
        print(f"wi-adapter: {exc.message}", file=sys.stderr)
        return 2
    except AdapterError as exc:
        print(f"wi-adapter: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except NoStore as exc:
        print(f"wi-adapter: {exc}", file=sys.stderr)
        return 1
    finally:
        unconfigure_logs()
        root.setLevel(level)
    return int(result or 0)


def _configure_logs() -> None:
    """An operator's command logs as the service does, through ``[logging]``: the service's
    log file gets its lines at the level and in the format configured — what it changed
    (:mod:`adapter.cli.events`), its warnings (an upstream call that failed), the libraries'
    lines. The terminal (stderr) gets what it changed and its warnings, one ``kv`` line
    each: not the libraries' chatter, so a refusal stays one line and a quiet command quiet.
    Settings that cannot be read (the command says why, or needs none: ``config init``)
    leave warnings on stderr; a log file this user may not write leaves stderr, with a
    warning saying so."""
    try:
        settings = load_settings()
    except SettingsError:
        configure_logs(level="WARNING", style="kv")
        return
    try:
        configure_from(settings, terminal=(events_log.name,))
    except OSError as exc:
        configure_from(settings.model_copy(update={"logging": settings.logging.model_copy(
            update={"file": ""})}), terminal=(events_log.name,))  # fmt: skip
        events_log.warning(
            "log_file_unwritable", extra={"file": settings.logging.file, "error": str(exc)}
        )


if __name__ == "__main__":
    sys.exit(main())
