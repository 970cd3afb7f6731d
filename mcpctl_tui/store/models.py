"""The data model (docs/architecture.md, "Data model") in SQLAlchemy 2 typed ORM.

Relationships are deliberately absent: every rule (RESTRICT, CASCADE, SET NULL) lives in
the database so it holds for every writer, and the store's queries join explicitly,
which keeps async code free of lazy loads.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mcpctl_tui.store.types import (
    JsonType,
    LlmKind,
    LlmStatus,
    MessageStatus,
    Prices,
    UtcDateTime,
    utcnow,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _str_enum(cls: type[LlmKind] | type[LlmStatus] | type[MessageStatus], name: str) -> Enum:
    # Stored as VARCHAR + CHECK, not a native PG enum: values can be added without a type migration.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonType}


class _Lifecycle:
    """The five lifecycle columns shared by llm and agent."""

    kind: Mapped[LlmKind] = mapped_column(
        _str_enum(LlmKind, "llm_kind"), default=LlmKind.PUBLIC, server_default="public"
    )
    provider_session_id: Mapped[str | None] = mapped_column(String(64))
    last_heartbeat_at: Mapped[datetime | None]
    # Seconds between the publisher's heartbeats, published with its rows: it is gone
    # after three missed beats (store/liveness.py). None: judged by the timeout alone.
    heartbeat_interval: Mapped[float | None] = mapped_column(Float)
    status: Mapped[LlmStatus] = mapped_column(
        _str_enum(LlmStatus, "llm_status"), default=LlmStatus.ACTIVE, server_default="active"
    )
    inactive_since: Mapped[datetime | None]


class Llm(_Lifecycle, Base):
    __tablename__ = "llm"
    __table_args__ = (
        Index("ix_llm_kind_status", "kind", "status"),
        Index("ix_llm_provider_session_id", "provider_session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200), default="", server_default="")
    url: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    api_key_ref: Mapped[str | None] = mapped_column(String(300))
    tier: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Per million tokens, in price_currency (NULL: not priced; see store/usage.py).
    price_input: Mapped[float | None] = mapped_column(Float)
    price_output: Mapped[float | None] = mapped_column(Float)
    price_currency: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def prices(self) -> Prices | None:
        """What its replies cost; None when it is not priced."""
        if self.price_input is None or self.price_output is None:
            return None
        return Prices(self.price_input, self.price_output, self.price_currency or "USD")


class Project(Base):
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class McpServer(Base):
    """An MCP server of a project: its agents may use its tools (``extras.tools``).

    ``stdio``: ``command`` (argv) run in ``cwd``; ``http``: streamable HTTP at ``url``.
    ``env`` and ``headers`` map names to key references (``env:VAR``, ``keyring:…``),
    never to the values themselves: they are resolved only when the server is started.
    """

    __tablename__ = "mcp_server"
    __table_args__ = (
        UniqueConstraint("project_id", "name", name="uq_mcp_server_project_id_name"),
        CheckConstraint("transport IN ('stdio', 'http')", name="transport"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    transport: Mapped[str] = mapped_column(String(8))
    command: Mapped[list[str]] = mapped_column(JsonType, default=list)
    env: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cwd: Mapped[str | None] = mapped_column(String(1000))
    url: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Agent(_Lifecycle, Base):
    __tablename__ = "agent"
    __table_args__ = (
        Index("ix_agent_kind_status", "kind", "status"),
        Index("ix_agent_provider_session_id", "provider_session_id"),
        Index("ix_agent_llm_id", "llm_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    system_prompt: Mapped[str] = mapped_column(Text, default="", server_default="")
    llm_id: Mapped[int] = mapped_column(ForeignKey("llm.id", ondelete="RESTRICT"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="SET NULL"))
    default_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extras: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # use_alter: agent <-> personality is a cycle; the FK is added after both tables exist.
    default_personality_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "personality.id",
            ondelete="SET NULL",
            use_alter=True,
            name="fk_agent_default_personality_id_personality",
        )
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Prompt(Base):
    """A prompt is global (no project, no agent), project-scoped, or agent-direct."""

    __tablename__ = "prompt"
    __table_args__ = (
        UniqueConstraint("name", "agent_id", name="uq_prompt_name_agent_id"),
        CheckConstraint("project_id IS NULL OR agent_id IS NULL", name="one_scope"),
        # NULL agent_id never collides in a unique constraint, so the other two scopes
        # get partial unique indexes of their own.
        Index(
            "uq_prompt_name_project",
            "name",
            "project_id",
            unique=True,
            sqlite_where=text("agent_id IS NULL AND project_id IS NOT NULL"),
            postgresql_where=text("agent_id IS NULL AND project_id IS NOT NULL"),
        ),
        Index(
            "uq_prompt_name_global",
            "name",
            unique=True,
            sqlite_where=text("agent_id IS NULL AND project_id IS NULL"),
            postgresql_where=text("agent_id IS NULL AND project_id IS NULL"),
        ),
        Index("ix_prompt_agent_id", "agent_id"),
        Index("ix_prompt_project_id", "project_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text, default="", server_default="")
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Personality(Base):
    __tablename__ = "personality"
    __table_args__ = (UniqueConstraint("name", "agent_id", name="uq_personality_name_agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonalityPrompt(Base):
    __tablename__ = "personality_prompt"
    __table_args__ = (
        UniqueConstraint(
            "personality_id", "prompt_id", name="uq_personality_prompt_personality_id_prompt_id"
        ),
        Index("ix_personality_prompt_prompt_id", "prompt_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    personality_id: Mapped[int] = mapped_column(ForeignKey("personality.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompt.id", ondelete="CASCADE"))
    # Overrides the prompt's own priority while bound to this personality.
    priority: Mapped[int | None] = mapped_column(Integer)


class ChatThread(Base):
    __tablename__ = "chat_thread"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_turn_at: Mapped[datetime] = mapped_column(default=utcnow)


# The thread pane's index: an agent's threads newest first. Declared on the columns (not as
# text) so both backends reflect it as the same two columns and migrations compare clean.
Index("ix_chat_thread_agent_last_turn", ChatThread.agent_id, ChatThread.last_turn_at.desc())


class ChatMessage(Base):
    __tablename__ = "chat_message"
    __table_args__ = (
        UniqueConstraint("thread_id", "turn_index", name="uq_chat_message_thread_id_turn_index"),
        Index("ix_chat_message_thread_parent", "thread_id", "parent_index", "turn_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("chat_thread.id", ondelete="CASCADE"))
    # Unique in the thread, in the order turns were stored (migration 0010 says why).
    turn_index: Mapped[int] = mapped_column(Integer)
    # The turn_index of the turn this one follows (NULL: a first turn): the branch tree.
    parent_index: Mapped[int | None] = mapped_column(Integer)
    # On the thread's current path: what the chat shows and the next request sends.
    on_path: Mapped[bool] = mapped_column(default=True, server_default=true())
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="", server_default="")
    # OpenAI shape: [{"id", "type": "function", "function": {"name", "arguments"}}]
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)
    tool_call_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[MessageStatus] = mapped_column(
        _str_enum(MessageStatus, "message_status"),
        default=MessageStatus.COMPLETE,
        server_default="complete",
    )
    error: Mapped[str | None] = mapped_column(Text)
    thinking: Mapped[str | None] = mapped_column(Text)
    # {"input_tokens": int, "output_tokens": int}
    usage: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    # {"ttft_ms": float, "duration_ms": float}
    timing: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    personality: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    # The name of the LLM that answered (a reply; NULL: not known), for its cost.
    llm: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class _UsageSums:
    """The running sums of a usage table (see store/usage.py for what they count)."""

    llm: Mapped[str] = mapped_column(String(200), primary_key=True)  # '': not known
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # UTC, "2026-12-01"
    replies: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    unknown: Mapped[int] = mapped_column(BigInteger)


class ReplyUsage(_UsageSums, Base):
    """The replies' usage per thread, LLM and day: kept by triggers on chat_message
    (migration 0009), never written by the application. ``agent_id`` is the thread's."""

    __tablename__ = "reply_usage"

    thread_id: Mapped[int] = mapped_column(
        ForeignKey("chat_thread.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(Integer)


class AgentUsage(_UsageSums, Base):
    """The replies' usage per agent, LLM and day: kept by triggers on reply_usage."""

    __tablename__ = "agent_usage"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True
    )


# --- virtual LLM relay ------------------------------------------------------------------


class TaskStatus(StrEnum):
    """pending -> claimed -> running -> completed / error / cancelled."""

    PENDING = "pending"
    CLAIMED = "claimed"
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"


TASK_FINISHED = (TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.CANCELLED)
RELAY_JSON = JSON()


class InferenceTask(Base):
    """One inference request for a virtual LLM, relayed through the store to its provider."""

    __tablename__ = "inference_task"
    __table_args__ = (
        # The provider's claim: the oldest pending task (ORDER BY id), few rows per status.
        Index("ix_inference_task_status_id", "status", "id"),
        # The GC: pending too long (created_at), finished long ago (finished_at).
        Index("ix_inference_task_status_created_at", "status", "created_at"),
        Index("ix_inference_task_status_finished_at", "status", "finished_at"),
        # Disconnect: a session's claimed tasks go back to pending.
        Index("ix_inference_task_claimed_by", "claimed_by"),
        Index("ix_inference_task_llm_id", "llm_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    llm_id: Mapped[int] = mapped_column(ForeignKey("llm.id", ondelete="CASCADE"))
    status: Mapped[TaskStatus] = mapped_column(
        Enum(
            TaskStatus,
            name="task_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        default=TaskStatus.PENDING,
        server_default="pending",
    )
    # provider_session_id of the session that claimed it.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # Plain JSON (text) on PostgreSQL, not JSONB: JSONB refuses "\u0000", and chat text
    # and model output may hold one; nothing queries inside these documents anyway.
    request: Mapped[dict[str, Any]] = mapped_column(RELAY_JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The caller's heartbeat while it reads the reply (None: not judged).
    caller_seen_at: Mapped[datetime | None]


class InferenceChunk(Base):
    """A batch of serialized stream events, in order (seq) within its task."""

    __tablename__ = "inference_chunk"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("inference_task.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # A list of encoded events (see mcpctl_tui.virtual.codec).
    payload: Mapped[list[Any]] = mapped_column(RELAY_JSON)


# One rule for every table with an integer id: an id is never handed out twice. SQLite
# otherwise reuses the ids of the newest rows once they are deleted (migration 0006);
# PostgreSQL's sequences never go back.
for _table in Base.metadata.tables.values():
    if "id" in _table.c and _table.c.id.primary_key:
        _table.dialect_kwargs["sqlite_autoincrement"] = True
