"""The relay's JSON forms of events and requests, and the provider file's checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mcpctl_tui.llm.events import (
    ErrorKind,
    Finish,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
)
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.virtual.codec import (
    CodecError,
    decode_event,
    decode_request,
    encode_event,
    encode_request,
)
from mcpctl_tui.virtual.provider_config import (
    COMMAND_TYPE,
    ProviderConfigError,
    load_provider_config,
    parse_provider_config,
)

EVENTS: list[StreamEvent] = [
    TextDelta("héllo \x1b[31m[b]x[/b]"),
    ThinkingDelta("hmm"),
    ToolCallDelta(0, "call_1", "lookup", '{"q": '),
    ToolCallDelta(0, None, None, '"x"}'),
    Usage(12, None),
    Finish("stop"),
    Finish(None),
    StreamError(ErrorKind.RATE_LIMIT, "slow down", 429),
]


def test_events_survive_the_trip_through_json() -> None:
    wire = json.loads(json.dumps([encode_event(e) for e in EVENTS]))
    assert [decode_event(x) for x in wire] == EVENTS


@pytest.mark.parametrize("raw", [[], ["z", 1], ["t"], "t", None, ["c", "x", None, None, ""]])
def test_malformed_events_are_codec_errors(raw: object) -> None:
    with pytest.raises(CodecError):
        decode_event(raw)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (["t", 42], "text: expected text, got 42"),
        (["k", ["x"]], "thinking: expected text"),
        (["u", "3", 1], "input tokens: expected a count, got '3'"),
        (["c", 0, {}, None, ""], "tool call id: expected text, got {}"),
        (["c", 0, None, None, 5], "tool call arguments: expected text, got 5"),
        (["e", "server", 42, None], "error message: expected text, got 42"),
        (["w", "claim", 7], "wait source: expected text, got 7"),
    ],
)
def test_relayed_fields_of_the_wrong_type_are_named(raw: object, field: str) -> None:
    """A provider is another process: what it relays is checked by type, not coerced."""
    with pytest.raises(CodecError, match=re.escape(field)):
        decode_event(raw)


def test_unknown_error_kind_degrades_to_provider() -> None:
    assert decode_event(["e", "martian", "boom", None]) == StreamError(
        ErrorKind.PROVIDER, "boom", None
    )


def test_requests_survive_the_trip_through_json() -> None:
    req = InferenceRequest(
        system="sys",
        messages=[
            Message("user", "hi"),
            Message(
                "assistant",
                "",
                tool_calls=[{"id": "c1", "type": "function", "function": {"name": "f"}}],
            ),
            Message("tool", "42", tool_call_id="c1"),
        ],
        params={"temperature": 0.2},
        tools=[{"type": "function", "function": {"name": "f"}}],
    )
    assert decode_request(json.loads(json.dumps(encode_request(req)))) == req
    with pytest.raises(CodecError):
        decode_request({"messages": [{"content": "no role"}]})


FULL = """
session: {stateFile: /tmp/x.id}
heartbeatInterval: 5
concurrency: 3
llms:
  - name: lab
    description: the lab box
    tier: fast
    upstream: {type: openai, url: http://127.0.0.1:1/v1, model: m, apiKeyRef: env:LAB_KEY}
  - name: cli
    upstream: {command: [my-model, --stream]}
agents:
  - name: helper
    llm: lab
    systemPrompt: be nice
    defaultParams: {temperature: 0.1}
"""


def test_a_full_provider_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(FULL)
    cfg = load_provider_config(path)
    assert [x.name for x in cfg.llms] == ["lab", "cli"]
    assert cfg.llms[0].upstream.api_key_ref == "env:LAB_KEY"
    assert cfg.llms[1].upstream.type == COMMAND_TYPE
    assert cfg.llms[1].upstream.command == ("my-model", "--stream")
    assert cfg.agents[0].default_params == {"temperature": 0.1}
    assert (cfg.concurrency, cfg.heartbeat_interval) == (3, 5.0)
    assert cfg.state_path() == Path("/tmp/x.id")


def test_default_state_file_is_per_provider_file(tmp_path: Path) -> None:
    a = parse_provider_config(
        {"llms": [{"name": "x", "upstream": {"command": ["a"]}}]}, tmp_path / "a"
    )
    b = parse_provider_config(
        {"llms": [{"name": "x", "upstream": {"command": ["a"]}}]}, tmp_path / "b"
    )
    assert a.state_path() != b.state_path()
    assert a.state_path().parent.name == "provider-sessions"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "'llms' must be a non-empty list"),
        ({"llms": [], "bogus": 1}, "unknown key(s) bogus"),
        ({"llms": [{"name": "x"}]}, "llm x: upstream must be a mapping"),
        ({"llms": [{"name": "x", "upstream": {"type": "openai"}}]}, "upstream.url must be"),
        (
            {"llms": [{"name": "x",
                       "upstream": {"type": "openai", "url": "u", "apiKeyRef": "sk-1"}}]},
            "literal keys are refused",
        ),
        ({"llms": [{"name": "x", "upstream": {"command": "ls -l"}}]}, "non-empty list of strings"),
        (
            {"llms": [{"name": "x", "upstream": {"command": ["a"], "url": "u"}}]},
            "does not take url",
        ),
        (
            {"llms": [{"name": "x", "upstream": {"command": ["a"]}}] * 2},
            "listed twice: x",
        ),
        (
            {"llms": [{"name": "x", "upstream": {"command": ["a"]}}],
             "agents": [{"name": "a", "llm": "y"}]},
            "agent a: llm 'y' is not one of this file's llms",
        ),
        (
            {"llms": [{"name": "x", "upstream": {"command": ["a"]}}], "concurrency": 0},
            "concurrency must be a positive integer",
        ),
        (
            {"llms": [{"name": "x", "upstream": {"command": ["a"]}}], "heartbeatInterval": "5"},
            "heartbeatInterval must be a positive number",
        ),
    ],
)  # fmt: skip
def test_provider_file_errors_name_the_field(doc: object, message: str) -> None:
    with pytest.raises(ProviderConfigError) as exc:
        parse_provider_config(doc, Path("p.yaml"))
    assert message in str(exc.value)
    assert str(exc.value).startswith("provider file p.yaml: ")
    assert "sk-1" not in str(exc.value)


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError, match="cannot be read"):
        load_provider_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("llms: [\n")
    with pytest.raises(ProviderConfigError, match="not valid YAML"):
        load_provider_config(bad)
