"""The bytes-level SSE parser: event boundaries anywhere in the reads, and typed errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runnables.providers.openai.errors import MalformedStreamError
from runnables.providers.openai.sse import SSEDecoder

STREAM = (
    b": keep-alive comment\n\n"
    b'data: {"a": 1}\n\n'
    b'event: error\ndata: {"error": {"message": "boom"}}\n\n'
    b"id: 7\nretry: 100\ndata: line one\ndata: line two\n\n"
    b"data:no-space\n\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    (None, b'{"a": 1}'),
    ("error", b'{"error": {"message": "boom"}}'),
    (None, b"line one\nline two"),
    (None, b"no-space"),
    (None, b"[DONE]"),
]


def parse(reads: list[bytes]) -> list[tuple[str | None, bytes]]:
    decoder = SSEDecoder()
    out = []
    for read in reads:
        out += decoder.feed(read)
    return out + decoder.close()


def test_events_in_one_read() -> None:
    assert parse([STREAM]) == EXPECTED


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_crlf_and_cr_line_ends(newline: bytes) -> None:
    assert parse([STREAM.replace(b"\n", newline)]) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_events_split_across_reads_at_any_byte(cuts: list[int]) -> None:
    for text in (STREAM, STREAM.replace(b"\n", b"\r\n")):
        points = sorted(set(cuts))
        reads = [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]
        assert parse(reads) == EXPECTED


def test_crlf_split_between_reads_is_not_a_blank_line() -> None:
    # b"data: x\r" + b"\ndata: y\r\n\r\n" is one event with two data lines, not two events.
    assert parse([b"data: x\r", b"\ndata: y\r\n\r\n"]) == [(None, b"x\ny")]


def test_last_event_without_blank_line_is_delivered_at_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a": 1}\n\ndata: [DONE]\n') == [(None, b'{"a": 1}')]
    assert decoder.close() == [(None, b"[DONE]")]


def test_a_line_that_is_not_an_sse_field_raises() -> None:
    decoder = SSEDecoder(url="http://x/v1/chat/completions")
    with pytest.raises(MalformedStreamError, match="not a server-sent event field"):
        decoder.feed(b'{"choices": []}\n\n')


def test_a_body_with_no_event_boundary_raises_instead_of_buffering_forever() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(MalformedStreamError, match="without ending an event"):
        for _ in range(20):
            decoder.feed(b"x" * 100)
