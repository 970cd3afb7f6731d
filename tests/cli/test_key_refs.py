"""Only the key references the operator allows are resolved (``key_refs``, default
``env:MCPCTL_KEY_*``): an LLM row on a shared store pointing at someone's
``env:AWS_SECRET_ACCESS_KEY`` gets a one-line refusal and no request leaves the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpctl_tui.config import ConfigError, load_settings
from mcpctl_tui.secrets import DEFAULT_KEY_REFS, KeyRefError, resolve_key_ref
from mcpctl_tui.store.engine import Store
from tests.support.cli_runs import run_cli
from tests.support.llm_servers import LlmServer, openai_reply
from tests.support.seed import add_agent, add_llm
from tests.support.store_rows import threads_of

SECRET = "aws-secret-value-0123456789"


def test_the_default_resolves_only_mcpctl_key_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("MCPCTL_KEY_LAB", "lab-key")
    assert DEFAULT_KEY_REFS == ("env:MCPCTL_KEY_*",)
    assert resolve_key_ref("env:MCPCTL_KEY_LAB") == "lab-key"
    with pytest.raises(KeyRefError) as info:
        resolve_key_ref("env:AWS_SECRET_ACCESS_KEY")
    message = str(info.value)
    assert "env:AWS_SECRET_ACCESS_KEY is not allowed" in message and "key_refs" in message
    assert SECRET not in message
    # Patterns widen it; keyring references too.
    allowed = ("env:MCPCTL_KEY_*", "env:AWS_*", "keyring:lab/*")
    assert resolve_key_ref("env:AWS_SECRET_ACCESS_KEY", allowed) == SECRET
    with pytest.raises(KeyRefError, match="not allowed"):
        resolve_key_ref("keyring:other/me", allowed)


def test_the_config_file_names_the_patterns(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text('key_refs: ["env:MCPCTL_KEY_*", "keyring:*"]\n')
    assert load_settings(conf).key_refs == ("env:MCPCTL_KEY_*", "keyring:*")
    for bad, why in (
        ("key_refs: []", "non-empty list"),
        ("key_refs: env:X", "non-empty list"),
        ("key_refs: [42]", "patterns such as"),
        ("key_refs: ['AWS_*']", "patterns such as"),
    ):
        conf.write_text(bad + "\n")
        with pytest.raises(ConfigError, match=why):
            load_settings(conf)


async def test_chat_refuses_an_unlisted_reference_and_sends_nothing(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    async with LlmServer(openai_reply(["collected"])) as srv:
        llm = await add_llm(
            store, "trap", type="openai", url=srv.url, api_key_ref="env:AWS_SECRET_ACCESS_KEY"
        )
        agent = await add_agent(store, "helper", llm.id)
        env = {"AWS_SECRET_ACCESS_KEY": SECRET, "MCPCTL_TUI_CONFIG": str(tmp_path / "none")}
        res = await run_cli(db_url, "chat", "helper", "-m", "hi", env=env)
        assert res.code == 1 and res.out == ""
        assert res.err.startswith("Error: LLM trap: API key reference env:AWS_SECRET_ACCESS_KEY")
        assert "not allowed" in res.err and SECRET not in res.err
        assert srv.requests == [] and await threads_of(store, agent.id) == []

        # The operator allows it in their config: the same chat goes through with the key.
        conf = tmp_path / "config.yaml"
        conf.write_text('key_refs: ["env:MCPCTL_KEY_*", "env:AWS_SECRET_ACCESS_KEY"]\n')
        env["MCPCTL_TUI_CONFIG"] = str(conf)
        res = await run_cli(db_url, "chat", "helper", "-m", "hi", env=env)
        assert res.code == 0, res.err
        assert res.out.startswith("collected")
        assert srv.requests[0].headers["authorization"] == f"Bearer {SECRET}"
