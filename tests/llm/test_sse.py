"""The SSE parser on its own, fed the same bytes at every chunking (including 1 byte)."""

from __future__ import annotations

import time

import pytest

from mcpctl_tui.llm.sse import SSEEvent, SSEParser
from tests.support.llm_servers import rechunk

CHUNKINGS = [None, 1, 2, 3, 5, 11]


def parse(data: bytes, size: int | None) -> tuple[list[SSEEvent], SSEParser]:
    p = SSEParser()
    out: list[SSEEvent] = []
    for chunk in [data] if size is None else rechunk([data], size):
        out += p.feed(chunk)
    out += p.close()
    return out, p


@pytest.mark.parametrize("size", CHUNKINGS)
@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_line_ends_and_split_utf8(size: int | None, eol: bytes) -> None:
    raw = "data: héllo ✓ 😀\n\nevent: x\ndata: two\n\n".encode().replace(b"\n", eol)
    events, _ = parse(raw, size)
    assert events == [SSEEvent("héllo ✓ 😀"), SSEEvent("two", event="x")]


@pytest.mark.parametrize("size", CHUNKINGS)
def test_comments_no_space_multiline_unknown_fields(size: int | None) -> None:
    raw = (
        b": keep-alive\n\n"
        b":ping\n"
        b"data:no-space\n\n"
        b"data:  two spaces\n\n"
        b"foo: bar\n"
        b"data: line1\n"
        b"data\n"
        b"data: line3\n\n"
    )
    events, _ = parse(raw, size)
    assert [e.data for e in events] == ["no-space", " two spaces", "line1\n\nline3"]


@pytest.mark.parametrize("size", CHUNKINGS)
def test_id_and_retry_only_events_are_not_dispatched(size: int | None) -> None:
    raw = b"id: 7\n\nretry: 1500\n\nretry: soon\n\nevent: lonely\n\ndata: x\n\n"
    events, p = parse(raw, size)
    assert events == [SSEEvent("x", id="7")]
    assert p.last_id == "7" and p.retry == 1500


@pytest.mark.parametrize("size", CHUNKINGS)
@pytest.mark.parametrize("tail", [b"data: last", b"data: last\n", b"data: last\r"])
def test_final_event_without_blank_line(size: int | None, tail: bytes) -> None:
    events, _ = parse(b"data: first\n\n" + tail, size)
    assert [e.data for e in events] == ["first", "last"]


def test_invalid_utf8_becomes_replacement_not_a_crash() -> None:
    events, _ = parse(b"data: a\xffb\n\n", 1)
    assert events == [SSEEvent("a\ufffdb")]


def test_crlf_split_between_reads_is_one_line_end() -> None:
    p = SSEParser()
    assert p.feed(b"data: a\r") == []
    assert p.feed(b"\n") == []
    assert p.feed(b"\r") == [SSEEvent("a")]
    assert p.feed(b"\ndata: b\r\n\r\n") == [SSEEvent("b")]


def test_long_line_in_one_byte_reads_is_linear() -> None:
    # A 200 kB line fed byte by byte: quadratic joining would take seconds.
    payload = b"data:" + b"x" * 200_000
    p = SSEParser()
    start = time.perf_counter()
    for i in range(len(payload)):
        p.feed(payload[i : i + 1])
    out = p.feed(b"\n\n")
    elapsed = time.perf_counter() - start
    assert out[0].data.startswith("xxx") and len(out[0].data) == 200_000
    assert elapsed < 2.0


@pytest.mark.parametrize(
    "event",
    [
        b"data: x\n\n",
        b"data: \n\n",
        b"data:  two\n\n",
        b"event: e\ndata: x\n\n",
        b"event: \ndata: x\n\n",
        b"event: e\ndata:x\n\n",
        b"event: e\nid: 4\n\n",
        b"data: a\ndata: b\n\n",
        b"id: 9\ndata: x\n\n",
        b": c\ndata: x\n\n",
    ],
)
def test_whole_event_reads_match_byte_by_byte(event: bytes) -> None:
    # One event per read takes the parser's fast path; one byte per read never does.
    stream = event * 3
    fast, _ = parse(stream, len(event))
    slow, _ = parse(stream, 1)
    assert fast == slow


@pytest.mark.parametrize("size", CHUNKINGS)
def test_leading_byte_order_mark_is_dropped_once(size: int | None) -> None:
    events, _ = parse("\ufeffdata: a\n\ndata: \ufeffb\n\n".encode(), size)
    assert [e.data for e in events] == ["a", "\ufeffb"]
