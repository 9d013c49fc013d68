"""The month-end benchmark (``benchmarks/month_end.py``) measures what it says: its seeded
month reconciles to the plain query's totals with exactly the differences it planted, and
its memory figure is a peak over the idle process. Small, so ``make bench`` on a fresh clone
is known to run."""

from __future__ import annotations

from pathlib import Path

from adapter.domain.reconciliation import DifferenceKind
from benchmarks import month_end
from benchmarks.month_end_workload import seed

# settlements 3, 103, 203, 303 undelivered; 7, 207 revoked (7 still in effect upstream, its
# revocation queued); 5 differs; 11 missing
COUNT = 400


def test_the_seeded_month_reconciles_with_the_planted_differences(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'adapter.db'}"
    month = "2026-10"
    seed(url, COUNT, month)

    times = month_end.child("time", url, COUNT, month, 1)
    assert times["settlements"] == COUNT
    assert times["local_count"] == COUNT - 2  # the two revoked count on neither side
    # amount; missing upstream ×5; missing here ×2; revoked here only
    assert times["differences"] == 1 + 1 + 4 + 2 + 1
    assert times["at_risk"] == 4 + 1  # the undelivered uploads (7's revocation too)
    assert min(times["floor"] + times["core"] + times["reconcile"]) > 0

    monthly, _engine = month_end._context(url, COUNT)
    report = monthly.reconciliation.latest(month)
    assert report.result is not None
    kinds = sorted(d.kind for d in report.result.differences)
    assert kinds.count(DifferenceKind.MISSING_UPSTREAM) == 5
    assert kinds.count(DifferenceKind.MISSING_HERE) == 2
    assert kinds.count(DifferenceKind.AMOUNT_DIFFERS) == 1
    [revoked] = [d for d in report.result.differences if d.kind is DifferenceKind.REVOKED_HERE_ONLY]
    assert revoked.setl_id == "S00000007" and revoked.revocation_upload is not None
    assert revoked.revocation_upload.state.value == "retrying"  # seeded: one attempt made
    undelivered = [line for line in report.lines if line["upload_delivered"] is False]
    assert sorted(line["setl_id"] for line in undelivered) == [
        f"S{n:08d}" for n in (3, 103, 203, 303)
    ]

    memory = month_end.child("reconcile", url, COUNT, month, 1)
    assert memory["size"] == COUNT
    assert memory["peak"] >= memory["idle"] > 0
