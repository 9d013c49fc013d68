"""A peer HL7 parser in its own fresh process, for :mod:`benchmarks.hl7_peers`.

Run as ``python -m benchmarks.peer_parse LIBRARY`` (``hl7apy`` or ``python-hl7``). It imports
that library and nothing of the adapter, so its garbage collector walks only its own heap.
Protocol over stdin/stdout, one line each way: the request is a message's length in bytes
followed by that many bytes of UTF-8 text; the answer is the seconds one parse took (after
one untimed warm-up parse of the same text, as our side is warm too), or ``error …``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def _parser(library: str) -> Callable[[str], object]:
    if library == "hl7apy":
        from hl7apy.parser import parse_message

        return parse_message
    if library == "python-hl7":
        import hl7

        return hl7.parse
    raise SystemExit(f"unknown library {library!r}")


def main(library: str) -> None:
    parse = _parser(library)
    source, sink = sys.stdin.buffer, sys.stdout
    sink.write("ready\n")
    sink.flush()
    while header := source.readline():
        text = source.read(int(header)).decode("utf-8")
        try:
            parse(text)
            began = time.perf_counter()
            parse(text)
            sink.write(f"{time.perf_counter() - began!r}\n")
        except Exception as exc:  # report any parser failure to the benchmark, keep serving
            sink.write(f"error {type(exc).__name__}: {exc}\n".replace("\r", " "))
        sink.flush()


if __name__ == "__main__":
    main(sys.argv[1])
