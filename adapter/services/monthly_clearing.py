"""Settlements at risk of missing clearing: what IT must push before the agency's cutoffs.

A settlement is paid only once upstream has it: the agency declares a month's settlements
by the 20th of the next month (N§35, B§33, B§37), the half-yearly clearing tables are drawn
up on 21 January and 21 July from what is there by then (N§40, N§43), and a year's
settlements are cleared in the next year's first clearing at the latest (N§43, B§44); the
dates are the site's
:class:`~adapter.domain.clearing.ClearingCalendar`. :meth:`Clearing.at_risk` lists every
settlement upload — discharge record ``WI2301``, device settlement ``WI2701``, revocation
``WI2305`` — that is

* **pending** (queued or in flight) or **dead**: listed, with its next cutoff and the days
  left, until it is delivered;
* **late**: delivered after its month's monthly cutoff: listed until the cutoff of the
  clearing it still reaches has passed (the half-yearly one, or for a delivery after that the
  year end), so IT can ask the agency to take it into that clearing.

The upload states come from the upload queue (pending, dead) and its delivery ledger (when
delivered), through the :class:`UploadTracker` port; time is the context's clock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from adapter.domain.clearing import ClearingCalendar, Cutoff, RiskReason, risk_of
from adapter.domain.settlement import settlement_day
from adapter.domain.upstream import Infno
from adapter.services.context import ServiceContext
from adapter.store.repositories import SettlementUpload

KINDS = (Infno.DISCHARGE.value, Infno.DEVICE_SETTLEMENT.value, Infno.SETTLEMENT_REVOKE.value)
# A late delivery stays listed until the cutoff of the clearing it reaches: at the latest the
# next year's first (20 January, ~13 months after a January settlement); settlements and
# deliveries older than this cannot be listed any more.
LATE_LOOKBACK = timedelta(days=400)


@runtime_checkable
class UploadTracker(Protocol):
    """The upload queue's answers about settlement uploads (by msgid, the idempotency key)."""

    def unfinished(self, session: Any, kinds: Any) -> dict[str, str]: ...

    def deliveries_since(
        self, session: Any, kinds: Any, since: datetime
    ) -> dict[str, datetime]: ...


@dataclass(frozen=True)
class AtRisk:
    """One settlement upload at risk of missing clearing."""

    setl_id: str
    slip_no: str
    psn_no: str
    encounter_id: str
    infno: str
    msgid: str
    month: str  # the settlement month (N§35)
    reason: RiskReason
    cutoff: Cutoff  # the next cutoff it must meet
    days_left: int
    delivered_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "setl_id": self.setl_id,
            "slip_no": self.slip_no,
            "psn_no": self.psn_no,
            "encounter_id": self.encounter_id,
            "infno": self.infno,
            "msgid": self.msgid,
            "month": self.month,
            "reason": self.reason.value,
            "reason_label": self.reason.label,
            "cutoff": self.cutoff.on.isoformat(),
            "cutoff_kind": self.cutoff.kind.value,
            "cutoff_label": self.cutoff.kind.label,
            "article": self.cutoff.kind.article,
            "days_left": self.days_left,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
        }


@dataclass(frozen=True)
class ClearingReport:
    today: date
    items: tuple[AtRisk, ...]

    def by_cutoff(self) -> dict[tuple[str, str], int]:
        """(cutoff date, cutoff kind) → how many uploads are at risk of missing it."""
        return dict(Counter((i.cutoff.on.isoformat(), i.cutoff.kind.value) for i in self.items))


class Clearing:
    def __init__(self, ctx: ServiceContext, calendar: ClearingCalendar | None = None) -> None:
        self._ctx = ctx
        self.calendar = calendar or ClearingCalendar()

    def _tracker(self) -> UploadTracker:
        outbox = self._ctx.outbox
        if not isinstance(outbox, UploadTracker):
            raise TypeError("the outbox cannot report upload states (not the upload queue)")
        return outbox

    def at_risk(self, now: datetime | None = None) -> ClearingReport:
        """Every settlement upload at risk now (see the module docstring), earliest cutoff
        first."""
        ctx = self._ctx
        now = now or ctx.now()
        today = ctx.local_date(now)
        tracker = self._tracker()
        found: dict[str, AtRisk] = {}
        with ctx.uow() as uow:
            session = uow.session
            unfinished = tracker.unfinished(session, KINDS)
            delivered = tracker.deliveries_since(session, KINDS, now - LATE_LOOKBACK)
            for row in uow.uploads.of_settlements(KINDS, list(unfinished)):
                self._consider(row, unfinished, delivered, today, found)
            # every upload of the last months, streamed: only those at risk are kept
            for row in uow.uploads.of_settlements_since(KINDS, now - LATE_LOOKBACK):
                if row.msgid in delivered:
                    self._consider(row, unfinished, delivered, today, found)
        items = list(found.values())
        items.sort(key=lambda i: (i.cutoff.on, i.setl_id, i.infno))
        return ClearingReport(today, tuple(items))

    def _consider(
        self,
        row: SettlementUpload,
        unfinished: dict[str, str],
        delivered: dict[str, datetime],
        today: date,
        found: dict[str, AtRisk],
    ) -> None:
        """Put ``row``'s upload in ``found`` if it is at risk today (an upload seen twice is
        one row, decided the same way, and keeps its place)."""
        ctx = self._ctx
        msgid = row.msgid
        day = settlement_day(row.settled_at, ctx.zone)
        monthly = self.calendar.monthly(day)
        at = delivered.get(msgid)
        status = unfinished.get(msgid, "delivered" if at is not None else "")
        if not status:
            return
        delivered_on = ctx.local_date(at) if at else None
        reason = risk_of(status, delivered_on, monthly)
        if reason is None:
            return
        # a late delivery: the clearing it reached; otherwise the next cutoff as of today
        reached = delivered_on if reason is RiskReason.LATE and delivered_on else today
        cutoff = self.calendar.cutoff_for(day, reached)
        left = cutoff.days_left(today)
        if reason is RiskReason.LATE and left < 0:
            return  # the clearing it reached is over: the month's reconciliation shows it
        found[msgid] = AtRisk(
            setl_id=row.settlement_id,
            slip_no=row.slip_no,
            psn_no=row.psn_no,
            encounter_id=row.encounter_id,
            infno=row.infno,
            msgid=msgid,
            month=f"{day:%Y-%m}",
            reason=reason,
            cutoff=cutoff,
            days_left=left,
            delivered_at=at,
        )
