"""The monthly work's use cases, built from the services' own :class:`ServiceContext`.

The existing container (:class:`~adapter.services.container.Services`) is not changed; the
composition root (or the REST dependency, lazily) makes one of these from its context::

    monthly = MonthlyServices(runtime.services.context, MonthlyPolicy(device_regions=...))
    app.state.monthly = monthly

Everything here shares the context's engine, gateway, outbox, msgid source and clock, so a
confirmation queued here is delivered by the same upload queue as a settlement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from adapter.domain.clearing import ClearingCalendar
from adapter.services.catalogue_import import CatalogueImport
from adapter.services.catalogue_sync import CatalogueSync
from adapter.services.context import ServiceContext
from adapter.services.deductions import Deductions
from adapter.services.device_funds import DeviceFunds
from adapter.services.monthly_clearing import Clearing
from adapter.services.reconciliation import Reconciliations


@dataclass(frozen=True)
class MonthlyPolicy:
    """Site values for the monthly work (see each use case's module).

    * ``device_funds_remind_after_day`` — a month's device funds are overdue for confirmation
      from this day of the following month (B§40; the agency pushes the month on the 20th).
    * ``device_funds_confirm_within`` — the deadline of the ``WI3301`` upload job.
    * ``device_regions`` — insured places whose device catalogues are synced (N§32), besides
      those already loaded.
    * ``calendar`` — the clearing cutoffs (N§35, B§33, B§37; N§40, N§43).
    * ``deduction_months`` — past months whose audit deductions each fetch reads (N§37).
    """

    device_funds_remind_after_day: int = 25
    device_funds_confirm_within: timedelta = timedelta(days=1)
    device_regions: tuple[str, ...] = field(default_factory=tuple)
    calendar: ClearingCalendar = field(default_factory=ClearingCalendar)
    deduction_months: int = 3


class MonthlyServices:
    def __init__(self, ctx: ServiceContext, policy: MonthlyPolicy | None = None):
        policy = policy or MonthlyPolicy()
        self.context = ctx
        self.policy = policy
        self.reconciliation = Reconciliations(ctx, policy.calendar)
        self.clearing = Clearing(ctx, policy.calendar)
        self.deductions = Deductions(ctx)
        self.device_funds = DeviceFunds(
            ctx,
            remind_after_day=policy.device_funds_remind_after_day,
            confirm_within=policy.device_funds_confirm_within,
        )
        self.catalogue = CatalogueSync(ctx, device_regions=policy.device_regions)
        self.catalogue_import = CatalogueImport(ctx)
