"""What an operator meets at the command line: regressions from the QA walkthrough.

Each test is one finding: a traceback, a multi-line error, a value that could not be
stored or re-applied, or output that ran together.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mcpctl_tui.chat.context import ChatOverrides, check_params
from mcpctl_tui.chat.errors import InvalidParam
from mcpctl_tui.chat.events import TurnEnded
from mcpctl_tui.config import ConfigError, load_settings, resolve_db_url
from mcpctl_tui.llm.echo import ECHO_SEPARATOR
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import Agent
from mcpctl_tui.store.types import MessageStatus
from tests.support.cli_runs import invoke_cli, run_cli, spawn_cli
from tests.support.databases import dump
from tests.support.seed import add_llm, add_llm_agent
from tests.support.store_rows import threads_of

# --- per-call params: literal secrets and non-JSON numbers ---------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"api_key": "sk-live-123"},
        {"extra_headers": {"Authorization": "Bearer sk-live-123"}},
        {"temperature": float("nan")},
        {"logit_bias": {"50256": float("-inf")}},
        {"stop": ["x", float("inf")]},
    ],
)
def test_params_refuse_secrets_and_non_finite_numbers(params: dict[str, object]) -> None:
    with pytest.raises(InvalidParam) as info:
        check_params(params)
    assert "sk-live-123" not in str(info.value)


def test_params_keep_ordinary_values() -> None:
    check_params({"temperature": 0.5, "token_budget": 3, "api_key": None, "stop": ["x"]})


async def test_the_engine_refuses_bad_params_before_writing(store: Store) -> None:
    # The UI builds ChatOverrides from its own /set: the engine checks them on send (raised
    # from the first anext, as a ChatError the UI shows) and on save, nothing written.
    from mcpctl_tui.chat.service import ChatService

    a = (await add_llm_agent(store, agent="a", default_params={"top_p": 0.5})).id
    bad = ChatOverrides(params={"api_key": "sk-live-123"})
    async with ChatService(store) as svc:
        with pytest.raises(InvalidParam):
            await anext(svc.send("a", "hi", overrides=bad))
        with pytest.raises(InvalidParam):
            await svc.save_overrides("a", ChatOverrides(params={"seed": float("nan")}))
    assert await threads_of(store, a) == []
    async with store.session() as s:
        agent = await s.get(Agent, a)
        assert agent is not None and agent.default_params == {"top_p": 0.5}


async def test_cli_refuses_a_secret_or_nan_param_before_writing(store: Store, db_url: str) -> None:
    a = (await add_llm_agent(store, agent="a")).id
    for args in (
        ("--extra", "api_key=sk-live-123"),
        ("--extra", "Authorization=Bearer sk-live-123"),
        ("--temperature", "nan"),
        ("--extra", "top_p=Infinity"),
    ):
        res = await run_cli(db_url, "chat", "a", "-m", "x", *args)
        assert res.code == 2, (args, res.err)
        assert res.err.strip().splitlines()[-1].startswith("Error: parameter ")
        assert "sk-live-123" not in res.err and "Traceback" not in res.err
    assert await threads_of(store, a) == []  # nothing written


async def test_repl_set_and_save_refuse_secrets_and_nan(store: Store, db_url: str) -> None:
    # Before the fix /save wrote api_key into default_params (then `get -o yaml` exported a
    # document apply refuses), echoed the key, and NaN crashed /save on PostgreSQL.
    a = (await add_llm_agent(store, agent="a", default_params={"top_p": 0.5})).id
    script = "/set api_key sk-live-123\n/set temperature NaN\n/set seed 7\n/save\n/quit\n"
    res = await run_cli(db_url, "chat", "a", stdin=script)
    assert res.code == 0, res.err
    assert "sk-live-123" not in res.err and "Traceback" not in res.err
    assert "error: parameter 'api_key' would hold a literal secret" in res.err
    assert "error: parameter 'temperature' must hold finite numbers" in res.err
    async with store.session() as s:
        agent = await s.get(Agent, a)
        assert agent is not None and agent.default_params == {"top_p": 0.5, "seed": 7}


# --- the REPL into a pipe -----------------------------------------------------------------


async def test_repl_replies_into_a_pipe_each_end_their_line(store: Store, db_url: str) -> None:
    await add_llm_agent(store, agent="a", system_prompt="S")
    res = await run_cli(db_url, "chat", "a", stdin="one\ntwo\n")
    assert res.code == 0, res.err
    assert res.out == f"S{ECHO_SEPARATOR}one\nS{ECHO_SEPARATOR}two\n"


async def test_one_shot_into_a_pipe_stays_exact(store: Store, db_url: str) -> None:
    await add_llm_agent(store, agent="a", system_prompt="S")
    res = await run_cli(db_url, "chat", "a", "-m", "one")
    assert res.out == f"S{ECHO_SEPARATOR}one"


# --- the footer's rate --------------------------------------------------------------------


def _ended(ttft_ms: float | None, duration_ms: float, output_tokens: int | None) -> TurnEnded:
    return TurnEnded(
        thread_id=1,
        assistant_message_id=2,
        status=MessageStatus.COMPLETE,
        text="x",
        thinking="",
        tool_calls=None,
        error=None,
        error_kind=None,
        finish_reason="stop",
        input_tokens=3,
        output_tokens=output_tokens,
        ttft_ms=ttft_ms,
        duration_ms=duration_ms,
        chunks=8,
    )


def test_rate_is_not_shown_for_a_reply_that_arrived_at_once() -> None:
    # The echo LLM used to report "190775.7 tok/s": 33 words over 0.2 ms.
    instant = _ended(ttft_ms=46.0, duration_ms=46.2, output_tokens=33)
    assert instant.tokens_per_s is None
    assert "- tok/s" in instant.footer()
    streamed = _ended(ttft_ms=50.0, duration_ms=250.0, output_tokens=30)
    assert streamed.tokens_per_s == pytest.approx(150.0)
    assert "150.0 tok/s" in streamed.footer()


# --- the config file and the database URL -------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"db: [unclosed\n", "is not valid YAML (line 2): while parsing a flow sequence: "),
        (b"\xff\xfedb: x\n", "is not UTF-8 text (byte 0)"),
        (b"1: x\nfoo: 2\n", "unknown key(s) 1, foo"),
        (b"heartbeat_interval: yes\n", "'heartbeat_interval' must be a positive number"),
    ],
)
def test_broken_config_file_is_one_clear_line(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


async def test_broken_config_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    for content in (b"db: [unclosed\n", b"\xff\xfe"):
        path.write_bytes(content)
        for args in (("get", "llm"), ("db", "current"), ("chat", "a", "-m", "x")):
            res = await run_cli(None, *args, env={"MCPCTL_TUI_CONFIG": str(path)})
            assert res.code == 1 and res.out == ""
            assert res.err.count("\n") == 1, res.err  # one line, no traceback
            assert res.err.startswith(f"Error: config file {path} ")


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite+aiosqlite:///file:x?mode=memory"],
)
def test_an_in_memory_database_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # `apply` to it printed "created" and kept nothing.
    with pytest.raises(ConfigError, match=r"^--db: .* in-memory SQLite database"):
        resolve_db_url(url)
    monkeypatch.setenv("MCPCTL_TUI_DB", url)
    with pytest.raises(ConfigError, match=r"^\$MCPCTL_TUI_DB: "):
        resolve_db_url()
    assert resolve_db_url("sqlite:///relative.db") == "sqlite+aiosqlite:///relative.db"


async def test_in_memory_database_through_the_cli(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("kind: project\nname: p\n")
    res = await run_cli("sqlite://", "apply", "-f", str(manifest), env={})
    assert res.code == 1 and res.out == ""
    assert res.err.count("\n") == 1 and "in-memory SQLite database" in res.err


# --- small slips ----------------------------------------------------------------------------


async def test_an_empty_message_is_refused_before_anything_is_written(
    store: Store, db_url: str
) -> None:
    a = (await add_llm_agent(store, agent="a")).id
    for message in ("", "  \n"):
        res = await run_cli(db_url, "chat", "a", "-m", message)
        assert res.code == 2 and res.err.strip().endswith("Error: -m/--message is empty")
    assert await threads_of(store, a) == []


async def test_no_command_without_the_ui_is_one_line(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("mcpctl_tui.cli.app") is not None:
        pytest.skip("this build has the UI verb (its own tests cover launching it)")
    res = await run_cli(f"sqlite:///{tmp_path / 'x.db'}", env={})
    assert res.code == 1 and res.out == ""
    assert (
        res.err
        == "Error: this build has no terminal UI; see 'mcpctl-tui --help' for its commands\n"
    )


# --- a stored param no JSON can carry -----------------------------------------------------


@pytest.mark.parametrize("llm_type", ["openai", "anthropic", "ollama"])
async def test_a_non_json_param_is_a_clear_error_not_an_internal_one(llm_type: str) -> None:
    # Per-call params are checked (ChatOverrides), but agent.default_params written to a
    # SQLite file by hand or by an older build may hold NaN; httpx then raised ValueError
    # inside the turn ("internal error: ValueError" plus a logged traceback).
    from mcpctl_tui.llm.events import ErrorKind, StreamError
    from mcpctl_tui.llm.request import InferenceRequest, Message
    from tests.support.llm_servers import LlmServer, collect, openai_reply

    request = InferenceRequest(
        system="s", messages=[Message("user", "hi")], params={"temperature": float("nan")}
    )
    async with LlmServer(openai_reply(["never"])) as server:
        events = await collect(llm_type, server.url, request)
        assert server.requests == []  # nothing went out
    (err,) = events
    assert isinstance(err, StreamError) and err.kind is ErrorKind.CONFIG
    assert err.message.startswith("request not sent: Out of range float values")


# --- an llm type nobody serves ------------------------------------------------------------


def test_apply_refuses_an_unknown_llm_type(db_url: str) -> None:

    before = dump(db_url)
    bad = invoke_cli(
        db_url,
        "apply",
        "-f",
        "-",
        input="kind: llm\nname: ok\ntype: OpenAI\nurl: http://127.0.0.1:9/v1\n---\n"
        "kind: llm\nname: typo\nmodel: m\ntype: opnai\n",
    )
    assert bad.exit_code == 1
    assert bad.stderr.startswith(
        "Error: document 2 (line 9) llm/typo: type 'opnai' is not a known LLM type (known: "
    )
    assert dump(db_url) == before  # nothing from the file, not even llm/ok
    ok = invoke_cli(
        db_url, "apply", "-f", "-", input="kind: llm\nname: ok\ntype: OpenAI\nurl: http://h:1\n"
    )
    assert ok.exit_code == 0 and ok.stdout == "llm/ok created\n"  # types are case-insensitive


async def test_a_row_that_holds_its_odd_type_reapplies_from_its_export(
    store: Store, db_url: str
) -> None:
    # A provider session publishes `type: command` LLMs; `get all -o yaml` of a team store
    # must still apply back (the virtual row skipped, marked so by the export; the public
    # one unchanged), while changing a row to an unknown type is refused.
    from mcpctl_tui.store.types import LlmKind

    async with store.transaction() as s:
        await add_llm(
            s,
            "gpu",
            type="command",
            kind=LlmKind.VIRTUAL,
            provider_session_id="p1",
            last_heartbeat_at=None,
        )
        await add_llm(s, "old", type="legacy-type")
    export = await asyncio.to_thread(invoke_cli, db_url, "get", "llm", "-o", "yaml")
    assert "type: command" in export.stdout and "type: legacy-type" in export.stdout
    again = await asyncio.to_thread(invoke_cli, db_url, "apply", "-f", "-", input=export.stdout)
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines() == [
        "llm/gpu skipped (virtual, published by provider session p1; only a provider creates it)",
        "llm/old unchanged",
    ]
    moved = await asyncio.to_thread(
        invoke_cli, db_url, "apply", "-f", "-", input="kind: llm\nname: old\ntype: legacy-2\n"
    )
    assert moved.exit_code == 1 and "type 'legacy-2' is not a known LLM type" in moved.stderr


# --- Ctrl-C at the REPL prompt --------------------------------------------------------------


async def test_ctrl_c_at_the_prompt_keeps_the_session_and_the_next_line(
    store: Store, db_url: str
) -> None:
    import signal

    await add_llm_agent(store, agent="a", system_prompt="S")
    proc = await spawn_cli(db_url, "chat", "a")
    assert proc.stdin is not None and proc.stderr is not None
    banner = await asyncio.wait_for(proc.stderr.readline(), 30)
    assert banner.startswith(b"chatting with a ")
    await asyncio.sleep(0.5)  # now waiting for a line
    proc.send_signal(signal.SIGINT)
    await asyncio.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    await asyncio.sleep(0.3)
    proc.stdin.write(b"after the interrupts\n/quit\n")
    await proc.stdin.drain()
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err
    assert out.decode() == f"S{ECHO_SEPARATOR}after the interrupts\n"
    assert b"Aborted" not in err and b"Traceback" not in err


# --- bytes that are not UTF-8 -----------------------------------------------------------------


async def test_non_utf8_input_is_refused_not_a_traceback(store: Store, db_url: str) -> None:
    a = (await add_llm_agent(store, agent="a", system_prompt="S")).id
    # argv: Python keeps the bad byte as a lone surrogate; the store used to crash on it
    bad_arg = b"caf\xe9".decode("utf-8", "surrogateescape")
    for args in (("chat", "a", "-m", bad_arg), ("get", "agent", bad_arg)):
        res = await run_cli(db_url, *args)
        assert res.code == 2 and "Traceback" not in res.err
        assert res.err.strip().endswith("Error: argument 'caf…' is not UTF-8 text (at character 4)")
    assert await threads_of(store, a) == []
    # the REPL: the bad line is reported and skipped, the next one (CRLF) is sent as text
    proc = await spawn_cli(db_url, "chat", "a")
    out, err = await asyncio.wait_for(proc.communicate(b"caf\xe9\r\nnext\r\n"), 60)
    assert proc.returncode == 0, err
    assert b"error: that line is not UTF-8 text (byte 4); not sent" in err
    assert out.decode() == f"S{ECHO_SEPARATOR}next\n"
    (thread,) = await threads_of(store, a)
    async with store.session() as s:
        from mcpctl_tui.store.messages import all_messages

        rows = await all_messages(s, thread.id)
    assert rows[0].content == "next"  # no CR kept


# --- a SQLite path that is not there ------------------------------------------------------


async def test_reading_verbs_refuse_a_missing_sqlite_file(tmp_path: Path) -> None:
    # A mistyped --db used to create the directories and an empty database, then say
    # "No agents found."; verbs that only read or delete now say there is no database.
    missing = tmp_path / "typo" / "store.db"
    url = f"sqlite:///{missing}"
    for args in (
        ("get", "agents"),
        ("delete", "agent", "a"),
        ("threads", "a"),
        ("history", "1"),
    ):
        res = await run_cli(url, *args, env={})
        assert res.code == 1 and res.out == "", args
        assert res.err == (
            f"Error: no database at {missing}; 'mcpctl-tui apply' or 'mcpctl-tui db upgrade' "
            "creates one\n"
        )
    assert not missing.parent.exists()  # nothing was created


async def test_a_tilde_sqlite_path_is_the_home_directory(tmp_path: Path) -> None:
    # SQLite does not expand ~: the store made ~'s directory, then could not open the file.
    manifest = tmp_path / "m.yaml"
    manifest.write_text("kind: project\nname: p\n")
    env = {"HOME": str(tmp_path)}
    res = await run_cli("sqlite:///~/sub/store.db", "apply", "-f", str(manifest), env=env)
    assert res.code == 0, res.err
    assert (tmp_path / "sub" / "store.db").exists()
    res = await run_cli("sqlite:///~/sub/store.db", "get", "project", "-o", "json", env=env)
    assert res.code == 0 and '"name": "p"' in res.out


# --- small wording ------------------------------------------------------------------------------


async def test_a_status_without_a_reason_phrase_reads_cleanly() -> None:
    from tests.support.llm_servers import collect

    body = b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 529 \r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        writer.write(head.encode() + b"\r\nconnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        (err,) = await collect("anthropic", f"http://127.0.0.1:{port}")
    finally:
        server.close()
        await server.wait_closed()
    assert err.message == f"HTTP 529 from 127.0.0.1:{port}: Overloaded (overloaded_error)"


async def test_repl_save_without_params_writes_nothing(store: Store, db_url: str) -> None:
    a = (await add_llm_agent(store, agent="a", default_params={"top_p": 0.5})).id
    async with store.session() as s:
        before = await s.get(Agent, a)
        assert before is not None
    res = await run_cli(db_url, "chat", "a", stdin="/save\n")
    assert res.code == 0 and "nothing to save (no /set parameters)" in res.err
    async with store.session() as s:
        after = await s.get(Agent, a)
        assert after is not None and after.updated_at == before.updated_at


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["provider", "serve", "-f", "p.yaml", "--poll-interval", "0"], "positive"),
        (["provider", "serve", "-f", "p.yaml", "--heartbeat-timeout", "-1"], "positive"),
        (["provider", "serve", "-f", "p.yaml", "--heartbeat-interval", "inf"], "positive"),
        (["provider", "status", "--heartbeat-timeout", "nan"], "positive"),
        (["gc", "--watch", "0"], "positive"),
        (["gc", "--pending-ttl", "soon"], "'soon' is not a number of seconds"),
    ],
)
def test_intervals_must_be_positive_seconds(tmp_path: Path, args: list[str], said: str) -> None:
    """Zero or a negative interval made a provider poll or beat without pause (0 was
    quietly the default for some, and -1 went through)."""

    result = invoke_cli(f"sqlite:///{tmp_path / 'db.sqlite'}", *args)
    assert result.exit_code == 2
    if said == "positive":
        said = "must be a positive number of seconds"
    assert f"Invalid value for '{args[-2]}': {said}" in result.output
