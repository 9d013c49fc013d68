"""``serve`` and ``demo``: run the adapter's HTTP face."""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path
from typing import Any

from adapter.settings import load_settings


def register(subparsers: Any) -> None:
    from adapter.cli import add_config_option

    serve = subparsers.add_parser("serve", help="运行适配器 / run the adapter as configured")
    add_config_option(serve)
    serve.add_argument("--host", help="HTTP address (default: [http] host)")
    serve.add_argument("--port", type=int, help="HTTP port (default: [http] port)")
    serve.set_defaults(handler=_serve)
    demo = subparsers.add_parser(
        "demo", help="run the adapter with the built-in demo (SQLite, simulator, sample data)"
    )
    demo.add_argument("--data-dir", default="data/demo", help="where the demo database lives")
    demo.add_argument("--simulator-port", type=int, default=8090, help="the simulator's port")
    demo.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="the simulator's today (YYYY-MM-DD); default: today in the site's time zone",
    )
    demo.set_defaults(handler=_demo)


def _serve(args: argparse.Namespace) -> int:
    from adapter.bootstrap import run_server

    http: dict[str, Any] = {}
    if args.host:
        http["host"] = args.host
    if args.port:
        http["port"] = args.port
    settings = load_settings()
    if http:
        settings = settings.model_copy(update={"http": settings.http.model_copy(update=http)})
    run_server(settings)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from adapter.demo import run_demo

    data_dir = Path(args.data_dir).resolve()  # a path typed on the command line: from here
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        demo=True,
        data_dir=data_dir,
        database={"url": f"sqlite:///{data_dir}/adapter.db"},
    )
    today = args.today or datetime.now(settings.zone).date()
    run_demo(settings, simulator_port=args.simulator_port, today=today)
    return 0
