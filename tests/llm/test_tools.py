"""ToolCallAccumulator: fragments by index -> the OpenAI tool_calls list a turn stores."""

from __future__ import annotations

from mcpctl_tui.llm.events import ToolCallDelta
from mcpctl_tui.llm.tools import ToolCallAccumulator


def test_interleaved_fragments_merge_by_index() -> None:
    acc = ToolCallAccumulator()
    assert not acc
    for d in [
        ToolCallDelta(1, id="b", name="second", arguments=""),
        ToolCallDelta(0, id="a", name="first", arguments='{"x"'),
        ToolCallDelta(1, arguments='{"y": 2}'),
        ToolCallDelta(0, arguments=": 1}"),
        ToolCallDelta(0, id="ignored-later-id", name="first"),
    ]:
        acc.add(d)
    assert acc
    assert acc.result() == [
        {"id": "a", "type": "function", "function": {"name": "first", "arguments": '{"x": 1}'}},
        {"id": "b", "type": "function", "function": {"name": "second", "arguments": '{"y": 2}'}},
    ]


def test_missing_id_and_empty_arguments_get_defaults() -> None:
    acc = ToolCallAccumulator()
    acc.add(ToolCallDelta(3, name="ping"))
    assert acc.result() == [
        {"id": "call_3", "type": "function", "function": {"name": "ping", "arguments": "{}"}}
    ]


def test_streamed_name_pieces_are_joined() -> None:
    acc = ToolCallAccumulator()
    acc.add(ToolCallDelta(0, id="x", name="get_"))
    acc.add(ToolCallDelta(0, name="weather"))
    assert acc.result()[0]["function"]["name"] == "get_weather"
