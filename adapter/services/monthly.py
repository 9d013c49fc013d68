"""The monthly work's use cases, built from the services' own :class:`ServiceContext`.

The existing container (:class:`~adapter.services.container.Services`) is not changed; the
composition root (or the REST dependency, lazily) makes one of these from its context::

    monthly = MonthlyServices(runtime.services.context)
    app.state.monthly = monthly

Everything here shares the context's engine, gateway, outbox, msgid source and clock, so a
confirmation queued here is delivered by the same upload queue as a settlement.
"""

from __future__ import annotations

from adapter.services.context import ServiceContext
from adapter.services.reconciliation import Reconciliations


class MonthlyServices:
    def __init__(self, ctx: ServiceContext):
        self.context = ctx
        self.reconciliation = Reconciliations(ctx)
