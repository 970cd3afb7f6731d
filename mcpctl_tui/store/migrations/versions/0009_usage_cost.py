"""Usage and cost: an LLM's prices, which LLM answered each reply, and a running sum.

- ``llm.price_input`` / ``llm.price_output``: per million tokens, in ``llm.price_currency``
  (NULL: not priced). A reply is priced at read time with its LLM's current prices, so
  prices set today also price last month's replies.
- ``chat_message.llm``: the name of the LLM that answered (as ``personality`` and
  ``model`` are names): a reply keeps its LLM when the agent is re-pinned, and a thread
  that tried several LLMs is costed per LLM. A name, not a key: an LLM deleted and
  applied again (a provider publishing its rows anew) still owns its replies.
- Running sums, kept by triggers (every writer, cascades included), so a usage column
  reads a few rows instead of every turn's JSON (an agents view over 1,000,000 turns took
  2.4 s summing the turns themselves):
  - ``reply_usage``: per thread, LLM ('' when not known) and UTC day, kept by triggers
    on ``chat_message``. What a reply is, and when its usage is known, is
    ``store/usage.py``'s rule, written here in each backend's SQL.
  - ``agent_usage``: per agent, LLM and day, kept by triggers on ``reply_usage`` (each
    change there passed on as its difference): the agents, LLMs and days of a store
    with 50,000 threads in a few hundred rows. ``reply_usage`` carries its thread's
    agent, so a thread deleted (its sums cascading away) still says whose they were.

Backfill: a stored reply gets its agent's current LLM when the reply's model is that
LLM's model (or was not recorded); any other reply keeps NULL, counted as "LLM unknown"
(never guessed, never priced). ``reply_usage`` is then summed from the stored turns.

Revision ID: 0009_usage_cost
Revises: 0008_turn_search
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_usage_cost"
down_revision = "0008_turn_search"
branch_labels = None
depends_on = None

_BACKFILL_LLM = """
UPDATE chat_message SET llm = (
    SELECT llm.name FROM chat_thread
    JOIN agent ON agent.id = chat_thread.agent_id
    JOIN llm ON llm.id = agent.llm_id
    WHERE chat_thread.id = chat_message.thread_id
      AND (chat_message.model IS NULL OR chat_message.model = llm.model)
)
WHERE role = 'assistant'
"""

SUMS = ("replies", "input_tokens", "output_tokens", "unknown")
_REPLY_KEY = ("thread_id", "llm", "day")
_AGENT_KEY = ("agent_id", "llm", "day")
# The columns a reply's count depends on (SQLite's update triggers fire on these).
_WATCHED = "role, status, content, usage, llm, created_at, thread_id"


class _Sql:
    """The rule in one backend's SQL, for the row ``r`` (``new``/``old``, or a table)."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg

    def tokens(self, r: str, key: str) -> str:
        return (
            f"({r}.usage->>'{key}')::bigint" if self.pg else f"json_extract({r}.usage, '$.{key}')"
        )

    def is_reply(self, r: str) -> str:
        return (
            f"{r}.role = 'assistant' AND {r}.status != 'pending'"
            f" AND ({r}.usage IS NOT NULL OR {r}.content != '')"
        )

    def reply(self, r: str) -> dict[str, str]:
        """``reply_usage``'s columns for one reply ``r`` of ``chat_message``."""
        inp, out = self.tokens(r, "input_tokens"), self.tokens(r, "output_tokens")
        known = f"{inp} IS NOT NULL AND {out} IS NOT NULL"
        day = (
            f"to_char({r}.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            if self.pg
            else f"substr({r}.created_at, 1, 10)"
        )
        return {
            "thread_id": f"{r}.thread_id",
            "llm": f"coalesce({r}.llm, '')",
            "day": day,
            "agent_id": f"(SELECT agent_id FROM chat_thread WHERE id = {r}.thread_id)",
            "replies": "1",
            "input_tokens": f"CASE WHEN {known} THEN {inp} ELSE 0 END",
            "output_tokens": f"CASE WHEN {known} THEN {out} ELSE 0 END",
            "unknown": f"CASE WHEN {known} THEN 0 ELSE 1 END",
        }


def _add(table: str, key: tuple[str, ...], v: dict[str, str]) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(v)}) VALUES ({', '.join(v.values())})"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in SUMS)
    )


def _subtract(table: str, key: tuple[str, ...], v: dict[str, str]) -> str:
    """Take ``v``'s sums off the row of its key; a row that counts nothing goes."""
    where = " AND ".join(f"{k} = {v[k]}" for k in key)
    return (
        f"UPDATE {table} SET "
        + ", ".join(f"{c} = {c} - {v[c]}" for c in SUMS)
        + f" WHERE {where}; DELETE FROM {table} WHERE {where} AND replies = 0"
    )


def _row(r: str, cols: tuple[str, ...]) -> dict[str, str]:
    return {c: f"{r}.{c}" for c in cols}


def _diff() -> dict[str, str]:
    """An update of ``reply_usage`` as what it adds to its agent's row."""
    return {**_row("new", _AGENT_KEY), **{c: f"new.{c} - old.{c}" for c in SUMS}}


