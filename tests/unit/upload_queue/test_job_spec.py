"""What a caller may enqueue, and how handler failures are classified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from upload_queue.errors import (
    PermanentDeliveryError,
    RefusedDeliveryError,
    TransientDeliveryError,
    UnknownKind,
)
from upload_queue.handlers import Handlers, Registration
from upload_queue.jobs import JobSpec

DEADLINE = datetime(2025, 3, 3, 8, 30, tzinfo=UTC)


def test_the_deadline_is_kept_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    spec = JobSpec("discharge", {}, "k", datetime(2025, 3, 3, 16, 30, tzinfo=beijing))
    assert spec.deadline == DEADLINE
    assert spec.deadline.utcoffset() == timedelta(0)


def test_a_naive_deadline_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        JobSpec("discharge", {}, "k", datetime(2025, 3, 3, 8, 30))


@pytest.mark.parametrize(
    "payload",
    [{"amount": float("nan")}, {"when": datetime(2025, 1, 1)}, {"items": {1, 2}}],
)
def test_a_payload_that_is_not_plain_json_is_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="JSON"):
        JobSpec("discharge", payload, "k", DEADLINE)


@pytest.mark.parametrize(
    ("field", "value"), [("kind", ""), ("idempotency_key", ""), ("ordering_key", "")]
)
def test_empty_keys_are_refused(field: str, value: str) -> None:
    fields: dict[str, object] = {
        "kind": "discharge",
        "payload": {},
        "idempotency_key": "k",
        "deadline": DEADLINE,
        field: value,
    }
    with pytest.raises(ValueError):
        JobSpec(**fields)  # type: ignore[arg-type]


class UpstreamRejected(Exception):
    """Stands in for the adapter's own exception, which the queue must not import."""


class UpstreamRefused(UpstreamRejected):
    """Stands in for the adapter's business refusal (infcode ≠ 0)."""


def _classify(exc: BaseException) -> str | None:
    if isinstance(exc, UpstreamRefused):
        return "refused"
    return "permanent" if isinstance(exc, UpstreamRejected) else None


def test_the_queue_errors_classify_themselves_with_the_upstream_message() -> None:
    registration = Registration("discharge", print)
    assert registration.classify_error(PermanentDeliveryError("字段缺失")) == (
        "permanent",
        "字段缺失",
        False,
    )
    assert registration.classify_error(RefusedDeliveryError("字段缺失")) == (
        "permanent",
        "字段缺失",
        True,
    )
    assert registration.classify_error(TransientDeliveryError("502")) == (
        "transient",
        "502",
        False,
    )


def test_foreign_errors_go_through_the_hook_and_default_to_transient() -> None:
    registration = Registration("discharge", print, _classify)  # type: ignore[arg-type]
    assert registration.classify_error(UpstreamRejected("bad code")) == (
        "permanent",
        "UpstreamRejected: bad code",
        False,
    )
    assert registration.classify_error(UpstreamRefused("bad code")) == (
        "permanent",
        "UpstreamRefused: bad code",
        True,
    )
    assert registration.classify_error(ConnectionResetError("reset")) == (
        "transient",
        "ConnectionResetError: reset",
        False,
    )
    assert Registration("discharge", print).classify_error(UpstreamRejected()) == (
        "transient",
        "UpstreamRejected",
        False,
    )


def test_a_kind_has_one_handler() -> None:
    handlers = Handlers()
    handlers.register("discharge", print)
    with pytest.raises(ValueError, match="already registered"):
        handlers.register("discharge", print)
    with pytest.raises(UnknownKind):
        handlers.get("device")
    assert handlers.kinds() == {"discharge"}
