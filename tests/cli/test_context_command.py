"""``/context`` in the REPL prints the request the next message would go with."""

from __future__ import annotations

from mcpctl_tui.store.engine import Store
from tests.support.cli_runs import run_cli
from tests.support.seed import add_agent, add_llm, add_personality, add_prompt, bind_prompt
from tests.support.store_rows import threads_of


async def test_repl_context_shows_the_session_settings(store: Store, db_url: str) -> None:
    llm = (await add_llm(store, type="openai", model="gpt-x", url="http://127.0.0.1:9/v1")).id
    a = (await add_agent(store, "a", llm, system_prompt="ORIG")).id
    pirate = (await add_personality(store, a, "pirate")).id
    await bind_prompt(store, pirate, (await add_prompt(store, "arr", "ARR", agent_id=a)).id)
    script = "/system REPLACED\n/personality pirate\n/set temperature 0.3\n/context\n/quit\n"
    res = await run_cli(db_url, "chat", "a", stdin=script)
    assert res.code == 0, res.err
    assert "== System block\nREPLACED\n\nARR\n" in res.err
    assert '"temperature": 0.3' in res.err and '"model": "gpt-x"' in res.err
    assert "personality pirate" in res.err
    assert await threads_of(store, a) == []  # nothing was sent
