"""The open thread's dialogs: rename, delete (confirmed), export (to a file).

Each is awaited inside a worker of the main screen (``push_screen_wait``), reads and
writes through ``UiData``, and says what went wrong; what the screen must change after
(the title shown, the thread list) it does with what these return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.content import Content

from mcpctl_tui.ui.data import StoreError, UiData, file_exists
from mcpctl_tui.ui.screens.dialogs import AskScreen, ConfirmScreen
from mcpctl_tui.ui.text import literal, say


async def rename(app: App[Any], data: UiData, thread_id: int, title: str) -> str | None:
    """Ask for a new title and store it; the title, or None when nothing changed."""
    asked: str | None = await app.push_screen_wait(AskScreen(Content("Rename thread"), title))
    if asked is None:
        return None
    if not asked.strip():  # an empty title shows as "new thread" on an old thread
        app.notify("a thread title cannot be empty: not renamed", severity="warning")
        return None
    try:
        await data.rename_thread(thread_id, asked.strip())
    except StoreError as exc:
        say(app, str(exc), severity="error")
        return None
    return asked.strip()


async def delete(app: App[Any], data: UiData, thread_id: int, title: str) -> bool:
    """Confirm (saying how many turns go) and delete; True once deleted."""
    try:
        n = await data.thread_size(thread_id)
    except StoreError as exc:
        say(app, str(exc), severity="error")
        return False
    message = Content.assemble(
        "Delete the thread ",
        literal(title, "bold"),
        f" and its {n} turn{'s' if n != 1 else ''}? This cannot be undone.",
    )
    if not await app.push_screen_wait(ConfirmScreen(Content("Delete thread"), message)):
        return False
    try:
        await data.delete_thread(thread_id)
    except StoreError as exc:
        say(app, str(exc), severity="error")
        return False
    say(app, f"deleted thread {title} ({n} turns)")
    return True


async def export(app: App[Any], data: UiData, thread_id: int) -> None:
    """Ask where to export (.md or .json). A path that cannot be written (no such
    directory …) is asked again, as typed, so the operator fixes it instead of typing it
    over; an existing file is replaced only when confirmed."""
    value = f"thread-{thread_id}.md"
    while True:
        ask = AskScreen(Content("Export thread to (.md or .json)"), value, "thread.md")
        path = await app.push_screen_wait(ask)
        if not path or not path.strip():
            return
        target = Path(path.strip())
        if await file_exists(target):
            message = Content.assemble(literal(str(target), "bold"), " exists. Replace it?")
            confirm = ConfirmScreen(Content("Export thread"), message, yes="Replace")
            if not await app.push_screen_wait(confirm):
                return
        try:
            n = await data.export_thread(thread_id, target)
        except StoreError as exc:  # the thread is gone: another path would not help
            say(app, str(exc), severity="error")
            return
        except OSError as exc:
            say(app, f"export failed: {exc}", severity="error")
            value = str(target)
            continue
        say(app, f"exported {n} turns to {target}")
        return
