"""MLLP framing: ``0x0B <message> 0x1C 0x0D``.

:class:`MllpDecoder` is a pure, incremental decoder: feed it whatever a socket read returned
(half a frame, several frames, garbage between frames) and it yields complete events in
order. It never holds more than ``max_message_bytes`` of one message: a longer frame is
reported as :class:`Oversize` carrying its first bytes (enough to read the MSH header and
answer AR) once the frame ends; its body is discarded as it streams in.

Bytes outside a frame (before the start block) are not HL7; they are counted and dropped,
and :class:`Garbage` is reported so the listener can decide to close a confused peer.
"""

from __future__ import annotations

from dataclasses import dataclass

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
_SB = 0x0B
_EB = 0x1C
_CR = 0x0D
HEAD_KEEP = 4096  # bytes of an oversize message kept to read its header


@dataclass(frozen=True)
class Frame:
    """One complete message, without its framing bytes."""

    payload: bytes


@dataclass(frozen=True)
class Oversize:
    """A frame longer than the limit; ``head`` is its first bytes, ``size`` its full length."""

    head: bytes
    size: int


@dataclass(frozen=True)
class Garbage:
    """Bytes that arrived outside any frame (dropped)."""

    size: int


Event = Frame | Oversize | Garbage


def frame(payload: bytes) -> bytes:
    """Wrap one message for sending."""
    return START_BLOCK + payload + END_BLOCK


class MllpDecoder:
    """Incremental MLLP decoder with a bounded message size."""

    def __init__(self, max_message_bytes: int = 1_048_576) -> None:
        if max_message_bytes < 16:
            raise ValueError("max_message_bytes must be at least 16")
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self._size = 0  # bytes of the current frame seen so far (including discarded ones)
        self._oversize = False
        self._pending_eb = False  # the last byte seen was 0x1C inside a frame

    @property
    def in_frame(self) -> bool:
        """True while a frame has started and not yet ended (used for slow-loris deadlines)."""
        return self._in_frame

    def feed(self, data: bytes) -> list[Event]:
        """Consume ``data``; return every event it completes, in order."""
        events: list[Event] = []
        view = memoryview(data)
        position = 0
        length = len(view)
        garbage = 0
        while position < length:
            if not self._in_frame:
                start = data.find(START_BLOCK, position)
                if start < 0:
                    garbage += length - position
                    break
                garbage += start - position
                position = start + 1
                self._start_frame()
                continue
            if self._pending_eb:
                self._pending_eb = False
                if view[position] == _CR:
                    position += 1
                    events.append(self._end_frame())
                    continue
                self._append(b"\x1c")
            end = _next_control(data, position)
            if end < 0:
                self._append(view[position:])
                break
            self._append(view[position:end])
            if view[end] == _SB:  # a new frame began before this one ended: drop the partial
                garbage += self._size + 1
                position = end + 1
                self._start_frame()
                continue
            position = end + 1
            self._pending_eb = True
        if garbage:
            events.append(Garbage(garbage))
        return events

    def _start_frame(self) -> None:
        self._in_frame = True
        self._buffer.clear()
        self._size = 0
        self._oversize = False
        self._pending_eb = False

    def _append(self, chunk: bytes | memoryview) -> None:
        self._size += len(chunk)
        if self._oversize:
            return
        if self._size > self.max_message_bytes:
            keep = HEAD_KEEP - len(self._buffer)
            if keep > 0:
                self._buffer += chunk[:keep]
            del self._buffer[HEAD_KEEP:]
            self._oversize = True
            return
        self._buffer += chunk

    def _end_frame(self) -> Event:
        self._in_frame = False
        payload = bytes(self._buffer)
        self._buffer.clear()
        if self._oversize:
            return Oversize(head=payload, size=self._size)
        return Frame(payload)


def _next_control(data: bytes, position: int) -> int:
    """Index of the next start or end block byte at or after ``position``, or -1."""
    end = data.find(b"\x1c", position)
    start = data.find(START_BLOCK, position, end if end >= 0 else len(data))
    return start if start >= 0 else end
