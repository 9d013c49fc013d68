"""The web face: server-rendered pages for the desks and IT, and the settlement slip.

The composition root calls :func:`install` on the app ``build_app`` made::

    from adapter.web import install
    install(app)                      # pages under /web, the slip under /api/v1

Nothing in ``adapter.api`` imports this package. The pages reach the use cases through
the typed dependencies of :mod:`adapter.api.deps` and the operator parts (upload queue, call
log, HL7 log) through an :class:`~adapter.web.ops.OpsConsole` — by default
:class:`~adapter.web.ops.OperationsConsole` over the operator use cases. Users and sessions
live in :mod:`adapter.store.tables.web`.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from adapter.web.auth import install_handlers
from adapter.web.config import STATIC, WebConfig
from adapter.web.error_pages import install_error_pages
from adapter.web.headers import PageHeaders
from adapter.web.ops import OpsConsole
from adapter.web.render import make_templates
from adapter.web.sessions import SessionPolicy
from adapter.web.throttle import ThrottlePolicy
from adapter.web.users import DEMO_PASSWORD, create_demo_users, set_hash_cost

__all__ = ["DEMO_PASSWORD", "create_demo_users", "install"]


def install(
    app: FastAPI,
    *,
    ops: OpsConsole | None = None,
    sessions: SessionPolicy | None = None,
    font_path: str | None = None,
    secure_cookies: bool = False,
) -> None:
    """Add the pages, the slip route, static files and the sign-in handlers to ``app``.

    ``ops`` defaults to the operator use cases the app was given, looked up per request.
    ``sessions``, ``font_path`` and ``secure_cookies`` default to the app's ``[web]`` settings.
    ``font_path`` names the slip PDF's TrueType CJK font (else ``ADAPTER_SLIP_FONT``, else the
    well-known system paths). ``secure_cookies``: cookies only over HTTPS. Pages get
    security headers (:mod:`adapter.web.headers`); the CSP lets them reach the card-reader bridge
    at ``settings.cards.bridge_url``.
    """
    from adapter.web import slip_routes
    from adapter.web.pages import (
        admission,
        billing,
        billing_claims,
        device,
        monitor,
        password,
        reconciliation,
        signin,
        stay,
    )

    settings = getattr(app.state, "settings", None)
    zone = ZoneInfo(getattr(settings, "time_zone", "Asia/Shanghai"))
    web = getattr(settings, "web", None)
    throttle = ThrottlePolicy()
    if web is not None:
        set_hash_cost(web.password_hash_n)  # the settings refused a cheap one outside the demo
        sessions = sessions or SessionPolicy(
            idle=timedelta(minutes=web.session_idle_minutes),
            absolute=timedelta(hours=web.session_max_hours),
        )
        font_path = font_path or web.slip_font or None
        secure_cookies = secure_cookies or web.secure_cookies
        throttle = ThrottlePolicy(
            user_failures=web.signin_max_failures,
            address_failures=web.signin_address_max_failures,
            window=timedelta(minutes=web.signin_window_minutes),
            lockout=timedelta(minutes=web.signin_lockout_minutes),
        )
    app.state.web = WebConfig(
        templates=make_templates(zone),
        sessions=sessions or SessionPolicy(),
        ops=ops,
        font_path=font_path,
        zone=zone,
        secure_cookies=secure_cookies,
        throttle=throttle,
    )
    install_error_pages(app)  # before the sign-in handlers: those answer with pages already
    install_handlers(app)
    cards = getattr(settings, "cards", None)
    app.add_middleware(PageHeaders, bridge_url=getattr(cards, "bridge_url", ""))
    app.mount("/web/static", StaticFiles(directory=STATIC), name="web-static")
    pages = (
        signin,
        password,
        admission,
        billing,
        billing_claims,
        device,
        monitor,
        reconciliation,
        slip_routes,
        stay,
    )
    for module in pages:
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/", status_code=307)
