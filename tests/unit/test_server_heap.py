"""``serve`` leaves what startup built out of later garbage collections (a long stay's
settlement would otherwise walk every object of the process in a full collection)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
import uvicorn

from adapter.api import server
from adapter.settings_sections import HttpSettings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def test_serve_freezes_the_startup_heap_before_listening(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_when_listening: list[int] = []
    monkeypatch.setattr(
        uvicorn.Server, "run", lambda self, *a, **k: frozen_when_listening.append(
            gc.get_freeze_count())
    )  # fmt: skip
    assert gc.get_freeze_count() == 0
    server.run(object(), HttpSettings())
    assert frozen_when_listening and frozen_when_listening[0] > 1000


def test_garbage_made_before_the_freeze_is_still_freed(unfrozen: None) -> None:
    class Cycle:
        other: Cycle

    first, second = Cycle(), Cycle()
    first.other, second.other = second, first
    alive = weakref.ref(first)
    del first, second
    server.freeze_startup_heap()
    assert alive() is None  # collected, not kept for good in the frozen generation
