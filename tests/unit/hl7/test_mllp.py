"""MLLP framing: partial reads, several messages per read, oversize, junk between frames."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from connectors.hl7.mllp import HEAD_KEEP, Frame, Garbage, MllpDecoder, Oversize, frame

MSG1 = b"MSH|^~\\&|HIS|H1|||20260301||ADT^A01|1|P|2.5\rPID|1||x^^^^NI\r"
MSG2 = "MSH|^~\\&|HIS|H1|||20260301||ADT^A08|2|P|2.5\rPID|1||张三\r".encode()


def frames(events: list) -> list[bytes]:
    return [event.payload for event in events if isinstance(event, Frame)]


def test_one_frame_in_one_read() -> None:
    assert frames(MllpDecoder().feed(frame(MSG1))) == [MSG1]


def test_a_frame_split_into_single_bytes_is_reassembled() -> None:
    decoder = MllpDecoder()
    events = []
    for byte in frame(MSG2):
        events += decoder.feed(bytes([byte]))
    assert frames(events) == [MSG2]
    assert not decoder.in_frame


def test_several_frames_in_one_read_come_out_in_order() -> None:
    assert frames(MllpDecoder().feed(frame(MSG1) + frame(MSG2) + frame(MSG1))) == [MSG1, MSG2, MSG1]


def test_end_block_split_between_reads() -> None:
    decoder = MllpDecoder()
    data = frame(MSG1)
    assert decoder.feed(data[:-1]) == []
    assert decoder.in_frame
    assert frames(decoder.feed(data[-1:])) == [MSG1]


def test_a_lone_0x1c_inside_the_payload_is_kept() -> None:
    payload = b"MSH|^~\\&|A\x1cB|\r"
    assert frames(MllpDecoder().feed(frame(payload))) == [payload]


def test_bytes_outside_frames_are_reported_as_garbage_and_dropped() -> None:
    events = MllpDecoder().feed(b"hello" + frame(MSG1) + b"\r\n")
    assert frames(events) == [MSG1]
    assert sum(event.size for event in events if isinstance(event, Garbage)) == 7


def test_a_new_start_block_abandons_an_unfinished_frame() -> None:
    events = MllpDecoder().feed(b"\x0bMSH|trunc" + frame(MSG2))
    assert frames(events) == [MSG2]
    assert any(isinstance(event, Garbage) for event in events)


def test_an_oversize_frame_reports_its_head_and_size_and_the_next_frame_still_works() -> None:
    decoder = MllpDecoder(max_message_bytes=1024)
    big = MSG1 + b"X" * 10_000
    events = []
    for start in range(0, len(frame(big)), 700):
        events += decoder.feed(frame(big)[start : start + 700])
    events += decoder.feed(frame(MSG2))
    oversize = [event for event in events if isinstance(event, Oversize)]
    assert len(oversize) == 1
    assert oversize[0].size == len(big)
    assert oversize[0].head.startswith(MSG1)
    assert len(oversize[0].head) <= HEAD_KEEP
    assert frames(events) == [MSG2]


def test_a_frame_exactly_at_the_limit_is_accepted() -> None:
    payload = b"M" * 1024
    assert frames(MllpDecoder(max_message_bytes=1024).feed(frame(payload))) == [payload]
    assert isinstance(MllpDecoder(max_message_bytes=1024).feed(frame(payload + b"M"))[0], Oversize)


@given(
    payloads=st.lists(
        st.binary(min_size=1, max_size=60).map(
            lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b"") or b"x"
        ),
        min_size=1,
        max_size=6,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=12),
)
def test_any_chunking_yields_the_same_frames(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(payload) for payload in payloads)
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    decoder = MllpDecoder()
    events = []
    for start, end in itertools.pairwise(points):
        events += decoder.feed(stream[start:end])
    assert frames(events) == payloads
