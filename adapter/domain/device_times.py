"""When a device fitting's time may lie (N§16, N§34, B§26, B§34, B§35): one policy,
:class:`FittingTimes`, for how far ahead of the clock and how far back, and
:func:`check_after_filing` for the filing.

A fitting is priced against the insured place's catalogue and limits of its day, and its
day starts each item's minimum-years clock (附表2). A time off either way would settle at
another day's catalogue and move the next replacement's due date, so it is bounded:

* **not ahead of the clock** beyond ``clock_skew`` (:meth:`FittingTimes.check_ahead`): a
  fitting is settled once it is done (N§34; B§35 配置完成后); priced on a later day it would
  take the catalogue version and limits in force then. The skew is ``[policy]``
  ``clock_skew_minutes``, the stays' (:class:`~.stay_times.TimeWindow`): one site, one clock.
* **not before the filing and its notice** (:func:`check_after_filing`): the worker files
  before the fitting (N§16, B§26), and the counter fits once it checked the filing and the
  insured place's payment approval notice (N§34, B§34: "核对…后提供配置服务"). The notice is
  issued with the device filing (附表2 carries its number), so the bound is the day the
  filing carrying the notice took effect — the later of the day it was filed and the start
  of its validity; of several filings carrying the notice (a change re-typing it, N§15), the
  earliest. Upstream sends no separate date for the notice.
* **not older than ``max_age_days`` local days** (:meth:`FittingTimes.check_age`): no
  article sets a maximum, but a fitting is settled at the counter when the device is handed
  over (N§34; B§35: 配置完成后 … 结算后30分钟内上传), so the window is a setting (``[devices]``
  ``max_fitting_age_days``, default 30: a long holiday or a month-end backlog). It is counted
  from when the fitting was first registered here: a manual-claim case recorded while
  upstream was down is counted from its recording, not from its switch to direct settlement;
  a fitting already registered here (a replay, a revoked one settled again) keeps its time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from adapter.domain.filings import Filing, FilingPurpose, same_notice
from adapter.domain.stay_times import TimeOutOfWindow


class FittingInFuture(TimeOutOfWindow):
    """A device fitting dated ahead of the clock (N§34: settled once it is done)."""

    code = "FITTING_IN_FUTURE"
    article = "N§34"

    def __init__(self, message: str):
        super().__init__(message, field="fitted_at", code=self.code, article=self.article)


class FittingTooOld(TimeOutOfWindow):
    """A fitting dated further back than the counter settles fittings (N§34, B§35)."""

    code = "FITTING_TOO_OLD"
    article = "N§34, B§35"

    def __init__(self, message: str):
        super().__init__(message, field="fitted_at", code=self.code, article=self.article)


class FittingBeforeFiling(TimeOutOfWindow):
    """A fitting dated before the device filing carrying its notice took effect (N§16, N§34,
    B§26, B§34)."""

    code = "FITTING_BEFORE_FILING"
    article = "N§16, N§34, B§26, B§34"

    def __init__(self, message: str):
        super().__init__(message, field="fitted_at", code=self.code, article=self.article)


@dataclass(frozen=True)
class FittingTimes:
    """``clock_skew``: how far ahead of the clock a fitting may lie (the clocks of the
    counter's PC and ours differ by seconds); ``max_age_days``: how many local days back
    (0: today only)."""

    clock_skew: timedelta = timedelta(minutes=5)
    max_age_days: int = 30

    def __post_init__(self) -> None:
        if self.clock_skew < timedelta(0) or self.max_age_days < 0:
            raise ValueError("clock_skew and max_age_days must not be negative")

    def check_ahead(self, fitted_at: datetime, now: datetime) -> None:
        """``fitted_at`` not ahead of ``now`` beyond ``clock_skew``."""
        if fitted_at > now + self.clock_skew:
            shown = fitted_at.isoformat(sep=" ", timespec="minutes")
            raise FittingInFuture(f"配置时间{shown}晚于当前时间，请核对配置时间")

    def check_age(self, fitted_at: datetime, registered_at: datetime, *, zone: tzinfo) -> None:
        """``fitted_at`` on one of the ``max_age_days`` local days before ``registered_at``
        (when the fitting was first registered here) or later."""
        days = self.max_age_days
        first_day = registered_at.astimezone(zone).date() - timedelta(days=days)
        if fitted_at.astimezone(zone).date() < first_day:
            raise FittingTooOld(
                f"配置时间{_shown(fitted_at, zone)}早于{days}天前（{first_day}之前）："
                "辅助器具在配置完成交付时即在柜台结算（N§34、B§35），不能按以往日期补结算，"
                "否则将按当日的目录和限额结算、最低使用年限也从当日起算。请核对配置时间；"
                "确属当时交付而未能结算的，请信息科核实后处理"
            )


def effective_from(filing: Filing) -> date:
    """The day a filing took effect: filed and inside its validity."""
    return max(filing.filed_on, filing.valid_from)


def check_after_filing(
    fitted_at: datetime, filings: Iterable[Filing], notice: str, *, zone: tzinfo
) -> None:
    """``fitted_at`` not before the worker's device filing carrying ``notice`` took effect;
    nothing to say when no filing carries it (the eligibility check refuses the notice)."""
    carrying = [
        f
        for f in filings
        if f.purpose is FilingPurpose.DEVICE and same_notice(f.approval_notice_no, notice)
    ]
    if not carrying:
        return
    first = min(carrying, key=effective_from)
    fitted_on = fitted_at.astimezone(zone).date()
    if fitted_on < effective_from(first):
        raise FittingBeforeFiling(
            f"配置时间{_shown(fitted_at, zone)}早于辅助器具备案{first.filing_no}"
            f"（核付通知单{first.approval_notice_no}）的生效日期{effective_from(first)}"
            f"（{first.filed_on}备案，有效期自{first.valid_from}起）：须先在参保地备案并取得"
            "核付通知单，经核对后方可配置（N§16、N§34、B§26、B§34）。请核对配置时间"
        )


def _shown(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat(sep=" ", timespec="minutes")
