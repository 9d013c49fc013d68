"""Every HTTP request: a request id, one log line and the request metrics.

The request id is the client's ``X-Request-ID`` when it sends a sane one (a proxy's), else a
fresh one; it is bound to every log line written while the request is handled and sent back
in ``X-Request-ID``. When the request is answered, one ``http.request`` line says method,
route template, path parameters (an encounter, a settlement), status and duration — and, for
a problem answer, its ``error_codes`` (comma-separated, as ``hl7.message`` lines give them), so
the log says why a request was refused — and
``http_requests_total`` / ``http_request_duration_seconds`` count it by route template (never
by the raw path, so the number of series stays bounded) and status.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapter.logs import bind

log = logging.getLogger("adapter.http")
HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# paths polled by orchestrators and scrapers: counted, logged at DEBUG only
_QUIET = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})
_PROBLEM = b"application/problem+json"
_PROBLEM_READ = 64 * 1024  # a problem is a few hundred bytes; never buffer a large answer


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )


METRICS = HttpMetrics(REGISTRY)


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestObserver:
    """Pure ASGI middleware (no body buffering, streaming answers pass through)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics = METRICS) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        status = 500
        began = time.perf_counter()
        problem: bytearray | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, problem
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                if dict(headers).get(b"content-type", b"").startswith(_PROBLEM):
                    problem = bytearray()
                headers.append((HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            elif problem is not None and len(problem) < _PROBLEM_READ:
                problem += message.get("body", b"")
            await send(message)

        with bind(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                codes = _error_codes(problem) if problem is not None else ""
                self._done(scope, status, time.perf_counter() - began, codes)

    def _done(self, scope: Scope, status: int, elapsed: float, codes: str = "") -> None:
        route = route_template(scope)
        method = scope.get("method", "")
        labels = {"method": method, "route": route, "status": str(status)}
        self.metrics.requests.labels(**labels).inc()
        self.metrics.duration.labels(**labels).observe(elapsed)
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
            **{str(k): v for k, v in (scope.get("path_params") or {}).items()},
        }
        client = scope.get("client")
        if client:
            fields["client"] = client[0]
        if codes:
            fields["error_codes"] = codes
        level = logging.DEBUG if scope.get("path") in _QUIET and status < 500 else logging.INFO
        log.log(level, "http.request", extra=fields)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == HEADER.encode():
            text = value.decode("latin-1").strip()
            if _SANE.match(text):
                return text
    return uuid.uuid4().hex[:16]


def _error_codes(body: bytearray) -> str:
    """The ``errors[].code`` of a problem answer, comma-separated ('' when unreadable)."""
    try:
        errors = json.loads(bytes(body)).get("errors") or []
        return ",".join(str(e["code"]) for e in errors if isinstance(e, dict) and "code" in e)
    except (ValueError, AttributeError, TypeError):
        return ""
