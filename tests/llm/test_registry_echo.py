"""The adapter registry and the echo LLM."""

from __future__ import annotations

import pytest

from mcpctl_tui.llm.echo import ECHO_SEPARATOR, echo_text
from mcpctl_tui.llm.events import ErrorKind, Finish, StreamError, StreamEvent, TextDelta, Usage
from mcpctl_tui.llm.registry import OPENAI_ALIASES, UnknownLlmType, get_adapter, known_types
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message

ECHO = Endpoint(type="echo", url="", model="echo")


async def collect(request: InferenceRequest) -> list[StreamEvent]:
    return [ev async for ev in get_adapter("echo").stream(ECHO, request)]


def test_unknown_type_lists_known_types() -> None:
    with pytest.raises(UnknownLlmType) as err:
        get_adapter("gpt-magic")
    msg = str(err.value)
    assert "'gpt-magic'" in msg
    for name in ("anthropic", "echo", "ollama", "openai", "vllm"):
        assert name in msg
    assert "\n" not in msg


def test_known_types_cover_aliases() -> None:
    assert set(known_types()) == {*OPENAI_ALIASES, "anthropic", "ollama", "echo"}
    assert get_adapter("ECHO").name == "echo"
    assert get_adapter("echo") is get_adapter("echo")


async def test_echo_streams_system_then_last_user_message_verbatim() -> None:
    system = "You are terse.\n\nAlways answer in French. ünïcødé ✓"
    req = InferenceRequest(
        system=system,
        messages=[
            Message("user", "first question"),
            Message("assistant", "first answer"),
            Message("user", "  second\nquestion  "),
        ],
    )
    events = await collect(req)
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 5 and all(1 <= len(t) <= 4 for t in texts)
    reply = "".join(texts)
    assert reply == system + ECHO_SEPARATOR + "  second\nquestion  " == echo_text(req)
    assert reply.split(ECHO_SEPARATOR, 1) == [system, "  second\nquestion  "]
    usage = [e for e in events if isinstance(e, Usage)]
    assert usage == [Usage(input_tokens=9 + 6, output_tokens=len(reply.split()))]
    assert events[-1] == Finish("stop")


async def test_echo_empty_system_still_shows_the_separator() -> None:
    events = await collect(InferenceRequest(system="", messages=[Message("user", "hi")]))
    reply = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert reply == ECHO_SEPARATOR + "hi"


async def test_echo_fail_param_ends_with_provider_error_after_text() -> None:
    req = InferenceRequest(
        system="s", messages=[Message("user", "u")], params={"echo_fail": "boom"}
    )
    events = await collect(req)
    assert isinstance(events[0], TextDelta)
    assert events[-1] == StreamError(ErrorKind.PROVIDER, "boom")
    assert not any(isinstance(e, Finish) for e in events)
