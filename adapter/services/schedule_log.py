"""Moved to :mod:`adapter.store.schedule_log` (the run log is a store record); this name is
kept only for ``adapter.wiring.schedule`` until the scheduler leaves ``wiring``."""

from adapter.store.schedule_log import abandon_running, begin, finish, runs_of_slot

__all__ = ["abandon_running", "begin", "finish", "runs_of_slot"]
