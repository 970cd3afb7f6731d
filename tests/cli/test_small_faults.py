"""The probe's one-line faults, each one line and no traceback now: libpq URL parameters,
an id past 64 bits, terminal controls from argv echoed back, credentials in an LLM's
URL."""

from __future__ import annotations

import pytest

from mcpctl_tui.config import ConfigError, normalize_db_url
from mcpctl_tui.store.manifest.apply import url_problem
from tests.support.cli_runs import invoke_cli, run_cli


def test_libpq_url_parameters_reach_asyncpg_and_unknown_ones_are_named() -> None:
    url = normalize_db_url("postgresql://u@h/db?sslmode=require&connect_timeout=5")
    assert url == "postgresql+asyncpg://u@h/db?ssl=require&timeout=5"
    with pytest.raises(ConfigError, match="'application_name' is not supported"):
        normalize_db_url("postgresql://u@h/db?application_name=x")
    with pytest.raises(ConfigError, match="sslmode='sometimes'"):
        normalize_db_url("postgresql://u@h/db?sslmode=sometimes")


async def test_an_id_past_64_bits_is_a_usage_error(db_url: str) -> None:
    for argv in (
        ["chat", "a", "--thread", "99999999999999999999", "-m", "x"],
        ["history", "99999999999999999999"],
    ):
        res = await run_cli(db_url, *argv)
        assert res.code == 2 and "Traceback" not in res.err
        assert "is not in the range 1<=x<=9223372036854775807" in res.err


async def test_controls_from_argv_are_not_echoed_to_the_terminal(db_url: str) -> None:
    res = await run_cli(db_url, "chat", "ops\x1b]0;owned\x07\u202e", "-m", "x")
    assert res.code == 1
    assert res.err == "Error: agent ops]0;owned not found\n"
    res = await run_cli(db_url, "nope\x1b[2J")
    assert res.code == 2 and "\x1b" not in res.err  # shown escaped, never sent raw


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://me:sk-123@api.example.com/v1", "holds credentials"),
        ("https://api.example.com/v1?api_key=sk-123", "holds a key in its query"),
        ("https://api.example.com/v1?key=AIza123", "holds a key in its query"),
    ],
)
def test_an_llm_url_with_a_key_in_it_is_refused(url: str, why: str) -> None:
    problem = url_problem("openai", url)
    assert problem is not None and why in problem and "sk-123" not in problem


def test_apply_refuses_it_without_echoing_the_key(db_url: str, tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "llm.yaml"
    path.write_text("kind: llm\nname: leaky\ntype: openai\nurl: https://u:sk-secret-1@h/v1\n")
    res = invoke_cli(db_url, "apply", "-f", str(path))
    assert res.exit_code == 1 and "holds credentials" in res.stderr
    assert "sk-secret-1" not in res.stderr
    assert url_problem("openai", "https://api.example.com/v1?model=x") is None


async def test_a_data_directory_that_cannot_be_made_is_one_line(tmp_path: object) -> None:
    # Root ignores permissions; a path under a file cannot be made by anyone.
    env = {
        "XDG_DATA_HOME": "/dev/null/data",
        "MCPCTL_TUI_CONFIG": "/dev/null/none.yaml",
        "MCPCTL_TUI_DB": "",
    }
    res = await run_cli(None, "chat", "a", "-m", "hi", env=env)
    assert res.code == 1 and "Traceback" not in res.err
    assert res.err.startswith("Error: cannot create the database's directory /dev/null/data")
    res = await run_cli(None, "demo", "--no-open", env=env)
    assert res.code == 1 and "Traceback" not in res.err
    assert res.err.startswith("Error: cannot create the data directory /dev/null/data")


@pytest.mark.parametrize("bad", [r"ops\u202Ebad", r"ops\x85", r"ops\x9B31m", r"ops\u2066x"])
def test_names_with_c1_or_bidi_controls_are_refused(bad: str) -> None:
    from mcpctl_tui.store.manifest import ManifestError, parse_manifest

    with pytest.raises(ManifestError) as info:
        parse_manifest(f'kind: project\nname: "{bad}"\n')
    message = str(info.value)
    assert "name must not contain control characters" in message
    assert "project/" not in message  # the name is not quoted back
