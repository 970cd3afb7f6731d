"""``prepare_context``: everything one inference needs, read from the store in two queries.

Rules (docs/architecture.md, "Chat"):

System block, in order, each non-empty part once, parts separated by a blank line:
  1. agent.system_prompt, or the per-call replacement (``ChatOverrides.system``);
  2. agent-direct prompts NOT bound to any of the agent's personalities;
  3. the project's prompts (always, bound or not: a bound one keeps this place);
  4. the prompts bound to the personality in effect, ordered by the binding's priority
     override else the prompt's priority, higher first, ties by name. Prompts already
     placed in 2-3 are not repeated. Agent-direct prompts bound to a personality belong to
     it: they appear here while it is in effect and nowhere otherwise. Global prompts
     (no project, no agent) reach an agent ONLY through a personality binding: there is no
     "inject every global prompt everywhere" rule, which would leak one team's prompts
     into every agent in a shared store;
  5. the per-call append (``ChatOverrides.system_append``).
Parts 2 and 3 are ordered like 4 (priority, higher first; ties by name).

Personality: the per-call name (unknown -> ``UnknownPersonality`` listing the agent's
personalities; ``NO_PERSONALITY`` -> explicitly none, even over a default), else the
agent's default personality, else none.

Params: adapter defaults <- agent.default_params <- per-call overrides, shallow, per key.
Unknown keys pass through (adapters send them as provider extras).

History: every turn in order, tool turns and assistant tool_calls included, except what a
provider would reject or what would change the conversation:
  - assistant turns that ended ``error`` or ``cancelled`` keep their partial text (so a
    resumed thread continues from exactly what the operator saw) but drop their
    tool_calls, which may be cut mid-JSON and have no tool results;
  - assistant turns with neither text nor tool_calls (a failed request, a ``pending``
    placeholder of a reply still streaming or of a crashed process) are skipped;
  - tool turns whose tool_call_id no kept assistant turn asked for are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.chat.errors import InvalidParam, UnknownPersonality
from mcpctl_tui.llm.registry import UnknownLlmType, get_adapter
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.secrets import find_secret_key
from mcpctl_tui.store.catalog import personality_names
from mcpctl_tui.store.chat_context import BoundPrompt, ChatRows, HistoryTurn, load_chat_rows
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import Prompt
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageRole, MessageStatus, Prices
from mcpctl_tui.virtual.task_rows import LlmLiveness

# Pass as ``personality`` to ask for none at all, even when the agent has a default
# (``None`` means: the agent's default).
NO_PERSONALITY = ""


def check_params(params: Mapping[str, Any]) -> None:
    """Refuse per-call params no provider request or JSON column can carry honestly.

    A literal secret (``api_key``, ``token`` …) would be sent, and ``/save`` would write it
    into agent.default_params, where an export then fails to re-apply; NaN and infinities
    are not JSON (httpx and PostgreSQL refuse them deep inside a turn). The message names
    the key, never the value.
    """
    secret = find_secret_key(dict(params))
    if secret is not None:
        raise InvalidParam(
            f"parameter {secret!r} would hold a literal secret, which is refused; give the "
            "LLM an apiKeyRef (env:NAME or keyring:SERVICE/USER) instead"
        )
    for key, value in params.items():
        if not _finite(value):
            raise InvalidParam(f"parameter {key!r} must hold finite numbers (no NaN or infinity)")


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


@dataclass(frozen=True, slots=True)
class ChatOverrides:
    """Per-call changes: a system replacement, a system append, parameter overrides, and
    another LLM (by name) than the agent's, to try a question on it before re-pinning."""

    system: str | None = None
    system_append: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    llm: str | None = None

    def with_params(self, **params: Any) -> ChatOverrides:
        return replace(self, params={**self.params, **params})


@dataclass(frozen=True, slots=True)
class LlmTarget:
    """The agent's LLM row, as much of it as dispatch needs (the key stays a reference)."""

    id: int
    name: str
    type: str
    url: str
    model: str
    api_key_ref: str | None
    kind: LlmKind
    status: LlmStatus
    provider_session_id: str | None = None
    last_heartbeat_at: datetime | None = None
    heartbeat_interval: float | None = None
    prices: Prices | None = None  # what its replies cost (None: not priced)

    def liveness(self) -> LlmLiveness:
        """What the virtual dispatcher judges a publisher by (``refusal``)."""
        return LlmLiveness(
            self.id,
            self.name,
            self.kind,
            self.status,
            self.provider_session_id,
            self.last_heartbeat_at,
            self.heartbeat_interval,
        )


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: int
    name: str
    project_id: int | None
    default_params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChatContext:
    agent: AgentInfo
    llm: LlmTarget
    thread_id: int | None
    thread_title: str | None
    system: str
    personality: str | None
    params: dict[str, Any]
    history: list[Message]
    # Names of the prompts in the system block, in order (the UI shows what is injected).
    prompt_names: tuple[str, ...] = ()
    # Where the next turn goes (after the thread's last stored turn; 0 for a new thread)
    # and the turn it follows (the end of the current path; None: a first turn).
    next_turn_index: int = 0
    path_end: int | None = None

    @property
    def llm_kind(self) -> LlmKind:
        return self.llm.kind

    def with_message(self, message: Message) -> ChatContext:
        return replace(self, history=[*self.history, message])

    def request(self, tools: list[dict[str, Any]] | None = None) -> InferenceRequest:
        return InferenceRequest(
            system=self.system, messages=list(self.history), params=dict(self.params), tools=tools
        )


def adapter_default_params(llm_type: str) -> dict[str, Any]:
    """The adapter's defaults; an unknown type has none (dispatch reports it, not this)."""
    try:
        adapter = get_adapter(llm_type)
    except UnknownLlmType:  # stream_inference turns it into a CONFIG error on the turn
        return {}
    return dict(adapter.default_params)


