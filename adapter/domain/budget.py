"""One upstream time budget per action, not per read.

An admission reads upstream three or four times (sign-in, the person, their filings, the
institution's status). With a budget per read, a clerk at 5 s upstream latency waited 15 s;
the action's budget bounds the wait for all of them together. A use case marks its action::

    with upstream_action():
        facts = identity.facts(card)          # every read inside shares one deadline

and the upstream client (``connectors.upstream.session``) gives each read
``min(its own time-out, what is left of the action's budget)``. The deadline starts at the
action's first upstream read, measured on the client's own monotonic clock, and lasts the
client's configured ``action_budget_s``; so the domain keeps no clock. Actions nest: an
inner ``upstream_action()`` joins the outer one (its deadline is the outer one's).

The scope is a :mod:`contextvars` variable: per thread and per task, so concurrent requests
never share a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class ActionBudget:
    """The deadline of one action, fixed at its first upstream read."""

    __slots__ = ("deadline",)

    def __init__(self) -> None:
        self.deadline: float | None = None

    def deadline_from(self, now: float, seconds: float) -> float:
        """The action's deadline; the first caller sets it to ``now + seconds``."""
        if self.deadline is None:
            self.deadline = now + seconds
        return self.deadline


_current: ContextVar[ActionBudget | None] = ContextVar("upstream_action", default=None)


def current_action() -> ActionBudget | None:
    """The action the caller is in, if any."""
    return _current.get()


@contextmanager
def upstream_action() -> Iterator[ActionBudget]:
    """Run the block as one action: its upstream reads share one budget."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    budget = ActionBudget()
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)
