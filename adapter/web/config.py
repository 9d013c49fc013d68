"""What :func:`adapter.web.install` keeps on ``app.state.web``: the templates, the session
policy, how to reach the operator parts, and where the slip's font is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates

from adapter.web.sessions import SessionPolicy
from adapter.web.throttle import ThrottlePolicy

if TYPE_CHECKING:
    from adapter.web.ops import OpsConsole

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@dataclass
class WebConfig:
    templates: Jinja2Templates
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    ops: OpsConsole | None = None
    font_path: str | None = None  # the slip PDF's CJK font; None: look in well-known places
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    secure_cookies: bool = False  # set when served over HTTPS only
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)  # sign-in lockouts


def web_config(request: Request) -> WebConfig:
    return request.app.state.web
