"""The house rules: import directions hold, and the queue package does not shadow ``queue``."""

from __future__ import annotations

import queue
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_queue_still_finds_the_standard_library() -> None:
    assert hasattr(queue, "SimpleQueue")
    assert "site-packages" not in str(queue.__file__) and str(ROOT) not in str(queue.__file__)


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    command = str(lint_imports) if lint_imports.exists() else shutil.which("lint-imports")
    assert command, "import-linter is part of the test extras"
    result = subprocess.run(
        [command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
