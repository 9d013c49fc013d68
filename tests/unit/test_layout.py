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


def _cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in imports[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component: list[str] = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_runs_between_the_three_packages() -> None:
    # The "No import cycles" contract covers cycles inside adapter, connectors and
    # upload_queue; it cannot see one that leaves a package and comes back (they share no
    # parent). This does.
    import grimp

    roots = ("adapter", "connectors", "upload_queue")
    graph = grimp.build_graph(*roots)
    imports = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    across = [c for c in _cycles(imports) if len({m.split(".")[0] for m in c}) > 1]
    assert not across, f"import cycles across packages: {across}"


def test_every_type_ignore_names_its_error_and_says_why() -> None:
    """mypy makes each ``type: ignore`` name an error code and fails on one that silences
    nothing; the reason is for the reader: after it on the line, or a ``# why:`` line above."""
    silent = []
    for package in ("adapter", "connectors", "upload_queue"):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text("utf-8").splitlines()
            for number, line in enumerate(lines, 1):
                _, marker, rest = line.partition("# type: ignore")
                if not marker:
                    continue
                reason_after = "#" in rest.partition("]")[2]
                reason_above = number > 1 and lines[number - 2].strip().startswith("# why:")
                if not (rest.startswith("[") and (reason_after or reason_above)):
                    silent.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not silent, "type: ignore without an error code or a reason:\n" + "\n".join(silent)


def test_the_use_cases_reach_data_only_through_repositories() -> None:
    """A service that runs SQL itself bypasses the store's repositories (and what they keep
    true: streaming, chunked IN lists, rows mapped to records); the unit of work's session
    may still be handed to the upload queue, which writes in the same transaction."""
    raw = []
    for path in sorted((ROOT / "adapter" / "services").rglob("*.py")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if ".execute(" in line or "session.connection()" in line:
                raw.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not raw, "services running SQL themselves (use a repository):\n" + "\n".join(raw)