def _sum_columns() -> list[sa.Column[Any]]:
    """The key's LLM and day, and the sums: the columns both tables share."""
    return [
        sa.Column("llm", sa.String(200), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        *(sa.Column(c, sa.BigInteger(), nullable=False) for c in SUMS),
    ]


def _sum_tables(pg: bool) -> None:
    thread_fk = sa.ForeignKey(
        "chat_thread.id", ondelete="CASCADE", name="fk_reply_usage_thread_id_chat_thread"
    )
    op.create_table(
        "reply_usage",
        sa.Column("thread_id", sa.Integer(), thread_fk, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        *_sum_columns(),
        sa.PrimaryKeyConstraint(*_REPLY_KEY, name="pk_reply_usage"),
    )
    agent_fk = sa.ForeignKey("agent.id", ondelete="CASCADE", name="fk_agent_usage_agent_id_agent")
    op.create_table(
        "agent_usage",
        sa.Column("agent_id", sa.Integer(), agent_fk, nullable=False),
        *_sum_columns(),
        sa.PrimaryKeyConstraint(*_AGENT_KEY, name="pk_agent_usage"),
    )
    sql = _Sql(pg)
    v = sql.reply("m")
    group = ", ".join(v[k] for k in (*_REPLY_KEY, "agent_id"))
    op.execute(
        f"INSERT INTO reply_usage ({', '.join(v)})"
        f" SELECT {group}, {', '.join(f'sum({v[c]})' for c in SUMS)}"
        f" FROM chat_message m WHERE {sql.is_reply('m')} GROUP BY {group}"
    )
    op.execute(
        f"INSERT INTO agent_usage ({', '.join((*_AGENT_KEY, *SUMS))})"
        f" SELECT {', '.join(_AGENT_KEY)}, {', '.join(f'sum({c})' for c in SUMS)}"
        f" FROM reply_usage GROUP BY {', '.join(_AGENT_KEY)}"
    )


def _pg_triggers() -> None:
    sql = _Sql(True)
    new_row = _row("NEW", (*_AGENT_KEY, *SUMS))
    old_row = _row("OLD", (*_AGENT_KEY, *SUMS))
    diff = {**_row("NEW", _AGENT_KEY), **{c: f"NEW.{c} - OLD.{c}" for c in SUMS}}
    for name, table, body in (
        (
            "reply_usage_track",
            "chat_message",
            f"""IF TG_OP IN ('UPDATE', 'DELETE') AND {sql.is_reply("OLD")} THEN
                    {_subtract("reply_usage", _REPLY_KEY, sql.reply("OLD"))};
                END IF;
                IF TG_OP IN ('INSERT', 'UPDATE') AND {sql.is_reply("NEW")} THEN
                    {_add("reply_usage", _REPLY_KEY, sql.reply("NEW"))};
                END IF;""",
        ),
        (
            "agent_usage_track",
            "reply_usage",
            f"""IF TG_OP = 'INSERT' THEN {_add("agent_usage", _AGENT_KEY, new_row)};
                ELSIF TG_OP = 'UPDATE' THEN {_add("agent_usage", _AGENT_KEY, diff)};
                ELSE {_subtract("agent_usage", _AGENT_KEY, old_row)};
                END IF;""",
        ),
    ):
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {body} RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {name}()"
        )


def _sqlite_triggers() -> None:
    sql = _Sql(False)
    on_update = f"AFTER UPDATE OF {_WATCHED} ON chat_message"
    for name, when, body in (
        (
            "reply_usage_insert",
            f"AFTER INSERT ON chat_message WHEN {sql.is_reply('new')}",
            _add("reply_usage", _REPLY_KEY, sql.reply("new")),
        ),
        (
            "reply_usage_delete",
            f"AFTER DELETE ON chat_message WHEN {sql.is_reply('old')}",
            _subtract("reply_usage", _REPLY_KEY, sql.reply("old")),
        ),
        (
            "reply_usage_update_old",
            f"{on_update} WHEN {sql.is_reply('old')}",
            _subtract("reply_usage", _REPLY_KEY, sql.reply("old")),
        ),
        (
            "reply_usage_update_new",
            f"{on_update} WHEN {sql.is_reply('new')}",
            _add("reply_usage", _REPLY_KEY, sql.reply("new")),
        ),
        (
            "agent_usage_insert",
            "AFTER INSERT ON reply_usage",
            _add("agent_usage", _AGENT_KEY, _row("new", (*_AGENT_KEY, *SUMS))),
        ),
        (
            "agent_usage_update",
            "AFTER UPDATE ON reply_usage",
            _add("agent_usage", _AGENT_KEY, _diff()),
        ),
        (
            "agent_usage_delete",
            "AFTER DELETE ON reply_usage",
            _subtract("agent_usage", _AGENT_KEY, _row("old", (*_AGENT_KEY, *SUMS))),
        ),
    ):
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body}; END")


def upgrade() -> None:
    op.add_column("llm", sa.Column("price_input", sa.Float(), nullable=True))
    op.add_column("llm", sa.Column("price_output", sa.Float(), nullable=True))
    op.add_column("llm", sa.Column("price_currency", sa.String(8), nullable=True))
    op.add_column("chat_message", sa.Column("llm", sa.String(200), nullable=True))
    op.execute(_BACKFILL_LLM)
    pg = op.get_bind().dialect.name == "postgresql"
    _sum_tables(pg)
    if pg:
        _pg_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    raise NotImplementedError("downgrading below 0009 is not supported")
