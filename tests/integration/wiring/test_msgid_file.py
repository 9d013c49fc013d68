"""On SQLite the server and every operator command are separate processes drawing msgids for
one institution: the state file beside the database keeps them from ever drawing the same one
(upstream deduplicates by msgid alone and would answer the second write with the first's
reply). Real processes, one frozen second, one file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from adapter.store.db import make_engine
from adapter.wiring.runtime import msgid_source
from connectors.upstream.clock import FixedClock
from connectors.upstream.msgid_file import FileMsgidSequence, state_path
from connectors.upstream.msgids import MsgidSequence

INSTITUTION = "H11010000001"
SHANGHAI = ZoneInfo("Asia/Shanghai")
FROZEN = datetime(2026, 11, 24, 9, 30, 5, tzinfo=SHANGHAI)

# Each child waits until every child has started (a file appears per child, then the parent
# writes "go"), then draws as fast as it can and prints its msgids: the draws interleave.
_CHILD = """
import sys, time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo
from connectors.upstream.clock import FixedClock
from connectors.upstream.msgid_file import FileMsgidSequence
state, gate, name, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
clock = FixedClock(datetime(2026, 11, 24, 9, 30, 5, tzinfo=ZoneInfo("Asia/Shanghai")))
source = FileMsgidSequence(state, "H11010000001", clock)
(gate / name).touch()
while not (gate / "go").exists():
    time.sleep(0.001)
print("\\n".join(source.next() for _ in range(count)))
"""


def _children(state: Path, gate: Path, processes: int, count: int) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(state), str(gate), f"child-{n}", str(count)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(processes)
    ]
    try:
        while len([p for p in gate.iterdir() if p.name.startswith("child-")]) < processes:
            if any(child.poll() not in (None, 0) for child in children):
                break  # a child failed to start: its exit code says so below
            time.sleep(0.01)
        (gate / "go").touch()
        drawn: list[str] = []
        for child in children:
            out, _ = child.communicate()
            assert child.returncode == 0
            drawn += out.split()
        return drawn
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()


def test_processes_drawing_from_one_file_in_one_second_never_share_a_msgid(
    tmp_path: Path,
) -> None:
    state = state_path(tmp_path / "adapter.db")
    gate = tmp_path / "gate"
    gate.mkdir()
    drawn = _children(state, gate, processes=4, count=600)
    # the parent, a fifth process-like drawer with its own sequence object, goes on after them
    after = FileMsgidSequence(state, INSTITUTION, FixedClock(FROZEN)).next()
    assert len(drawn) == 2400
    assert len(set(drawn)) == 2400
    assert all(m.startswith(f"{INSTITUTION}20261124093005") for m in drawn)
    assert sorted(int(m[26:]) for m in drawn) == list(range(2400))
    assert after == f"{INSTITUTION}202611240930052400"


def test_the_file_steps_exactly_as_the_in_process_sequence(tmp_path: Path) -> None:
    clock = FixedClock(FROZEN)
    state = tmp_path / "adapter.db-msgid"
    first, second = (FileMsgidSequence(state, INSTITUTION, clock) for _ in range(2))
    reference = MsgidSequence(INSTITUTION, clock)
    # two objects on one file behave as one sequence: past 9999 into the next second
    drawn = [(first if n % 2 else second).next() for n in range(10_002)]
    assert drawn == [reference.next() for _ in range(10_002)]
    assert drawn[10_000] == f"{INSTITUTION}202611240930060000"
    # a later second starts again at 0000
    clock.at = datetime(2026, 11, 24, 9, 31, tzinfo=SHANGHAI)
    assert first.next() == f"{INSTITUTION}202611240931000000"
    # a clock that went back keeps counting in the stored later second
    clock.at = FROZEN
    assert second.next() == f"{INSTITUTION}202611240931000001"


def test_a_torn_state_file_never_repeats_this_second(tmp_path: Path) -> None:
    state = tmp_path / "adapter.db-msgid"
    source = FileMsgidSequence(state, INSTITUTION, FixedClock(FROZEN))
    assert source.next() == f"{INSTITUTION}202611240930050000"
    state.write_bytes(b"2026112\x00")
    assert source.next() == f"{INSTITUTION}202611240930060000"


def test_sqlite_file_draws_from_its_state_file_in_memory_from_the_process(
    tmp_path: Path,
) -> None:
    clock = FixedClock(FROZEN)
    engine = make_engine(f"sqlite:///{tmp_path}/a.db")
    memory = make_engine("sqlite://")
    try:
        source = msgid_source(engine, INSTITUTION, clock)
        assert isinstance(source, FileMsgidSequence)
        assert source.path == tmp_path / "a.db-msgid"
        other = msgid_source(engine, INSTITUTION, clock)  # e.g. the CLI's runtime
        drawn = [s.next() for _ in range(50) for s in (source, other)]
        assert len(set(drawn)) == 100
        assert isinstance(msgid_source(memory, INSTITUTION, clock), MsgidSequence)
    finally:
        engine.dispose()
        memory.dispose()
