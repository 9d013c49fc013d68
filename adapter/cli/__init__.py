"""``wi-adapter``: the one console script. Each command group lives in its own module."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapter import __version__
from adapter.domain.errors import AdapterError
from adapter.settings import ENV_PREFIX, SettingsError

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
    try:
        result = args.handler(args)
    except SettingsError as exc:
        print(f"wi-adapter: {exc.message}", file=sys.stderr)
        return 2
    except AdapterError as exc:
        print(f"wi-adapter: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
