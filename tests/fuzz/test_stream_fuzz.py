"""The three decoders over random bytes, random splits and well-framed events whose JSON
holds anything: they never raise, every text they yield is text, and a stream ends at
most once (Finish or StreamError), with nothing after."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpctl_tui.llm.anthropic import AnthropicDecoder
from mcpctl_tui.llm.events import Finish, StreamError, TextDelta, ThinkingDelta
from mcpctl_tui.llm.ollama import OllamaDecoder
from mcpctl_tui.llm.openai import OpenAIDecoder
from mcpctl_tui.llm.request import Endpoint

DECODERS = {
    "openai": lambda: OpenAIDecoder(Endpoint("openai", "http://h", "m", "sk-fuzz-key-123456")),
    "anthropic": lambda: AnthropicDecoder(Endpoint("anthropic", "http://h", "m", None)),
    "ollama": lambda: OllamaDecoder(Endpoint("ollama", "http://h", "m", None)),
}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = ["choices", "delta", "content", "message", "type", "text", "tool_calls", "usage", "index"]


def _shaped(value: Any, keys: list[str]) -> Any:
    """Random JSON, but with the field names decoders look for, so the checks run."""
    return {k: value for k in keys}


def _run(kind: str, chunks: list[bytes]) -> list[Any]:
    dec = DECODERS[kind]()
    out: list[Any] = []
    for chunk in chunks:
        out += dec.feed(chunk)
    out += dec.end()
    return out


def _check(events: list[Any]) -> None:
    ends = [i for i, e in enumerate(events) if isinstance(e, Finish | StreamError)]
    assert len(ends) <= 1 and (not ends or ends[0] == len(events) - 1), events
    for e in events:
        if isinstance(e, TextDelta | ThinkingDelta):
            assert type(e.text) is str


@given(st.sampled_from(sorted(DECODERS)), st.lists(st.binary(max_size=300), max_size=12))
def test_random_bytes(kind: str, chunks: list[bytes]) -> None:
    _check(_run(kind, chunks))


@given(
    st.sampled_from(sorted(DECODERS)),
    st.lists(JSON, min_size=1, max_size=6),
    st.lists(st.sampled_from(KEYS), min_size=1, max_size=4),
    st.integers(min_value=1, max_value=40),
)
def test_framed_events_holding_anything(
    kind: str, values: list[Any], keys: list[str], cut: int
) -> None:
    if kind == "ollama":
        wire = b"".join(json.dumps(_shaped(v, keys)).encode() + b"\n" for v in values)
    else:
        wire = b"".join(
            b"event: "
            + str(keys[0]).encode()
            + b"\ndata: "
            + json.dumps(_shaped(v, keys)).encode()
            + b"\n\n"
            for v in values
        )
    chunks = [wire[i : i + cut] for i in range(0, len(wire), cut)]
    _check(_run(kind, chunks))
