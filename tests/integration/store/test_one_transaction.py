"""Units of work inside ``one_transaction`` (the HL7 group commit) join it: each commits or
rolls back its own writes as a savepoint, and nothing is on the record before the joined
transaction commits; on each backend."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from adapter.store.audit import verify
from adapter.store.db import joined_transaction, one_transaction
from adapter.store.uow import UnitOfWork


def _append(engine: Engine, action: str, *, commit: bool = True) -> None:
    with UnitOfWork(engine, immediate=True) as uow:
        uow.audit.append(actor="hl7:HIS^H1", action=action, subject_type="encounter")
        if commit:
            uow.commit()


def _actions(engine: Engine) -> list[str]:
    with UnitOfWork(engine) as uow:
        return [entry.action for entry in uow.audit.query()]


class Refused(Exception):
    pass


def test_units_of_work_inside_commit_together_and_a_refusal_undoes_only_its_own(
    store: Engine,
) -> None:
    with one_transaction(store) as connection:
        assert joined_transaction(store) is connection
        _append(store, "first")
        with pytest.raises(Refused), UnitOfWork(store) as uow:
            uow.audit.append(actor="hl7:HIS^H1", action="refused", subject_type="encounter")
            raise Refused  # a use case that wrote, then said no
        _append(store, "left uncommitted", commit=False)
        _append(store, "second")
        assert _actions(store) == ["first", "second"]  # what this thread's joiners see
        with ThreadPoolExecutor(1) as elsewhere:  # another thread, another connection
            assert elsewhere.submit(_actions, store).result() == []
    assert joined_transaction(store) is None
    assert _actions(store) == ["first", "second"]
    assert verify(store).ok  # the chain runs on over the undone entries


def test_nothing_is_kept_when_the_joined_transaction_fails(store: Engine) -> None:
    with pytest.raises(Refused), one_transaction(store):
        _append(store, "first")
        _append(store, "second")
        raise Refused
    assert _actions(store) == []
    _append(store, "after")  # and the next one begins cleanly
    assert _actions(store) == ["after"]
    assert verify(store).ok
