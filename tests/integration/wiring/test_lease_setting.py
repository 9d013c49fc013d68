"""A lease too short for one delivery is refused at start-up, naming the settings: a queue
worker starts a job only with the call's timeout and its margin left on the lease."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapter.settings import SettingsError, load_settings
from adapter.wiring.runtime import delivery_timeout


def test_the_shipped_lease_outlasts_a_delivery() -> None:
    # 3 s to connect + 30 s for the answer; 120 s of lease
    assert delivery_timeout(load_settings()) == timedelta(seconds=33)


def test_a_lease_shorter_than_a_delivery_and_its_margin_is_refused_naming_the_settings() -> None:
    settings = load_settings(queue={"lease_seconds": 40})
    with pytest.raises(SettingsError) as refused:
        delivery_timeout(settings)
    message = refused.value.message
    assert "queue.lease_seconds (40)" in message and "41.25 s" in message
    assert "upstream.write_timeout_s" in message
    assert message.endswith("ADAPTER_QUEUE__LEASE_SECONDS")  # what to set, as every setting
    shorter_calls = load_settings(
        queue={"lease_seconds": 40}, upstream={"write_timeout_s": 20, "connect_timeout_s": 3}
    )
    assert delivery_timeout(shorter_calls) == timedelta(seconds=23)
