"""The chat REPL's line editor on a terminal (prompt_toolkit).

Rules:
  - used only when stdin and stderr are terminals; a pipe or a file on stdin keeps the
    plain line reading of ``cli/chat.py`` (``LineReader``), byte for byte as before;
  - line editing, Up/Down through history, Ctrl+R reverse search (prompt_toolkit's emacs
    keys); no multi-line input: Enter sends the line;
  - history is per user, in ``data_dir()/chat_history``, shared by every agent; it is
    bounded: at start the file is cut to the newest ``HISTORY_LIMIT`` entries;
  - the prompt and the editing go to stderr, so stdout carries only the replies;
  - Ctrl+C at the prompt gives a fresh prompt, Ctrl+D (on an empty line) ends the REPL.

prompt_toolkit is imported only here, and this module only when a REPL opens on a
terminal: the other verbs do not pay for it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from pathlib import Path
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.output import create_output

from mcpctl_tui.config import data_dir

HISTORY_LIMIT = 1000
HISTORY_FILE = "chat_history"


def history_path() -> Path:
    return data_dir() / HISTORY_FILE


def trim_history(path: Path, keep: int = HISTORY_LIMIT) -> None:
    """Cut the history file to its newest ``keep`` entries (atomically: a new file
    renamed over the old, so a crash never leaves half a history)."""
    newest_first = list(itertools.islice(FileHistory(str(path)).load_history_strings(), keep + 1))
    if len(newest_first) <= keep:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    kept = FileHistory(str(tmp))
    for entry in reversed(newest_first[:keep]):
        kept.store_string(entry)
    os.replace(tmp, path)


class TerminalReader:
    """The REPL's lines from the terminal, edited, with the persisted history."""

    def __init__(self, history: Path | None = None) -> None:
        path = history or history_path()
        kept: History
        try:  # an unwritable data directory costs the history across runs, not the REPL
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # an unreadable history: start from it anyway
                trim_history(path)
            kept = FileHistory(str(path))
        except OSError:
            kept = InMemoryHistory()
        self.session: PromptSession[str] = PromptSession(
            history=kept, output=create_output(stdout=sys.stderr)
        )

    async def read(self, prompt: str, err: TextIO) -> str | None:
        """The next line (with its newline, as ``LineReader`` gives it), or None at end."""
        while True:
            try:
                return await self.session.prompt_async(prompt) + "\n"
            except KeyboardInterrupt:
                continue  # a fresh prompt, as at a shell
            except EOFError:
                return None
