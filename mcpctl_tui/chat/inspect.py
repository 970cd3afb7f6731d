"""The context inspector: what an agent would send, shown without sending anything.

``inspect_context`` takes the ``ChatContext`` the engine builds for a send (the same
``prepare_context``: system block, personality, merged params, the thread's history) and
renders the request the way the LLM's adapter would put it on the wire, with a placeholder
for the message not yet typed. Nothing is written, no key is resolved (the body never
holds one; headers are not shown), nothing leaves the process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mcpctl_tui.chat.context import ChatContext
from mcpctl_tui.llm.registry import UnknownLlmType, get_adapter
from mcpctl_tui.llm.request import Endpoint, Message
from mcpctl_tui.store.types import LlmKind

PLACEHOLDER = "<the message you send>"


@dataclass(frozen=True, slots=True)
class ContextReport:
    """One agent's request, as it would leave for its LLM."""

    agent: str
    personality: str | None
    llm: str  # name · type/model
    where: str  # the URL, or the relay for a virtual LLM
    prompt_names: tuple[str, ...]
    system: str
    params: dict[str, Any]
    tools: tuple[str, ...]
    history_turns: int
    body: str  # JSON, pretty, as the adapter builds it
    note: str | None = None  # why the body is not the wire's (unknown type …)


def inspect_context(ctx: ChatContext) -> ContextReport:
    request = ctx.with_message(Message(role="user", content=PLACEHOLDER)).request()
    endpoint = Endpoint(type=ctx.llm.type, url=ctx.llm.url, model=ctx.llm.model)
    note = None
    try:
        body: dict[str, Any] = get_adapter(ctx.llm.type).body(endpoint, request)
    except UnknownLlmType as exc:
        note = str(exc)
        body = {"system": request.system, "params": request.params}
    if ctx.llm.kind == LlmKind.VIRTUAL:
        where = "relayed through the store to the provider serving it"
        note = note or f"the provider sends this to its {ctx.llm.type} upstream"
    else:
        where = ctx.llm.url or "(no URL)"
    return ContextReport(
        agent=ctx.agent.name,
        personality=ctx.personality,
        llm=f"{ctx.llm.name} · {ctx.llm.type}/{ctx.llm.model}",
        where=where,
        prompt_names=ctx.prompt_names,
        system=ctx.system,
        params=dict(ctx.params),
        tools=tuple(str(t.get("function", t).get("name", "?")) for t in (request.tools or [])),
        history_turns=len(ctx.history),
        body=json.dumps(body, indent=2, ensure_ascii=False, default=str),
        note=note,
    )


def report_sections(report: ContextReport) -> list[tuple[str, str]]:
    """(heading, text) in the order both front ends show them."""
    params = json.dumps(report.params, indent=2, ensure_ascii=False, default=str)
    prompts = ", ".join(report.prompt_names) or "none"
    return [
        (
            "Agent",
            f"{report.agent} · personality {report.personality or 'none'}\n"
            f"LLM {report.llm} · {report.where}\n"
            f"prompts injected: {prompts} · history: {report.history_turns} turns",
        ),
        ("System block", report.system or "(empty)"),
        ("Params", params),
        ("Tools", "\n".join(report.tools) or "none"),
        ("Request body" + (f" ({report.note})" if report.note else ""), report.body),
    ]


def report_text(report: ContextReport) -> str:
    """The report as plain text (the REPL's ``/context``)."""
    return "\n\n".join(f"== {head}\n{text}" for head, text in report_sections(report))
