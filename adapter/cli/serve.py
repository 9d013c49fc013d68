"""``serve`` and ``demo``: run the adapter's HTTP face."""

from __future__ import annotations

import argparse
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

from adapter.settings import (
    ENV_PREFIX,
    PACKAGED_DEFAULTS,
    Settings,
    config_file,
    load_settings,
)


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
    _check_ports(settings, http_how="，或用 --port 或 [http] port（ADAPTER_HTTP__PORT）换一个端口")
    run_server(settings)
    return 0


def _check_ports(settings: Settings, http_how: str) -> None:
    from adapter.cli.ports import check_free

    check_free(settings.http.host, settings.http.port, "HTTP", http_how)
    if settings.hl7.enabled:
        how = "，或用 [hl7] port（ADAPTER_HL7__PORT）换一个端口"
        check_free(settings.hl7.host, settings.hl7.port, "HL7 MLLP", how)


def demo_settings(args: argparse.Namespace) -> Settings:
    """The demo's settings: the config file as for ``serve`` or, with none in sight (an
    installed wheel run from any folder), the packaged defaults ``config init`` writes — the
    demo's institution — logging to stderr only, never into the package's folder."""
    data_dir = Path(args.data_dir).resolve()  # a path typed on the command line: from here
    data_dir.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, Any] = {}
    if config_file() is None:
        os.environ[f"{ENV_PREFIX}CONFIG_FILE"] = str(PACKAGED_DEFAULTS / "adapter.toml")
        overrides["logging"] = {"file": ""}
    return load_settings(
        demo=True,
        data_dir=data_dir,
        database={"url": f"sqlite:///{data_dir}/adapter.db"},
        **overrides,
    )


def _demo(args: argparse.Namespace) -> int:
    from adapter.cli.ports import check_free
    from adapter.demo import run_demo

    settings = demo_settings(args)
    simulator = "（另一个演示？），或用 --simulator-port 换一个端口"
    check_free(settings.http.host, args.simulator_port, "上级系统模拟器", simulator)
    _check_ports(settings, http_how="，或用 [http] port（ADAPTER_HTTP__PORT）换一个端口")
    today = args.today or datetime.now(settings.zone).date()
    run_demo(settings, simulator_port=args.simulator_port, today=today)
    return 0
