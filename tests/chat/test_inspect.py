"""The context inspector: the request each wire format would send, nothing sent or written."""

from __future__ import annotations

import json

import pytest

from mcpctl_tui.chat.context import ChatOverrides, prepare_context
from mcpctl_tui.chat.inspect import PLACEHOLDER, inspect_context, report_text
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.types import LlmKind
from tests.support.databases import dump_store
from tests.support.seed import (
    add_agent,
    add_llm,
    add_personality,
    add_prompt,
    add_thread,
    bind_prompt,
)


async def _agent(store: Store, llm_type: str, **llm: object) -> int:
    lid = (await add_llm(store, f"l-{llm_type}", type=llm_type, model="m-1", **llm)).id  # type: ignore[arg-type]
    aid = (await add_agent(store, "a", lid, system_prompt="BASE [bold]not markup[/]")).id
    terse = (await add_personality(store, aid, "terse")).id
    await bind_prompt(store, terse, (await add_prompt(store, "short", "BE SHORT", agent_id=aid)).id)
    return aid


@pytest.mark.parametrize(
    ("llm_type", "system_at"),
    [
        ("openai", ("messages", 0, "content")),
        ("anthropic", ("system",)),
        ("ollama", ("messages", 0, "content")),
    ],
)
async def test_each_wire_format_shows_its_body(
    store: Store, llm_type: str, system_at: tuple[object, ...]
) -> None:
    aid = await _agent(store, llm_type, url="http://127.0.0.1:9/v1", api_key_ref="env:NO_SUCH_KEY")
    thread = (
        await add_thread(
            store, aid, [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}]
        )
    ).id
    before = await dump_store(store)
    ctx = await prepare_context(
        store, aid, thread, "terse", ChatOverrides(params={"temperature": 0.25})
    )
    report = inspect_context(ctx)
    body = json.loads(report.body)
    at: object = body
    for key in system_at:
        at = at[key]  # type: ignore[index]
    assert "BASE [bold]not markup[/]" in str(at) and "BE SHORT" in str(at)
    params = body.get("options", body)  # ollama puts sampling params in "options"
    assert body["model"] == "m-1" and params["temperature"] == 0.25
    assert PLACEHOLDER in report.body and "q1" in report.body and "a1" in report.body
    assert report.personality == "terse" and report.prompt_names == ("short",)
    assert report.history_turns == 2 and report.where == "http://127.0.0.1:9/v1"
    assert "NO_SUCH_KEY" not in report_text(report)  # a key reference is not the request's
    assert await dump_store(store) == before  # nothing written


async def test_virtual_llm_says_where_it_goes(store: Store) -> None:
    lid = (
        await add_llm(
            store, "v", type="ollama", model="m", kind=LlmKind.VIRTUAL, provider_session_id="s-1"
        )
    ).id
    aid = (await add_agent(store, "a", lid)).id
    report = inspect_context(await prepare_context(store, aid))
    assert "relayed" in report.where and "ollama" in (report.note or "")
    assert report.tools == ()
    assert "== Tools\nnone" in report_text(report)


async def test_unknown_type_still_shows_system_and_params(store: Store) -> None:
    lid = (await add_llm(store, "odd", type="nonesuch", model="m")).id
    aid = (await add_agent(store, "a", lid, system_prompt="SYS")).id
    report = inspect_context(await prepare_context(store, aid))
    assert "unknown LLM type" in (report.note or "")
    assert json.loads(report.body)["system"] == "SYS"
