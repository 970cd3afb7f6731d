"""The row actions of the resource views, each awaited inside a worker of the screen.

- ``y``: the row as ``get KIND NAME -o yaml`` prints it (the same export code), in a
  read-only modal as plain text (a ``TextArea``: never markup). Threads and providers
  are not manifest kinds: their row's fields are shown as YAML instead.
- ``e``: that YAML in a temp file, ``$VISUAL``/``$EDITOR`` on it (the app suspended),
  then applied exactly as ``apply -f`` applies a file. A refusal is shown and the file
  kept: edit it again, or leave it (its path is said). A virtual row is not edited
  here: the provider session that publishes it is named instead.
- ``d``: what uses the row (agents of an LLM, threads of an agent …).
- ``Ctrl+D``: the delete rules of ``store.deletes`` (a refusal is said before asking),
  confirmed in the dialog that defaults to No, naming what goes with it.

Each returns True when it wrote to the store (the view and the main screen read again).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static, TextArea

from mcpctl_tui.store.manifest.documents import label
from mcpctl_tui.ui.data import Line, StoreError, UiData
from mcpctl_tui.ui.pacing import PacedModalScreen
from mcpctl_tui.ui.screens import thread_dialogs
from mcpctl_tui.ui.screens.dialogs import ConfirmScreen, dialog_footer
from mcpctl_tui.ui.text import clean, literal, say


class TextScreen(PacedModalScreen[None]):
    """Text to read (and select), never interpreted: YAML, a description."""

    CSS_PATH = "resources.tcss"
    BINDINGS = [Binding("escape,q", "dismiss(None)", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self._title = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog text-dialog"):
            yield Static(literal(self._title, "bold"), classes="dialog-title")
            yield TextArea(clean(self.text), read_only=True, soft_wrap=False, id="text-body")
        yield dialog_footer()

    def on_mount(self) -> None:
        self.query_one(TextArea).cursor_blink = False  # text to read: a steady cursor


def _fields_yaml(line: Line) -> str:
    values = {k: (str(v) if v is not None else None) for k, v in line.values.items()}
    return yaml.safe_dump(values, sort_keys=False, allow_unicode=True)


async def show_yaml(app: App[Any], data: UiData, line: Line) -> None:
    if line.doc is None:
        title, text = f"{line.key} (its fields: not a manifest kind)", _fields_yaml(line)
    else:
        try:
            text = await data.manifest(line.doc)
        except StoreError as exc:
            say(app, str(exc), severity="error")
            return
        title = label(line.doc)
    await app.push_screen_wait(TextScreen(title, text))


async def describe(app: App[Any], data: UiData, line: Line) -> None:
    try:
        usage = await data.describe(line)
    except StoreError as exc:
        say(app, str(exc), severity="error")
        return
    out = []
    for heading, names in usage.groups:
        out.append(f"{heading} ({len(names)}):")
        out.extend(f"  {n}" for n in names)
        if not names:
            out.append("  (none)")
    await app.push_screen_wait(TextScreen(f"{usage.title}: what uses it", "\n".join(out)))


# --- delete -----------------------------------------------------------------------------


async def delete(app: App[Any], data: UiData, line: Line) -> bool:
    if line.thread_id is not None:
        title = str(line.values.get("title") or f"thread {line.thread_id}")
        return await thread_dialogs.delete(app, data, line.thread_id, title)
    doc = line.doc
    if doc is None:
        say(
            app,
            f"{line.key}: a provider session is not deleted here; stopping the provider "
            "marks its rows inactive, and the GC removes them",
            severity="warning",
        )
        return False
    try:
        detail = await data.preview_delete(doc.KIND, doc)
    except StoreError as exc:  # RESTRICT, a live provider's row, read-only: said, not asked
        say(app, str(exc), severity="error")
        return False
    message = Content.assemble(
        "Delete ",
        literal(label(doc), "bold"),
        "?",
        (f"\nAlso goes: {detail}." if detail else "\nNothing else goes with it."),
        " This cannot be undone.",
    )
    if not await app.push_screen_wait(ConfirmScreen(Content(f"Delete {doc.KIND.value}"), message)):
        return False
    try:
        done = await data.delete(doc.KIND, doc)
    except StoreError as exc:
        say(app, str(exc), severity="error")
        return False
    say(app, str(done))
    return True


# --- edit -------------------------------------------------------------------------------


def editor_command() -> list[str]:
    """``$VISUAL``, else ``$EDITOR`` (split as a shell would: ``code --wait``), else vi."""
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def _run(argv: list[str]) -> int:
    return subprocess.call(argv)


async def run_editor(app: App[Any], path: Path) -> int:
    """The editor on ``path``, with the terminal handed over to it; its exit code.
    Where the app cannot suspend (headless, tests) it runs without the terminal."""
    argv = [*editor_command(), str(path)]
    try:
        with app.suspend():
            return _run(argv)  # the app is suspended: nothing else runs meanwhile
    except SuspendNotSupported:
        return await asyncio.to_thread(_run, argv)
    except OSError as exc:
        say(app, f"cannot run the editor {argv[0]}: {exc.strerror}", severity="error")
        return -1


def _new_file(text: str, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    fd, path = tempfile.mkstemp(prefix=f"mcpctl-{safe}-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


async def edit(app: App[Any], data: UiData, line: Line) -> bool:
    doc = line.doc
    if doc is None:
        kind = "a thread" if line.thread_id is not None else "a provider session"
        say(app, f"{line.key}: {kind} has no manifest to edit", severity="warning")
        return False
    if line.owner is not None:
        say(
            app,
            f"{label(doc)} is virtual: provider session {line.owner} publishes it; "
            "change it where that provider runs",
            severity="warning",
        )
        return False
    try:
        before = await data.manifest_to_edit(doc)
    except StoreError as exc:
        say(app, str(exc), severity="error")
        return False
    path = await asyncio.to_thread(_new_file, before, label(doc))
    while True:
        code = await run_editor(app, path)
        if code != 0:
            say(
                app,
                f"the editor exited with {code}: not applied; kept in {path}",
                severity="warning",
            )
            return False
        text = await asyncio.to_thread(_read, path)
        if text == before:
            say(app, f"{label(doc)}: no changes")
            await asyncio.to_thread(path.unlink, True)
            return False
        try:
            applied = await data.apply_text(text, source=path.name)
        except StoreError as exc:
            message = Content.assemble(
                literal(str(exc)), "\n\nYour edit is kept in ", literal(str(path), "bold"), "."
            )
            again = ConfirmScreen(Content("Not applied: edit again?"), message, yes="Edit again")
            if await app.push_screen_wait(again):
                continue
            say(app, f"not applied; your edit is kept in {path}", severity="warning")
            return False
        await asyncio.to_thread(path.unlink, True)
        say(app, "\n".join(str(a) for a in applied))
        return True
