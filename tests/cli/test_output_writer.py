"""Every text front end writes whatever a model sent without raising: the REPL died with
``UnicodeEncodeError: … '\\ud800' … surrogates not allowed`` on a reply carrying a lone
surrogate escape, where ``chat -m`` and the TUI survived."""

from __future__ import annotations

import pytest

from mcpctl_tui.store.engine import Store
from tests.support.cli_runs import run_cli
from tests.support.llm_servers import LlmServer, Reply, sse
from tests.support.seed import add_agent, add_llm

SSE = {"content-type": "text/event-stream"}


def _reply() -> Reply:
    # The JSON escape \ud800 decodes to a lone surrogate: text no UTF-8 stream can hold.
    raw = '{"choices": [{"index": 0, "delta": {"content": "bad \\ud800 char é"}}]}'
    return Reply([sse(raw), sse("[DONE]")], headers=SSE)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", ["repl", "one-shot"])
async def test_a_lone_surrogate_in_a_reply_is_written_not_raised(
    store: Store, db_url: str, mode: str
) -> None:
    async with LlmServer(_reply()) as srv:
        llm = await add_llm(store, "o", type="openai", url=srv.url, model="m")
        await add_agent(store, "a", llm.id)
        if mode == "repl":
            res = await run_cli(db_url, "chat", "a", stdin="hello\n/quit\n")
        else:
            res = await run_cli(db_url, "chat", "a", "-m", "hello")
    assert res.code == 0, res.err
    assert "Traceback" not in res.err
    assert "bad ? char é" in res.out
