"""The chat being edited, as one value: whom it talks to, in which thread, and how.

``ChatPanel.state`` holds it as a reactive: the status line, the title and the panes
watch it; whoever changes the chat assigns a new value (``dataclasses.replace``), never
mutates it, so every change is seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mcpctl_tui.chat.commands import SessionSettings, personality_label
from mcpctl_tui.store.types import Prices
from mcpctl_tui.ui.data import AgentRow


@dataclass(frozen=True, slots=True)
class ChatState:
    agent: AgentRow | None = None
    thread_id: int | None = None  # None: a new thread, stored with its first message
    title: str = ""
    settings: SessionSettings = field(default_factory=SessionSettings)
    default_personality: str | None = None  # the agent's default personality, by name
    personalities: tuple[str, ...] = ()  # the agent's personalities, by name
    deleted: bool = False  # the open thread was deleted (by another process): no sends

    @property
    def personality_label(self) -> str:
        return personality_label(self.settings.personality, self.default_personality)

    def in_thread(self, thread_id: int | None, title: str = "") -> ChatState:
        return replace(self, thread_id=thread_id, title=title, deleted=False)


@dataclass(frozen=True, slots=True)
class ReplyStats:
    """The last reply's figures, as the status line shows them."""

    output_tokens: int | None = None
    input_tokens: int | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    state: str = ""  # streaming / cancelled / error / done
    # Until the first token: what the reply waits for ("claim by a provider") and since
    # when (``time.monotonic()`` at the send); the status line ticks the elapsed time.
    waiting: str = ""
    since: float | None = None
    # Once the reply is stored (``ended``) its usage is final: its cost is shown, priced
    # at its LLM's ``prices``, or "tokens unknown" when the provider gave no usage.
    prices: Prices | None = None
    ended: bool = False


@dataclass(slots=True)
class StartAt:
    """Where the app opens (``--agent``, ``--personality``, ``--thread``)."""

    agent: str | None = None
    personality: str | None = None
    thread_id: int | None = None
