"""``wi-adapter``: the one console script. Each command group lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from adapter.domain.errors import AdapterError
from adapter.settings import SettingsError

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
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="wi-adapter",
        description="工伤保险跨省异地就医直接结算 协议机构适配器 (work-injury settlement adapter)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
