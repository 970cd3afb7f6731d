"""The command palette of the main screen: every action, a jump to any agent or thread,
the editor of any object.

What it searches is read once when the palette opens (``startup``): the agents as the
screen lists them, the editable objects and the newest threads. Typing matches in memory,
with no query per keystroke.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from mcpctl_tui.store.manifest.documents import label
from mcpctl_tui.ui.data import PaletteIndex, StoreError
from mcpctl_tui.ui.text import clean, say

if TYPE_CHECKING:
    from mcpctl_tui.ui.screens.main import MainScreen

# (title, action, help). Actions are the main screen's, but for the chat view's own copies.
ACTIONS: list[tuple[str, str, str]] = [
    ("New thread", "new_thread", "Start a new thread with the selected agent (Ctrl+N)"),
    ("Regenerate last reply", "regenerate", "Answer the last message again (Ctrl+R)"),
    ("Cancel reply", "cancel_reply", "Stop the streaming reply, keep what came (Esc)"),
    ("Rename thread", "rename_thread", "Give the open thread a new title (F2)"),
    ("Delete thread", "delete_thread", "Delete the open thread and its turns"),
    ("Export thread", "export_thread", "Write the open thread as Markdown or JSON"),
    ("Previous message", "select_turn(-1)", "Choose the message above, to copy it (Alt+Up)"),
    ("Next message", "select_turn(1)", "Choose the message below, to copy it (Alt+Down)"),
    ("Copy message", "copy_message", "Copy the chosen message, else the last reply"),
    ("Copy code block", "copy_code", "Copy a code block of the chosen message or reply"),
    ("New LLM", "edit('llm', None)", "Add a model endpoint (type, url, model, key reference)"),
    ("Edit LLM", "edit('llm', 'current')", "Edit the LLM of the selected agent"),
    ("New project", "edit('project', None)", "Add a project"),
    ("New agent", "edit('agent', None)", "Add an agent pinned to an LLM"),
    ("Edit agent", "edit('agent', 'current')", "Edit the selected agent"),
    ("New prompt", "edit('prompt', None)", "Add a prompt (agent-direct, project or global)"),
    ("New personality", "edit('personality', None)", "Add a personality to the selected agent"),
    ("Edit personality", "edit('personality', 'current')", "Edit the selected personality"),
    ("Delete agent", "delete_agent", "Delete the selected agent (its threads go with it)"),
    ("Inspect context", "inspect_context", "What the next message would send, sent nowhere (F3)"),
    ("Search stored turns", "search", "Find what was said, in any thread (F4, :search)"),
    ("Help", "help", "Keys and slash commands (F1)"),
    ("Quit", "app.quit", "Leave mcpctl-tui (Ctrl+Q)"),
]
CHAT_ACTIONS = frozenset({"copy_message", "copy_code"})


class MainCommands(Provider):
    index = PaletteIndex([], [])

    @property
    def main(self) -> MainScreen:
        return self.screen  # type: ignore[return-value]

    async def startup(self) -> None:
        try:
            self.index = await self.main.data.palette_index()
        except StoreError as exc:  # the actions still work; say why the rest is missing
            say(self.app, str(exc), severity="error")

    def _run(self, action: str) -> Callable[[], Any]:
        screen = self.main
        if action in CHAT_ACTIONS:
            return partial(screen.panel.chat.run_action, action)
        return partial(screen.run_action, action)

    async def discover(self) -> Hits:
        for title, action, help_text in ACTIONS:
            yield DiscoveryHit(title, self._run(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        screen = self.main
        for title, action, help_text in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), self._run(action), help=help_text)
        for agent in screen.agents.all_rows:
            text = f"agent: {clean(agent.name)}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(screen.jump_to_agent, agent.id),
                    text=text,
                    help=escape(f"{agent.llm_name} · {agent.kind.value}/{agent.status.value}"),
                )
        for kind, doc in self.index.editable:
            text = f"edit {clean(label(doc))}"
            score = matcher.match(text)
            if score > 0:
                # The exact scope: a project or global prompt is not the selected agent's.
                yield Hit(
                    score * 0.8,
                    matcher.highlight(text),
                    partial(
                        screen.edit,
                        kind,
                        doc.name,
                        agent=getattr(doc, "agent", None),
                        project=getattr(doc, "project", None),
                    ),
                    text=text,
                )
        for t in self.index.threads:
            text = f"thread: {clean(t.title or f'thread {t.id}')}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score * 0.9,
                    matcher.highlight(text),
                    partial(screen.jump_to_thread, t.agent_id, t.id),
                    text=text,
                    help=escape(f"agent {clean(t.agent_name)} · #{t.id}"),
                )