async def prepare_context(
    store_or_session: Store | AsyncSession,
    agent: int | str,
    thread: int | None = None,
    personality: str | None = None,
    overrides: ChatOverrides | None = None,
) -> ChatContext:
    """Build the context of one inference for ``agent`` (id or name) in ``thread`` (id).

    Two queries (one without a thread). Given a session, it reads in the caller's
    transaction (``ChatService.send`` reads and writes the user turn in one).
    Raises ``NotFound`` (agent, or a thread not of this agent), ``UnknownPersonality`` and
    ``InvalidParam`` (``check_params``), before anything is read.
    """
    if overrides is not None:
        check_params(overrides.params)
    if isinstance(store_or_session, Store):
        async with store_or_session.session() as s:
            return await _prepare(s, agent, thread, personality, overrides)
    return await _prepare(store_or_session, agent, thread, personality, overrides)


async def _prepare(
    s: AsyncSession,
    agent: int | str,
    thread: int | None,
    personality: str | None,
    overrides: ChatOverrides | None,
) -> ChatContext:
    rows = await load_chat_rows(s, agent, thread, personality, overrides.llm if overrides else None)
    if rows.personality_missing:
        assert personality is not None
        names = await personality_names(s, rows.agent.id)
        raise UnknownPersonality(rows.agent.name, personality, names)
    return build_context(rows, overrides or ChatOverrides())


def build_context(rows: ChatRows, overrides: ChatOverrides) -> ChatContext:
    """The pure half of ``prepare_context``: rows in, context out (no I/O)."""
    a, llm, chosen = rows.agent, rows.llm, rows.personality
    system, names = system_block(
        rows.prompts,
        agent_id=a.id,
        project_id=a.project_id,
        personality_id=chosen.id if chosen else None,
        base=overrides.system if overrides.system is not None else a.system_prompt,
        append=overrides.system_append,
    )
    params = adapter_default_params(llm.type)
    params.update(a.default_params or {})
    params.update(overrides.params)
    return ChatContext(
        agent=AgentInfo(a.id, a.name, a.project_id, dict(a.default_params or {})),
        llm=LlmTarget(
            id=llm.id,
            name=llm.name,
            type=llm.type,
            url=llm.url,
            model=llm.model,
            api_key_ref=llm.api_key_ref,
            kind=LlmKind(llm.kind),
            status=LlmStatus(llm.status),
            provider_session_id=llm.provider_session_id,
            last_heartbeat_at=llm.last_heartbeat_at,
            heartbeat_interval=llm.heartbeat_interval,
            prices=llm.prices,
        ),
        thread_id=rows.thread.id if rows.thread else None,
        thread_title=rows.thread.title if rows.thread else None,
        system=system,
        personality=chosen.name if chosen else None,
        params=params,
        history=history_messages(rows.messages),
        prompt_names=names,
        next_turn_index=rows.next_turn_index,
        path_end=rows.path_end,
    )


def _order(prompt: Prompt, priority: int | None = None) -> tuple[int, str, int]:
    return (-(prompt.priority if priority is None else priority), prompt.name, prompt.id)


def system_block(
    candidates: Sequence[BoundPrompt],
    *,
    agent_id: int,
    project_id: int | None,
    personality_id: int | None,
    base: str,
    append: str | None,
) -> tuple[str, tuple[str, ...]]:
    """The system text and the names of the prompts in it (see the module docstring)."""
    prompts: dict[int, Prompt] = {}
    bound_anywhere: set[int] = set()
    chosen_bindings: dict[int, int | None] = {}
    for c in candidates:
        prompts[c.prompt.id] = c.prompt
        if c.personality_id is not None:
            bound_anywhere.add(c.prompt.id)
            if c.personality_id == personality_id:
                chosen_bindings[c.prompt.id] = c.binding_priority

    direct = sorted(
        (p for p in prompts.values() if p.agent_id == agent_id and p.id not in bound_anywhere),
        key=_order,
    )
    project = sorted(
        (
            p
            for p in prompts.values()
            if project_id is not None and p.agent_id is None and p.project_id == project_id
        ),
        key=_order,
    )
    placed = {p.id for p in direct} | {p.id for p in project}
    personal = sorted(
        (prompts[pid] for pid in chosen_bindings if pid not in placed),
        key=lambda p: _order(p, chosen_bindings[p.id]),
    )

    parts: list[str] = []
    names: list[str] = []
    if base.strip():
        parts.append(base.strip())
    for p in (*direct, *project, *personal):
        if p.content.strip():
            parts.append(p.content.strip())
            names.append(p.name)
    if append and append.strip():
        parts.append(append.strip())
    return "\n\n".join(parts), tuple(names)


def history_messages(rows: Sequence[HistoryTurn]) -> list[Message]:
    """Thread turns as request messages (see the module docstring for what is dropped)."""
    out: list[Message] = []
    asked: set[str] = set()
    for m in rows:
        if m.role == MessageRole.ASSISTANT:
            complete = m.status == MessageStatus.COMPLETE
            calls = m.tool_calls if complete and m.tool_calls else None
            if not m.content and not calls:
                continue
            if calls:
                asked.update(str(c.get("id")) for c in calls if c.get("id"))
            out.append(Message(role=m.role, content=m.content, tool_calls=calls))
        elif m.role == MessageRole.TOOL:
            if m.tool_call_id is None or m.tool_call_id not in asked:
                continue
            out.append(Message(role=m.role, content=m.content, tool_call_id=m.tool_call_id))
        else:
            out.append(Message(role=m.role, content=m.content))
    return out
