"""Run every benchmark in turn: `python -m benchmarks [name …]`."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("settlement",)


def main(names: list[str]) -> None:
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        module.run()
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
