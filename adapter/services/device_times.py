"""The one check of a device fitting's time (N§16, N§34, B§26, B§34, B§35): the REST fitting,
the device desk page (its fitting, its preview confirmed later, its manual-claim form) and a
case recorded while upstream is down (:mod:`.device_claims`) all come through
:func:`check_fitted_at`, so one fitting time is judged alike whichever way it came in. The
bounds and why: :mod:`adapter.domain.device_times`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from adapter.domain.device_times import check_after_filing
from adapter.domain.filings import Filing
from adapter.services.admission import require_aware
from adapter.services.context import ServiceContext


def check_fitted_at(
    ctx: ServiceContext,
    fitted_at: datetime,
    *,
    notice: str = "",
    filings: Iterable[Filing] = (),
    registered_at: datetime | None = None,
    aged: bool = True,
) -> None:
    """``fitted_at`` aware, not ahead of the clock (``FITTING_IN_FUTURE``), not before the
    worker's device filing carrying ``notice`` took effect (``FITTING_BEFORE_FILING``; the
    ``filings`` upstream sent, or the store's while upstream is down) and — with ``aged`` —
    not older than ``[devices]`` ``max_fitting_age_days`` before ``registered_at`` (when the
    fitting was first registered here: a case's recording; by default now;
    ``FITTING_TOO_OLD``). ``aged`` is off for a fitting already registered here (a replay,
    a revoked fitting settled again with its time): its time was checked then."""
    require_aware(fitted_at, "fitted_at")
    now = ctx.now()
    ctx.policy.fittings.check_ahead(fitted_at, now)
    if aged:
        ctx.policy.fittings.check_age(fitted_at, registered_at or now, zone=ctx.zone)
    check_after_filing(fitted_at, filings, notice, zone=ctx.zone)
