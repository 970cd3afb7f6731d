"""The chat REPL on a real terminal (a pty, driven by pexpect): line editing and history.

History persists per user across runs (Up recalls the last run's line), Ctrl+R finds an
earlier line, slash commands still go through the one parser. The data dir is the test's
own (XDG_DATA_HOME), so the operator's history is never read or written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from mcpctl_tui.cli.repl import HISTORY_FILE, trim_history
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from tests.support.seed import add_agent, add_llm
from tests.support.store_rows import threads_of

UP = "\x1b[A"
CTRL_R = "\x12"
CTRL_D = "\x04"
# prompt_toolkit turns bracketed paste on as each prompt opens (the "> " itself is drawn
# with cursor moves, not a space): the sign that the REPL waits for a line.
PROMPT = "\x1b[?2004h"


def _spawn(db_url: str, home: Path) -> pexpect.spawn:
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(home),
        "TERM": "xterm",
        # pexpect's terminal answers no cursor-position request: do not wait for one.
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    child = pexpect.spawn(
        sys.executable,
        ["-m", "mcpctl_tui", "--db", db_url, "chat", "a"],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )
    child.expect("/help for commands")
    child.expect_exact(PROMPT)
    return child


def _answered(child: pexpect.spawn) -> None:
    """The stats footer came (the reply is stored), then the next prompt."""
    child.expect(r"thread \d+ · ")
    child.expect_exact(PROMPT)


def _end(child: pexpect.spawn) -> None:
    child.send(CTRL_D)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_history_up_and_ctrl_r_across_two_runs(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    llm = (await add_llm(store)).id
    a = (await add_agent(store, "a", llm, system_prompt="S")).id
    home = tmp_path / "data"

    child = _spawn(db_url, home)
    child.sendline("first question")
    _answered(child)
    child.sendline("/help")  # a slash command, through commands.parse as before
    child.expect("/set KEY")
    child.expect_exact(PROMPT)
    child.sendline("second thing")
    _answered(child)
    _end(child)
    assert (home / "mcpctl-tui" / HISTORY_FILE).exists()

    child = _spawn(db_url, home)
    child.send(UP)  # the newest line of the last run
    child.expect("second thing")
    child.send("\r")
    _answered(child)
    child.send(CTRL_R)
    child.send("first q")
    child.expect(r"first q\S*uestion")  # found (the match is drawn highlighted)
    child.send("\r")  # ends the search with the found line in the box
    child.send("\r")  # sends it (a blank line would be skipped)
    _answered(child)
    _end(child)

    threads = await threads_of(store, a)
    assert len(threads) == 2
    async with store.session() as s:
        asked = [m.content for m in await all_messages(s, threads[0].id) if m.role == "user"]
    assert asked == ["second thing", "first question"]


def test_history_keeps_the_newest_entries(tmp_path: Path) -> None:
    from prompt_toolkit.history import FileHistory

    path = tmp_path / HISTORY_FILE
    hist = FileHistory(str(path))
    for i in range(30):
        hist.store_string(f"line {i}\nsecond half {i}" if i % 7 == 0 else f"line {i}")
    trim_history(path, keep=10)
    kept = list(FileHistory(str(path)).load_history_strings())
    assert kept == [
        f"line {i}\nsecond half {i}" if i % 7 == 0 else f"line {i}" for i in range(29, 19, -1)
    ]
    trim_history(path, keep=10)  # nothing more to cut
    assert list(FileHistory(str(path)).load_history_strings()) == kept
