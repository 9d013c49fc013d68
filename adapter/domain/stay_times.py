"""When a stay's times may lie: admission, discharge and fee times against the clock.

A time the HIS or a clerk sends is checked against ``now`` (passed in: the domain has no
clock) before anything is stored or settled:

* **admission and discharge** (N§33: registered at admission, settled at discharge) may not
  lie in the future beyond ``clock_skew`` (the HIS's clock and ours differ by seconds, not
  days), nor on a day further back than ``late_registration`` (a stay registered or settled
  late, after a network outage or a weekend, but not a year-old time typed by mistake;
  counted in the institution's days, as the clerk reads "30天": any time of the day 30 days
  ago is in, whatever the hour now) — except
  a revoked stay settled again with the discharge time it was settled with (N§35, N§43: a
  correction, not a late registration);
* **discharge** is not before admission;
* **a fee** lies within the stay: from the day of admission (HIS often date fee lines by day
  only, so a line dated 00:00 of the admission day is in) to discharge — or, while the stay
  is open or its settlement revoked, to ``now`` — each with ``clock_skew`` to spare. Fees
  are *not* bounded by ``late_registration``: a 90-day stay's late fee batch, or a stay
  across the new year (N§36: settled as one bill at discharge), keeps all its days.

Each refusal is a :class:`TimeOutOfWindow` (422 over REST, AE over HL7) naming the field.
A device fitting's time has its own policy (:class:`~.device_times.FittingTimes`), with the
same ``clock_skew``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from adapter.domain.encounters import Encounter, EncounterStatus
from adapter.domain.errors import DomainError
from adapter.domain.fees import FeeLine


class TimeOutOfWindow(DomainError):
    """A time outside what the stay and the clock allow; ``field`` names it."""

    code = "TIME_OUT_OF_WINDOW"
    article = "N§33"

    def __init__(self, message: str, *, field: str, code: str, article: str = "N§33"):
        super().__init__(message, code=code, article=article, field=field)


@dataclass(frozen=True)
class TimeWindow:
    clock_skew: timedelta = timedelta(minutes=5)
    late_registration: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if self.clock_skew < timedelta(0) or self.late_registration < timedelta(0):
            raise ValueError("clock_skew and late_registration must not be negative")

    def check_admission(self, admitted_at: datetime, now: datetime, *, zone: tzinfo) -> None:
        """``zone``: the institution's, whose days ``late_registration`` counts."""
        self._against_clock(admitted_at, now, zone, "admitted_at", "入院时间")

    def check_discharge(
        self, stay: Encounter, discharged_at: datetime, now: datetime, *, zone: tzinfo
    ) -> None:
        admitted_at = stay.admitted_at
        if not _registered_before(stay, discharged_at):
            self._against_clock(discharged_at, now, zone, "discharged_at", "出院时间")
        if discharged_at < admitted_at:
            raise TimeOutOfWindow(
                f"出院时间{_shown(discharged_at)}早于入院时间{_shown(admitted_at)}",
                field="discharged_at",
                code="DISCHARGE_BEFORE_ADMISSION",
            )

    def check_fees(
        self,
        lines: Sequence[FeeLine],
        stay: Encounter,
        now: datetime,
        *,
        zone: tzinfo,
    ) -> None:
        """Every line's time within the stay (``lines.N.occurred_at`` names the first not);
        the admission's day is counted in ``zone`` (the institution's).

        A revoked stay's discharge does not bound its fees: the HIS cancelled it (A13) and
        the worker stays in hospital, or the clerk revoked to correct the bill. The days
        after it are billed when the stay is settled again, which refuses a discharge before
        any fee (:meth:`check_fees_before`)."""
        discharged_at = stay.discharged_at if stay.status is not EncounterStatus.REVOKED else None
        admitted = stay.admitted_at.astimezone(zone)
        start = datetime.combine(admitted.date(), time(0), tzinfo=zone)
        end = (discharged_at or now) + self.clock_skew
        until = "出院时间" if discharged_at else "当前时间"
        for index, line in enumerate(lines):
            if not start <= line.occurred_at <= end:
                raise TimeOutOfWindow(
                    f"费用明细{line.line_id}的发生时间{_shown(line.occurred_at)}不在住院期间"
                    f"（入院当日至{until}）",
                    field=f"lines.{index}.occurred_at",
                    code="FEE_OUTSIDE_STAY",
                )

    def check_fees_before(self, discharged_at: datetime, lines: Sequence[FeeLine]) -> None:
        """At settlement: no recorded fee lies after the discharge (beyond the clock skew)."""
        latest = max(lines, key=lambda line: line.occurred_at, default=None)
        if latest is not None and latest.occurred_at > discharged_at + self.clock_skew:
            # both times as the clerk gave the discharge's (a stored fee time is UTC)
            occurred = latest.occurred_at.astimezone(discharged_at.tzinfo)
            raise TimeOutOfWindow(
                f"出院时间{_shown(discharged_at)}早于费用明细{latest.line_id}的发生时间"
                f"{_shown(occurred)}，请核对出院时间",
                field="discharged_at",
                code="DISCHARGE_BEFORE_FEES",
            )

    def _against_clock(
        self, moment: datetime, now: datetime, zone: tzinfo, field: str, label: str
    ) -> None:
        if moment > now + self.clock_skew:
            raise TimeOutOfWindow(
                f"{label}{_shown(moment)}晚于当前时间，请核对HIS时间",
                field=field,
                code="TIME_IN_FUTURE",
            )
        days = self.late_registration.days
        first_day = now.astimezone(zone).date() - timedelta(days=days)
        if moment.astimezone(zone).date() < first_day:
            raise TimeOutOfWindow(
                f"{label}{_shown(moment)}早于{days}天前，超出补登记期限，请核对或按手工报销办理",
                field=field,
                code="TIME_TOO_FAR_BACK",
            )


def _registered_before(stay: Encounter, discharged_at: datetime) -> bool:
    """Is ``discharged_at`` the discharge a revoked stay was settled with?

    A settlement revoked to correct it — after the monthly reconciliation (N§35, B§33: "撤销后
    重新结算并上传") or before the yearly clearing (N§43) — is settled again with its
    original discharge time, however long ago that was: the time was checked against the
    clock when it was first registered, and ``late_registration`` is for registering a
    discharge late, not for correcting a settlement. A *different* discharge time is a new
    registration and is checked like any other.
    """
    return stay.status is EncounterStatus.REVOKED and stay.discharged_at == discharged_at


def _shown(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="minutes")
