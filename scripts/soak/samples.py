"""What the load soak (:mod:`scripts.soak.load`) watches every ``--interval`` seconds: the
adapter's resident memory and open file descriptors, the database size, and the upload
queue's depth, dead, deadline-at-risk and missed counts, one printed row each time.
"""

from __future__ import annotations

from dataclasses import dataclass

from scripts.soak.common import Clock, database_bytes, open_fds, rss_mb
from tests.reliability.support import AdapterProcess, Desk


@dataclass
class Sample:
    at: str
    phase: str
    rss_mb: float
    fds: int
    db_mb: float
    depth: int
    dead: int
    at_risk: int
    missed: int
    settled: int

    HEADER = (
        "  elapsed  phase     RSS MB   fds   DB MB  queue  dead  at-risk  missed  settled\n"
        "  -------  -------  -------  ----  ------  -----  ----  -------  ------  -------"
    )

    def row(self) -> str:
        return (
            f"  {self.at:>7s}  {self.phase:7s}  {self.rss_mb:7.1f}  {self.fds:4d}  "
            f"{self.db_mb:6.1f}  {self.depth:5d}  {self.dead:4d}  {self.at_risk:7d}  "
            f"{self.missed:6d}  {self.settled:7d}"
        )


def sample(
    clock: Clock, adapter: AdapterProcess, desk: Desk, db_url: str, phase: str, settled: int
) -> Sample:
    assert adapter.child is not None
    pid = adapter.child.pid
    summary = desk.summary()
    counts = summary["by_status"]
    return Sample(
        at=clock.stamp(),
        phase=phase,
        rss_mb=rss_mb(pid),
        fds=open_fds(pid),
        db_mb=database_bytes(db_url) / 2**20,
        depth=counts.get("pending", 0) + counts.get("in_flight", 0),
        dead=counts.get("dead", 0),
        at_risk=int(summary["at_risk"]),
        missed=int(summary["missed"]),
        settled=settled,
    )
