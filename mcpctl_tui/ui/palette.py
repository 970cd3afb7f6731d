"""Command palette: every action, and a fuzzy jump to any agent or thread."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from mcpctl_tui.store.manifest.documents import Kind, label
from mcpctl_tui.store.manifest.export import get_objects
from mcpctl_tui.store.threads import search_threads
from mcpctl_tui.ui.text import clean

if TYPE_CHECKING:
    from mcpctl_tui.ui.app import McpctlApp

# (title, action, help). Actions are app actions (``action_<name>``).
ACTIONS: list[tuple[str, str, str]] = [
    ("New thread", "new_thread", "Start a new thread with the selected agent (Ctrl+N)"),
    ("Regenerate last reply", "regenerate", "Answer the last message again (Ctrl+R)"),
    ("Cancel reply", "cancel_reply", "Stop the streaming reply, keep what came (Esc)"),
    ("Rename thread", "rename_thread", "Give the open thread a new title (F2)"),
    ("Delete thread", "delete_thread", "Delete the open thread and its turns (Ctrl+D)"),
    ("Export thread", "export_thread", "Write the open thread as Markdown or JSON (Ctrl+E)"),
    ("Previous message", "select_turn(-1)", "Choose the message above, to copy it (Alt+Up)"),
    ("Next message", "select_turn(1)", "Choose the message below, to copy it (Alt+Down)"),
    ("Copy message", "copy_reply", "Copy the chosen message, else the last reply (Ctrl+Y)"),
    ("Copy code block", "copy_code", "Copy a code block of the chosen message or reply (Ctrl+K)"),
    ("New LLM", "edit('llm', None)", "Add a model endpoint (type, url, model, key reference)"),
    ("Edit LLM", "edit('llm', 'current')", "Edit the LLM of the selected agent"),
    ("New project", "edit('project', None)", "Add a project"),
    ("New agent", "edit('agent', None)", "Add an agent pinned to an LLM"),
    ("Edit agent", "edit('agent', 'current')", "Edit the selected agent"),
    ("New prompt", "edit('prompt', None)", "Add a prompt (agent-direct, project or global)"),
    ("New personality", "edit('personality', None)", "Add a personality to the selected agent"),
    ("Edit personality", "edit('personality', 'current')", "Edit the selected personality"),
    ("Delete agent", "delete_agent", "Delete the selected agent (its threads go with it)"),
    ("Help", "help", "Keys and slash commands (F1)"),
    ("Quit", "quit", "Leave mcpctl-tui (Ctrl+Q)"),
]


class McpctlCommands(Provider):
    @property
    def _app(self) -> McpctlApp:
        return self.app  # type: ignore[return-value]

    def _run(self, action: str) -> Callable[[], Any]:
        return partial(self._app.run_action, action)

    async def discover(self) -> Hits:
        for title, action, help_text in ACTIONS:
            yield DiscoveryHit(title, self._run(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), self._run(action), help=help_text)
        app = self._app
        for agent in app.agents.rows:
            text = f"agent: {clean(agent.name)}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(app.jump_to_agent, agent.id),
                    text=text,
                    help=escape(f"{agent.llm_name} · {agent.kind.value}/{agent.status.value}"),
                )
        async with app.store.session() as s:
            editable = [
                (kind, e.doc)
                for kind in (Kind.LLM, Kind.PROJECT, Kind.PROMPT, Kind.PERSONALITY)
                for e in await get_objects(s, kind)
            ]
        for kind, doc in editable:
            text = f"edit {clean(label(doc))}"
            score = matcher.match(text)
            if score > 0:
                # The exact scope: a project or global prompt is not the selected agent's.
                yield Hit(
                    score * 0.8,
                    matcher.highlight(text),
                    partial(
                        app.open_editor,
                        kind,
                        doc.name,
                        agent=getattr(doc, "agent", None),
                        project=getattr(doc, "project", None),
                    ),
                    text=text,
                )
        words = query.strip().removeprefix("thread:").strip()
        async with app.store.session() as s:
            hits = await search_threads(s, words, limit=30)
            if not hits:  # a fuzzy query is no substring: let the matcher rank the newest
                hits = await search_threads(s, "", limit=100)
        for t in hits:
            text = f"thread: {clean(t.title or f'thread {t.id}')}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score * 0.9,
                    matcher.highlight(text),
                    partial(app.jump_to_thread, t.agent_id, t.id),
                    text=text,
                    help=escape(f"agent {clean(t.agent_name)} · #{t.id}"),
                )
