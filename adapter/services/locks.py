"""Serialising the use cases that change one encounter.

Every such use case reads the encounter, decides, and writes it back at the version it read
(the store's optimistic lock). Two HIS messages for one stay arriving together would then
make the second fail with a version conflict although nothing was wrong with it. Taking the
encounter's row lock first (``SELECT … FOR UPDATE`` on PostgreSQL) makes the second wait and
then read the first one's result; on SQLite, ``BEGIN IMMEDIATE`` (the unit of work's
``immediate=True``) already serialises writers, and ``FOR UPDATE`` is not emitted.
"""

from __future__ import annotations

from adapter.store.uow import UnitOfWork


def lock_encounter(uow: UnitOfWork, encounter_id: str) -> None:
    """Hold ``encounter_id``'s row until the unit of work ends (no-op if it does not exist:
    the caller's own read reports that)."""
    uow.encounters.lock(encounter_id)
