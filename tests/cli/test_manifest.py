"""``apply``, ``get`` and ``delete`` through the real command line, on both backends."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mcpctl_tui.store.agents import get_agent_by_name
from mcpctl_tui.store.engine import open_store
from mcpctl_tui.store.messages import NewMessage
from mcpctl_tui.store.threads import create_thread
from tests.support.cli_runs import invoke_cli
from tests.support.databases import BACKENDS, dump, fresh_db_url
from tests.support.manifests import BASE
from tests.support.message_append import append_message

MORE_AGENTS = "".join(f"---\nkind: agent\nname: {n}\nllm: openai-main\n" for n in ("ada", "bob"))


def test_apply_from_stdin_then_reapply_is_unchanged(db_url: str) -> None:
    first = invoke_cli(db_url, "apply", "-f", "-", input=BASE)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "project/web created",
        "llm/openai-main created",
        "agent/helper created",
        "prompt/style (agent helper) created",
        "prompt/house (project web) created",
        "prompt/house created",
        "prompt/safety created",
        "personality/terse (agent helper) created",
    ]
    before = dump(db_url)
    again = invoke_cli(db_url, "apply", "-f", "-", input=BASE)
    assert again.exit_code == 0
    assert again.stdout.splitlines() == [
        line.replace(" created", " unchanged") for line in first.stdout.splitlines()
    ]
    assert dump(db_url) == before


def test_apply_from_files_in_one_transaction(db_url: str, tmp_path: Path) -> None:
    a = tmp_path / "agents.yaml"
    b = tmp_path / "llms.yaml"
    a.write_text("kind: agent\nname: solo\nllm: local\n")
    b.write_text(
        "kind: llm\nname: local\ntype: ollama\nmodel: llama3\nurl: http://127.0.0.1:11434\n"
    )
    result = invoke_cli(db_url, "apply", "-f", str(a), "-f", str(b))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["agent/solo created", "llm/local created"]
    # With several files the problems name the file.
    b.write_text("kind: llm\nname: local\ntype: 7\n")
    bad = invoke_cli(db_url, "apply", "-f", str(a), "-f", str(b))
    assert bad.exit_code == 1
    assert f"{b}: document 1 (line 3) llm/local: type must be a string" in bad.stderr


def test_changed_field_reports_configured(db_url: str) -> None:
    invoke_cli(db_url, "apply", "-f", "-", input=BASE)
    result = invoke_cli(db_url, "apply", "-f", "-", input=BASE.replace("tier: fast", "tier: slow"))
    assert "llm/openai-main configured" in result.stdout.splitlines()
    assert sum("configured" in line for line in result.stdout.splitlines()) == 1
    got = invoke_cli(db_url, "get", "llm", "openai-main", "-o", "json")
    assert json.loads(got.stdout)[0]["tier"] == "slow"


def test_yaml_export_reapplies_to_an_identical_state(db_url: str, tmp_path: Path) -> None:
    invoke_cli(db_url, "apply", "-f", "-", input=BASE + MORE_AGENTS)
    before = dump(db_url)
    exported = invoke_cli(db_url, "get", "all", "-o", "yaml")
    assert exported.exit_code == 0
    # Lifecycle columns and timestamps stay out; the key is only its reference.
    for word in ("status", "kind: public", "providerSession", "created", "updated"):
        assert word not in exported.stdout
    assert "apiKeyRef: env:OPENAI_API_KEY" in exported.stdout
    again = invoke_cli(db_url, "apply", "-f", "-", input=exported.stdout)
    assert again.exit_code == 0
    assert all(line.endswith(" unchanged") for line in again.stdout.splitlines())
    assert dump(db_url) == before

    # Applied to an empty database, the export rebuilds the same objects.
    copy = f"sqlite+aiosqlite:///{tmp_path / 'copy.db'}"
    assert invoke_cli(copy, "apply", "-f", "-", input=exported.stdout).exit_code == 0
    assert invoke_cli(copy, "get", "all", "-o", "yaml").stdout == exported.stdout


def test_per_kind_yaml_and_json_exports_reapply(db_url: str) -> None:
    invoke_cli(db_url, "apply", "-f", "-", input=BASE)
    before = dump(db_url)
    for kind in ("llms", "projects", "agents", "prompts", "personalities"):
        for fmt in ("yaml", "json"):
            out = invoke_cli(db_url, "get", kind, "-o", fmt).stdout
            result = invoke_cli(db_url, "apply", "-f", "-", input=out)
            assert result.exit_code == 0, (kind, fmt, result.output)
            assert all(line.endswith(" unchanged") for line in result.stdout.splitlines())
    assert dump(db_url) == before


def test_get_table_is_aligned_and_filters(db_url: str) -> None:
    invoke_cli(db_url, "apply", "-f", "-", input=BASE + MORE_AGENTS)
    table = invoke_cli(db_url, "get", "agents").stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "LLM",
        "PROJECT",
        "PERSONALITY",
        "KIND",
        "STATUS",
        "PERSONALITIES",
        "THREADS",
    ]
    assert [line.split()[0] for line in table[1:]] == ["ada", "bob", "helper"]
    # Every column starts at the same offset on every line.
    llm_col = table[0].index("LLM")
    assert all(line[llm_col:].startswith("openai-main") for line in table[1:])
    assert table[3].split() == [
        "helper",
        "openai-main",
        "web",
        "terse",
        "public",
        "active",
        "1",
        "0",
    ]

    prompts = invoke_cli(db_url, "get", "prompts", "--agent", "helper").stdout.splitlines()
    assert [p.split()[:3] for p in prompts] == [
        ["NAME", "SCOPE", "PRIORITY"],
        ["style", "agent", "helper"],
    ]
    house = invoke_cli(db_url, "get", "prompt", "house").stdout.splitlines()
    assert [line.split()[1] for line in house[1:]] == ["global", "project"]
    one = invoke_cli(db_url, "get", "personality", "terse", "--agent", "helper", "-o", "json")
    assert json.loads(one.stdout) == [
        {
            "kind": "personality",
            "name": "terse",
            "agent": "helper",
            "description": "Very short",
            "priority": 1,
            "prompts": [{"name": "style", "priority": 5}, {"name": "house"}, {"name": "safety"}],
        }
    ]


def test_get_errors_are_one_line(db_url: str) -> None:
    assert invoke_cli(db_url, "db", "upgrade").exit_code == 0  # get does not create a database
    missing = invoke_cli(db_url, "get", "agent", "ghost")
    assert missing.exit_code == 1
    assert missing.stderr == "Error: agent ghost not found\n"
    assert invoke_cli(db_url, "get", "llms").stderr == "No llms found.\n"
    wrong = invoke_cli(db_url, "get", "widgets")
    assert wrong.exit_code == 2 and "unknown kind 'widgets'" in wrong.stderr
    bad_filter = invoke_cli(db_url, "get", "llms", "--agent", "x")
    assert bad_filter.exit_code == 2
    assert "--agent applies to prompts and personalities only" in bad_filter.stderr


def test_table_cells_carry_no_control_sequences(db_url: str) -> None:
    text = 'kind: project\nname: evil\ndescription: "a\\x1b[31mred\\u009b2J\\nnext"\n'
    assert invoke_cli(db_url, "apply", "-f", "-", input=text).exit_code == 0
    for fmt in ("table", "yaml", "json"):
        out = invoke_cli(db_url, "get", "project", "evil", "-o", fmt).stdout
        assert "\x1b" not in out and "\x9b" not in out, fmt
    assert "a[31mred2J next" in invoke_cli(db_url, "get", "projects").stdout
    exported = invoke_cli(db_url, "get", "projects", "-o", "yaml").stdout
    assert yaml.safe_load(exported)["description"] == "a\x1b[31mred\x9b2J\nnext"


BAD_INPUTS = [
    ("kind: llm\nname: x\n  type: [\n", "document 1 (line 3): malformed YAML"),
    ("kind: project\nname: p2\n---\n[1, 2]\n", "document 2 (line 4): must be a mapping"),
    ("kind: model\nname: x\n", "unknown kind 'model'"),
    ("kind: agent\nname: a\n", "agent/a: missing field 'llm'"),
    ("kind: project\nname: p\nowner: me\n", "project/p: unknown field 'owner'"),
    ("kind: prompt\nname: p\ncontent: [1]\n", "prompt/p: content must be a string, not a list"),
    (
        "kind: project\nname: p2\n---\nkind: agent\nname: a\nllm: nope\n",
        "document 2 (line 6) agent/a: llm 'nope' not found",
    ),
    (
        "kind: llm\nname: leak\ntype: openai\napiKey: sk-proj-SECRETSECRET\n",
        "field 'apiKey' holds a literal secret",
    ),
    (
        "kind: llm\nname: leak\ntype: openai\napiKeyRef: sk-proj-SECRETSECRET\n",
        "apiKeyRef must be a key reference",
    ),
    # Valid first documents, then a bad one: the good ones are not written either.
    (BASE.replace("name: terse\nagent: helper", "name: terse\nagent: ghost"), "agent 'ghost'"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_INPUTS)
def test_bad_input_is_refused_and_the_database_is_unchanged(
    db_url: str, text: str, expected: str
) -> None:
    invoke_cli(db_url, "apply", "-f", "-", input="kind: project\nname: existing\n")
    before = dump(db_url)
    result = invoke_cli(db_url, "apply", "-f", "-", input=text)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert expected in result.stderr
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr
    assert "SECRETSECRET" not in result.output
    assert dump(db_url) == before


def test_non_utf8_and_missing_files_are_clear_errors(db_url: str, tmp_path: Path) -> None:
    binary = tmp_path / "x.yaml"
    binary.write_bytes(b"kind: project\nname: \xff\n")
    result = invoke_cli(db_url, "apply", "-f", str(binary))
    assert result.exit_code == 1 and f"{binary}: not UTF-8 text" in result.stderr
    gone = invoke_cli(db_url, "apply", "-f", str(tmp_path / "nope.yaml"))
    assert gone.exit_code == 1 and "cannot read" in gone.stderr


def test_delete_llm_in_use_is_reported_not_a_traceback(db_url: str) -> None:
    invoke_cli(db_url, "apply", "-f", "-", input=BASE + MORE_AGENTS)
    before = dump(db_url)
    result = invoke_cli(db_url, "delete", "llm", "openai-main")
    assert result.exit_code == 1
    assert result.stderr == "Error: llm openai-main is in use by 3 agents: ada, bob, helper\n"
    assert dump(db_url) == before


def test_delete_agent_counts_the_cascade(db_url: str) -> None:
    invoke_cli(db_url, "apply", "-f", "-", input=BASE + MORE_AGENTS)

    async def chat() -> None:
        store = await open_store(db_url)
        try:
            async with store.transaction() as s:
                agent = await get_agent_by_name(s, "helper")
                assert agent is not None
                threads = [await create_thread(s, agent.id, t) for t in ("a", "b", "c")]
            for i in range(5):
                await append_message(store, threads[i % 2].id, NewMessage("user", f"m{i}"))
        finally:
            await store.close()

    asyncio.run(chat())
    result = invoke_cli(db_url, "delete", "agent", "helper")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "agent/helper deleted (1 personality, 1 prompt, 3 threads, 5 messages)\n"
    )
    assert invoke_cli(db_url, "get", "agent", "helper").exit_code == 1
    # Now only ada and bob hold the LLM.
    assert (
        "in use by 2 agents: ada, bob" in invoke_cli(db_url, "delete", "llm", "openai-main").stderr
    )


def test_delete_every_kind(db_url: str) -> None:
    invoke_cli(db_url, "apply", "-f", "-", input=BASE)
    # A prompt name that is not global needs its scope.
    ambiguous = invoke_cli(db_url, "delete", "prompt", "style")
    assert ambiguous.exit_code == 1
    assert "prompt style is not a global prompt; it exists for agent helper" in ambiguous.stderr
    steps = [
        (
            ("prompt", "style", "--agent", "helper"),
            "prompt/style (agent helper) deleted (1 personality binding)",
        ),
        (
            ("prompt", "house", "--project", "web"),
            "prompt/house (project web) deleted (1 personality binding)",
        ),
        (("prompt", "house"), "prompt/house deleted (0 personality bindings)"),
        (
            ("personality", "terse"),
            "personality/terse (agent helper) deleted "
            "(1 prompt binding; no longer the default of helper)",
        ),
        (("project", "web"), "project/web deleted (0 prompts, 1 agent detached)"),
        (
            ("agents", "helper"),
            "agent/helper deleted (0 personalities, 0 prompts, 0 threads, 0 messages)",
        ),
        (("llm", "openai-main"), "llm/openai-main deleted"),
        (("prompt", "safety"), "prompt/safety deleted (0 personality bindings)"),
    ]
    for args, expected in steps:
        result = invoke_cli(db_url, "delete", *args)
        assert result.exit_code == 0, result.output
        assert result.stdout == expected + "\n"
    assert invoke_cli(db_url, "get", "all", "-o", "yaml").stdout == ""
    missing = invoke_cli(db_url, "delete", "project", "web")
    assert (missing.exit_code, missing.stderr) == (1, "Error: project web not found\n")


def test_default_personality_cycle_through_the_cli(db_url: str) -> None:
    agent = "kind: agent\nname: a\nllm: l\ndefaultPersonality: calm\n"
    rest = (
        "kind: llm\nname: l\ntype: ollama\nurl: http://127.0.0.1:11434\n---\n"
        "kind: personality\nname: calm\nagent: a\n"
    )
    result = invoke_cli(db_url, "apply", "-f", "-", input=agent + "---\n" + rest)
    assert result.exit_code == 0, result.output
    got = invoke_cli(db_url, "get", "agent", "a", "-o", "yaml")
    assert "defaultPersonality: calm" in got.stdout
    # Switching the default to a personality declared in the same file.
    switched = (
        agent.replace("calm", "bold")
        + "---\n"
        + rest
        + "---\n"
        + rest.split("---\n")[1].replace("calm", "bold")
    )
    out = invoke_cli(db_url, "apply", "-f", "-", input=switched).stdout.splitlines()
    assert out == [
        "agent/a configured",
        "llm/l unchanged",
        "personality/calm (agent a) unchanged",
        "personality/bold (agent a) created",
    ]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_installed_module_as_a_subprocess(backend: str, tmp_path: Path) -> None:
    async with fresh_db_url(backend, tmp_path) as url:
        env = {**os.environ, "PYTHONPATH": ""}

        def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "mcpctl_tui", "--db", url, *args],
                input=stdin,
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=60,
            )

        applied = await asyncio.to_thread(run, "apply", "-f", "-", stdin=BASE)
        assert applied.returncode == 0, applied.stderr
        assert applied.stdout.splitlines()[0] == "project/web created"
        exported = await asyncio.to_thread(run, "get", "all", "-o", "yaml")
        assert exported.returncode == 0
        again = await asyncio.to_thread(run, "apply", "-f", "-", stdin=exported.stdout)
        assert again.returncode == 0
        assert all(line.endswith(" unchanged") for line in again.stdout.splitlines())
        refused = await asyncio.to_thread(run, "delete", "llm", "openai-main")
        assert refused.returncode == 1
        assert refused.stderr == "Error: llm openai-main is in use by 1 agent: helper\n"


def test_dry_run_reports_but_writes_nothing(db_url: str) -> None:
    before = dump(db_url)
    result = invoke_cli(db_url, "apply", "--dry-run", "-f", "-", input=BASE)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "project/web created (dry run)"
    assert dump(db_url) == before


def test_table_aligns_wide_characters(db_url: str) -> None:
    text = "kind: project\nname: 日本語\n---\nkind: project\nname: ab\ndescription: x\n"
    assert invoke_cli(db_url, "apply", "-f", "-", input=text).exit_code == 0
    lines = invoke_cli(db_url, "get", "projects").stdout.splitlines()
    # "日本語" is six terminal columns wide, so AGENTS starts at column 9 on every line.
    assert lines[0].index("AGENTS") == 9
    assert lines[1].startswith("ab       0")
    assert lines[2].startswith("日本語   0")


def test_an_empty_manifest_is_an_error(db_url: str) -> None:
    result = invoke_cli(db_url, "apply", "-f", "-", input="---\n# nothing\n")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: no documents to apply (the input is empty)\n",
    )
