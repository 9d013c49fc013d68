"""Sign-in and the retry policy of the reference dialect, over :class:`Exchange` attempts.

* **Sign-in.** The first call of the day signs in (``WI9001``) and keeps ``sign_no``; when
  upstream answers that it expired (``err_msg`` matching ``sign_expired_pattern``) the
  session signs in again and re-sends that one message once, with the same ``msgid``.
* **Reads** retry transient failures (:class:`UpstreamUnavailable`) with tenacity, with
  short exponential waits, and stop when the next attempt would start past
  ``read_budget_s`` from the first; each attempt's time-out is cut to what is left of the
  budget, so a clerk never waits longer than the budget (plus the connect time-out at most).
* **Actions.** Inside :func:`adapter.domain.budget.upstream_action` (a use case's reads:
  sign-in, person, filings, institution) every read's deadline is also cut to the action's
  one deadline, ``action_budget_s`` after its first read: the budget covers the whole action,
  not each read.
* **Writes** are sent once. A time-out or 5xx raises :class:`UpstreamUnavailable` and the
  upload queue re-sends the *same* ``msgid`` later; the session itself never does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from adapter.domain.budget import current_action
from adapter.domain.errors import UpstreamUnavailable
from adapter.domain.ports import Clock, MsgidSource
from adapter.domain.upstream import Infno
from connectors.upstream import mapping
from connectors.upstream.exchange import Exchange
from connectors.upstream.translate import Reply, SignExpired

T = TypeVar("T")

MIN_ATTEMPT_S = 0.05  # an attempt with less time than this left is not worth starting


class SignedSession:
    """A signed-in conversation with upstream. Thread-safe; share one per process."""

    def __init__(
        self,
        exchange: Exchange,
        clock: Clock,
        msgids: MsgidSource,
        *,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.config = exchange.config
        self._exchange = exchange
        self._clock = clock
        self._msgids = msgids
        self._monotonic = monotonic
        self._sleep = sleep
        self._sign_lock = threading.Lock()
        self._sign_no = ""
        self._signed_on: date | None = None

    @property
    def sign_no(self) -> str:
        return self._sign_no

    def sign_in(self, *, context: str = "") -> str:
        with self._sign_lock:
            return self._sign_in_locked(context)

    def read(
        self,
        infno: Infno,
        payload: dict[str, Any],
        parse: Callable[[dict[str, Any]], T],
        *,
        insuplc_admdvs: str = "",
        context: str = "",
        resent_from: int | None = None,
        deadline: float | None = None,
    ) -> T:
        """A read: retried while transient, within the budget (or the caller's ``deadline``)."""
        if deadline is None:
            deadline = self._monotonic() + self.config.read_budget_s
        action = current_action()
        if action is not None:
            now = self._monotonic()
            deadline = min(deadline, action.deadline_from(now, self.config.action_budget_s))
        if infno is not Infno.SIGN_IN:
            self._ensure_signed_in(context, deadline=deadline)
        msgid = self._msgids.next()
        attempt = 0

        def once() -> T:
            nonlocal attempt
            attempt += 1
            timeout = self._attempt_timeout(deadline, infno.value, msgid)
            return self._exchange.send(
                infno.value,
                msgid,
                payload,
                lambda reply: parse(reply.output),
                sign_no=self._sign_no,
                insuplc_admdvs=insuplc_admdvs,
                context=context,
                timeout=timeout,
                is_write=False,
                attempt=attempt,
                resent_from=resent_from,
            )

        def out_of_budget(state: RetryCallState) -> bool:
            upcoming = state.upcoming_sleep or 0.0
            return self._monotonic() + upcoming + MIN_ATTEMPT_S >= deadline

        retrying = Retrying(
            retry=retry_if_exception_type(UpstreamUnavailable),
            stop=out_of_budget,
            wait=wait_exponential(multiplier=0.2, max=1.0),
            sleep=self._sleep,
            reraise=True,
        )
        if infno is Infno.SIGN_IN:
            return retrying(once)
        return self._signed(lambda: retrying(once), context, deadline=deadline)

    def write(
        self,
        infno: Infno,
        msgid: str,
        payload: dict[str, Any],
        parse: Callable[[Reply], T],
        *,
        insuplc_admdvs: str = "",
        context: str = "",
    ) -> T:
        """A write, sent once (re-sent only after a fresh sign-in); ``msgid`` is the caller's."""
        self._ensure_signed_in(context)
        timeout = httpx.Timeout(self.config.write_timeout_s, connect=self.config.connect_timeout_s)
        return self._signed(
            lambda: self._exchange.send(
                infno.value,
                msgid,
                payload,
                parse,
                sign_no=self._sign_no,
                insuplc_admdvs=insuplc_admdvs,
                context=context,
                timeout=timeout,
                is_write=True,
            ),
            context,
        )

    def _attempt_timeout(self, deadline: float, infno: str, msgid: str) -> httpx.Timeout:
        remaining = deadline - self._monotonic()
        if remaining < MIN_ATTEMPT_S:
            raise UpstreamUnavailable(
                "工伤保险信息系统响应超时，请稍后重试",
                infno=infno,
                msgid=msgid,
                upstream_message=(
                    f"read budget of {self.config.read_budget_s}s (action budget of "
                    f"{self.config.action_budget_s}s) spent"
                ),
                code="UPSTREAM_TIMEOUT",
            )
        return httpx.Timeout(
            min(self.config.read_timeout_s, remaining),
            connect=min(self.config.connect_timeout_s, remaining),
        )

    def _signed(self, send: Callable[[], T], context: str, *, deadline: float | None = None) -> T:
        """Run ``send``; on an expired sign-in, sign in again and run it once more."""
        try:
            return send()
        except SignExpired:
            with self._sign_lock:
                self._sign_no = ""
                self._sign_in_locked(context, deadline=deadline)
            return send()

    def _ensure_signed_in(self, context: str, *, deadline: float | None = None) -> None:
        today = self._clock.now().date()
        if self._sign_no and self._signed_on == today:
            return
        with self._sign_lock:
            if self._sign_no and self._signed_on == today:
                return
            self._sign_in_locked(context, deadline=deadline)

    def _sign_in_locked(self, context: str, *, deadline: float | None = None) -> str:
        payload = {"opter_no": self.config.operator_code, "mac": "", "ip": ""}
        self._sign_no = ""
        sign_no = self.read(
            Infno.SIGN_IN, payload, mapping.read_sign_no, context=context, deadline=deadline
        )
        self._sign_no = sign_no
        self._signed_on = self._clock.now().date()
        return sign_no
