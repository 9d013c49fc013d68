"""Security headers on the pages: no framing, a strict content policy, nothing cached.

Every HTML response and everything under ``/web`` (except its static files) gets:

* ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` — no page inside another site's
  frame (click-jacking);
* ``Content-Security-Policy`` — scripts, styles, images and fetches from this site only, plus
  ``connect-src`` to the card-reader bridge on the desk's workstation (``[cards] bridge_url``),
  forms posting only here;
* ``Cache-Control: no-store`` — a page with a patient's data is never kept by the browser or a
  proxy (the back button on a shared desk computer shows nothing);
* ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.

The OpenAPI pages (``/docs``, ``/redoc``) load their scripts from a CDN and are left alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_UNTOUCHED = ("/docs", "/redoc", "/openapi.json")
_STATIC = "/web/static/"


def content_security_policy(bridge_url: str = "") -> str:
    """The pages' CSP; ``bridge_url``'s origin may be fetched (the desk's card reader)."""
    connect = "'self'"
    if bridge_url:
        parts = urlsplit(bridge_url)
        connect += f" {parts.scheme}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class PageHeaders:
    """ASGI middleware adding the headers above (pure ASGI: streaming responses pass through)."""

    def __init__(self, app: ASGIApp, *, bridge_url: str = "") -> None:
        self.app = app
        self._headers = [
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", content_security_policy(bridge_url).encode()),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or path.startswith(_UNTOUCHED) or path.startswith(_STATIC):
            await self.app(scope, receive, send)
            return
        on_web = path == "/web" or path.startswith("/web/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if on_web or content_type.startswith(b"text/html"):
                    names = {name for name, _ in self._headers}
                    headers = [(k, v) for k, v in headers if k.lower() not in names]
                    message = {**message, "headers": headers + self._headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
