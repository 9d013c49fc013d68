"""``simulator``: run the upstream simulator alone (interfaces.md §5), seeded with the demo data."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulator", help="run the upstream simulator alone (reference dialect, demo seed)"
    )
    parser.add_argument("--port", type=int, default=8090, help="port to listen on (default 8090)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="the day the demo seed's dates are relative to (default: today)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from connectors.upstream.clock import SystemClock
    from connectors.upstream.simulator import create_app, demo_seed

    clock = SystemClock()
    seed = demo_seed(args.today or clock.now().date())
    print(f"wi-adapter: upstream simulator on http://{args.host}:{args.port} (Ctrl-C to stop)")
    uvicorn.run(create_app(clock=clock, seed=seed), host=args.host, port=args.port,
                log_level="info")  # fmt: skip
    return 0
