"""Every time in a JSON answer carries the site's offset (``+08:00`` in China).

The store hands back aware UTC times and the use cases keep whatever zone they were given,
so the same instant could leave as ``+08:00``, ``+00:00`` or ``Z``. The response models
(:class:`adapter.api.routes.common.Out`) move every ``datetime`` into the site's zone with
:func:`in_site_zone`; :class:`SiteZone` tells it the running app's zone for the request.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError
from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")  # adapter.settings.Settings.time_zone's default
ZONE: ContextVar[tzinfo] = ContextVar("site_zone", default=DEFAULT_ZONE)


def in_site_zone(value: datetime) -> datetime:
    """The same instant in the site's zone; a naive time is taken as UTC (how the store
    keeps it)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(ZONE.get())


def site_time(value: datetime) -> str:
    """ISO 8601 in the site's zone."""
    return in_site_zone(value).isoformat()


def _in_the_calendar(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "时间超出可用范围（公元1年至9999年）"
        ) from None
    return value


# A time a client filters by (``?since=``, ``?until=``): with its zone, as in a body (a naive
# one is a 422, not a guessed zone), and one whose UTC is still in the calendar (the store
# compares in UTC: ``0001-01-01T00:00:00+08:00`` would overflow into a 500).
QueryTime = Annotated[AwareDatetime, AfterValidator(_in_the_calendar)]


class SiteZone:
    """Sets the app's zone for the request, so the response models render in it."""

    def __init__(self, app: ASGIApp, zone: tzinfo) -> None:
        self.app = app
        self.zone = zone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = ZONE.set(self.zone)
        try:
            await self.app(scope, receive, send)
        finally:
            ZONE.reset(token)
