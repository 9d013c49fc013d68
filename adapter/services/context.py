"""What every use case is built from: explicit dependencies and the site's policy values.

:class:`ServiceContext` is made once by :class:`~adapter.services.container.Services` and
shared by the use-case classes; nothing in it is global. Times: the clock is aware; "local"
means the institution's time zone, which is what a clerk's dates (admission day, slip day,
filing validity) are counted in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from adapter.domain.device_times import FittingTimes
from adapter.domain.ports import Clock, MsgidSource, Outbox
from adapter.domain.stay_times import TimeWindow
from adapter.domain.upstream import UpstreamGateway
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class InstitutionProfile:
    """This adapter's institution, as configured (``[institution]`` in adapter.toml)."""

    code: str  # fixmedins_code, 12 characters
    name: str
    kinds: frozenset[str]  # "medical", "rehab", "device"
    admdvs: str  # the city it is in: the treatment place (就医地)
    province: str = ""


@dataclass(frozen=True)
class Policy:
    """Site policy values; the defaults follow the articles named.

    * ``upload_within`` — the discharge record (WI2301) and a device settlement (WI2701) are
      due this long after settlement (N§33, N§34, B§32, B§35: 30 minutes).
    * ``admission_upload_within`` / ``revocation_upload_within`` — the same urgency for the
      admission registration (WI2401/WI2404) and a settlement revocation (WI2305): no article
      sets one, and a revocation must not linger behind later work.
    * ``rehab_plan_upload_within`` — the rehab plan (WI2501) is due "before discharge"
      (N§33, B§32). Discharge is not known in advance, so its deadline is the earlier of the
      expected discharge (admission + expected days) and this window after the plan was
      saved, and never less than ``upload_within`` from now. See :mod:`.rehab`.
    * ``manual_claim_wait`` — how long upstream must have been unreachable before a stay may
      go to manual reimbursement for that reason (N§38, B§27).
    * ``fee_batch_size`` — fee details are uploaded in batches of this many lines (§3).
    * ``fittings`` — how far ahead of the clock (the stays' ``clock_skew``) and how many days
      back (``[devices]``; no article sets it) a device fitting's time may lie
      (:mod:`adapter.domain.device_times`).
    """

    upload_within: timedelta = timedelta(minutes=30)
    admission_upload_within: timedelta = timedelta(minutes=30)
    revocation_upload_within: timedelta = timedelta(minutes=30)
    rehab_plan_upload_within: timedelta = timedelta(hours=24)
    manual_claim_wait: timedelta = timedelta(minutes=30)
    fee_batch_size: int = 100
    times: TimeWindow = field(default_factory=TimeWindow)  # admission/discharge/fee times
    fittings: FittingTimes = field(default_factory=FittingTimes)  # a fitting's time

    def __post_init__(self) -> None:
        if self.fee_batch_size < 1:
            raise ValueError("fee_batch_size must be at least 1")


@dataclass
class ServiceContext:
    engine: Engine
    gateway: UpstreamGateway
    outbox: Outbox
    msgids: MsgidSource
    clock: Clock
    institution: InstitutionProfile
    zone: ZoneInfo
    policy: Policy = field(default_factory=Policy)

    def uow(self, *, immediate: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, immediate=immediate, clock=self.clock)

    def now(self) -> datetime:
        return self.clock.now()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def local_date(self, moment: datetime) -> date:
        """The calendar day of ``moment`` where the institution is (filings, slips)."""
        return self.local(moment).date()

    def wall_time(self, moment: datetime) -> str:
        """``YYYY-MM-DD HH:MM:SS`` in local time: the dialect's time format."""
        return wall_time(moment, self.zone)


def wall_time(moment: datetime, zone: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of ``moment`` in ``zone``: the dialect's time format."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S}"
