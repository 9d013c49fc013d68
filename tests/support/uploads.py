"""An upload queued straight through the runtime's outbox, as a use case queues one: the IT
queue's tests need jobs of a stay with a chosen deadline and payload, not a whole stay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapter.store.uow import UnitOfWork
from adapter.wiring.runtime import Runtime


def queue_admission(
    runtime: Runtime, context: str, input: dict[str, Any], deadline: datetime
) -> int:
    """A WI2401 of stay ``context`` due by ``deadline``, committed; its job id."""
    msgid = runtime.msgids.next()
    with UnitOfWork(runtime.engine) as uow:
        queued = runtime.outbox.enqueue(
            uow.session,
            kind="WI2401",
            payload={"msgid": msgid, "input": input, "insuplc_admdvs": "310100",
                     "context": context},
            idempotency_key=msgid,
            ordering_key=context,
            deadline=deadline,
        )  # fmt: skip
        uow.commit()
    return queued.job_id
