"""Every decoder gives the same events however the bytes are split.

Recorded-shape streams of each wire format are cut at random points (seeded, so a failure
replays) and fed to the decoder directly; the events must equal those of the unsplit
bytes. The server tests cover the same through real sockets at fixed chunkings.
"""

from __future__ import annotations

import random

import pytest

from mcpctl_tui.llm.anthropic import AnthropicDecoder
from mcpctl_tui.llm.events import StreamEvent
from mcpctl_tui.llm.ollama import OllamaDecoder
from mcpctl_tui.llm.openai import OpenAIDecoder
from mcpctl_tui.llm.request import Endpoint
from mcpctl_tui.llm.transport import Decoder
from tests.support.llm_servers import (
    ToolCallSpec,
    ToolUseSpec,
    anthropic_events,
    ollama_lines,
    openai_events,
)

EP = Endpoint("x", "http://127.0.0.1", "m")
TEXT = ["Ünï", "cödé ✓ ", "😀🎉 ", "日本語", " end"]


def openai_bytes() -> bytes:
    calls = [ToolCallSpec("a", "f", '{"k": "vä"}'), ToolCallSpec("b", "g", "{}")]
    return b"".join(openai_events(TEXT, reasoning=["thïnk"], tool_calls=calls))


def anthropic_bytes() -> bytes:
    uses = [ToolUseSpec("t", "f", '{"k": "vä"}')]
    return b"".join(anthropic_events(TEXT, thinking=["thïnk"], tool_uses=uses))


def ollama_bytes() -> bytes:
    return b"".join(ollama_lines(TEXT, thinking=["thïnk"]))


CASES = {
    "openai": (lambda: OpenAIDecoder(EP), openai_bytes),
    "anthropic": (lambda: AnthropicDecoder(EP), anthropic_bytes),
    "ollama": (lambda: OllamaDecoder(EP), ollama_bytes),
}


def decode(make: object, pieces: list[bytes]) -> list[StreamEvent]:
    dec: Decoder = make()  # type: ignore[operator]
    out: list[StreamEvent] = []
    for p in pieces:
        out += dec.feed(p)
    return out + dec.end()


def random_split(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, min(200, len(data) - 1))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


# NDJSON has no CR-only line ends; SSE has all three.
COMBOS = [
    (f, e) for f in sorted(CASES) for e in (b"\n", b"\r\n", b"\r") if (f, e) != ("ollama", b"\r")
]


@pytest.mark.parametrize(("fmt", "eol"), COMBOS)
def test_random_splits_give_the_same_events(fmt: str, eol: bytes) -> None:
    make, data_fn = CASES[fmt]
    data = data_fn().replace(b"\n", eol)
    want = decode(make, [data])
    assert want[-1].__class__.__name__ == "Finish"
    assert decode(make, [bytes([b]) for b in data]) == want
    rng = random.Random(f"{fmt}{eol!r}")
    for _ in range(60):
        assert decode(make, random_split(data, rng)) == want
