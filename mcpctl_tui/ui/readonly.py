"""Read-only mode: one switch, checked at the two doors every write goes through.

``--readonly`` (or ``readonly: true`` in the config file) turns off every write the UI
can make. The UI writes through two doors only, so the switch is checked there and
nowhere else:

- ``UiData``: each method that writes the store is marked ``@writes("what")``; called
  in read-only mode it raises ``ReadOnly`` before opening a transaction (editors'
  saves and deletes, thread rename and delete, the resource views' edit and delete);
- the chat engine: ``ReadOnlyBackend`` wraps it, and sending, regenerating and the
  slash commands that store (``/save``, ``/title``) raise ``ReadOnly`` before the
  engine is called, so no turn is stored.

``ReadOnly`` is a ``StoreError``: every place that already says a refused write says
this one too, as a one-line notice ("read-only mode: sending is off").
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from mcpctl_tui.chat.context import ChatOverrides
from mcpctl_tui.chat.events import ChatEvent
from mcpctl_tui.store.errors import StoreError
from mcpctl_tui.ui.backend import ChatBackend

READ_ONLY_LABEL = "READ-ONLY"
READ_ONLY_BANNER = f"{READ_ONLY_LABEL}: sending, editing, deleting and applying are off"

P = ParamSpec("P")
T = TypeVar("T")


class ReadOnly(StoreError):
    """A write refused because the app runs read-only."""

    def __init__(self, what: str) -> None:
        super().__init__(f"read-only mode: {what} is off")
        self.what = what


class Switched(Protocol):
    readonly: bool


S = TypeVar("S", bound=Switched)


def writes(
    what: str,
) -> Callable[
    [Callable[Concatenate[S, P], Awaitable[T]]], Callable[Concatenate[S, P], Awaitable[T]]
]:
    """Mark an async method of an object with a ``readonly`` switch as a write."""

    def mark(
        method: Callable[Concatenate[S, P], Awaitable[T]],
    ) -> Callable[Concatenate[S, P], Awaitable[T]]:
        @functools.wraps(method)
        async def guarded(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
            if self.readonly:
                raise ReadOnly(what)
            return await method(self, *args, **kwargs)

        return guarded

    return mark


async def _refused(what: str) -> AsyncIterator[ChatEvent]:
    raise ReadOnly(what)
    yield  # pragma: no cover - makes this an async generator


class ReadOnlyBackend:
    """The chat engine with its writes turned off (reads pass through)."""

    def __init__(self, inner: ChatBackend) -> None:
        self.inner = inner

    def send(
        self,
        agent: int | str,
        text: str,
        *,
        thread_id: int | None = None,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
        edit_turn: int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        return _refused("sending")

    def regenerate(
        self,
        thread_id: int,
        *,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
        at_turn: int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        return _refused("regenerating")

    async def save_overrides(self, agent: int | str, overrides: ChatOverrides) -> dict[str, Any]:
        raise ReadOnly("saving parameters")

    async def rename_thread(self, thread_id: int, title: str) -> None:
        raise ReadOnly("renaming")

    def __getattr__(self, name: str) -> Any:
        # Whatever else the engine offers (reads, aclose) is the engine's own.
        return getattr(self.inner, name)
