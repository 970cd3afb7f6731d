"""``mcpctl-tui apply -f FILE``, ``get KIND [NAME]``, ``delete KIND NAME``: kubectl-like.

The verbs only read input and print; parsing, validation, apply, export and the delete
rules all live in ``store.manifest`` and ``store.deletes``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from mcpctl_tui.cli import CliState, main, run, with_store
from mcpctl_tui.cli.inputs import MANIFEST_LIMIT, read_text
from mcpctl_tui.cli.tables import table
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import Invalid
from mcpctl_tui.store.manifest import (
    Deleted,
    Exported,
    Kind,
    apply_manifest,
    delete_named,
    dump_yaml,
    get_objects,
    parse_kind,
)

# --- apply ------------------------------------------------------------------------------


def _read_source(path: str) -> str:
    return read_text(path, MANIFEST_LIMIT, "stdin" if path == "-" else path, bom=True)


@main.command("apply")
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    metavar="FILE",
    help="Manifest (multi-document YAML); '-' reads stdin. Repeatable: all in one transaction.",
)
@click.option("--dry-run", is_flag=True, help="Validate and report, then roll back.")
@click.pass_obj
def apply_cmd(state: CliState, files: Sequence[str], dry_run: bool) -> None:
    """Create or update llms, projects, agents, prompts and personalities from YAML.

    Documents may come in any order and refer to each other by name. Either every
    document applies or (on the first bad one) nothing does. A document is the whole
    object: a field left out goes back to its default.

    A personality's prompts are found by name in its agent's own prompts, then the
    agent's project's, then the global ones (see docs/manifests.md).
    """
    named = len(files) > 1
    sources = [((("stdin" if f == "-" else f) if named else None), _read_source(f)) for f in files]
    url = state.db_url()
    from mcpctl_tui.llm.registry import known_types  # the adapters (httpx): apply only

    types = frozenset(known_types())
    results = run(
        with_store(
            url, lambda store: apply_manifest(store, sources, dry_run=dry_run, llm_types=types)
        )
    )
    suffix = " (dry run)" if dry_run else ""
    for result in results:
        click.echo(f"{result}{suffix}")


# --- get --------------------------------------------------------------------------------


def _columns(kind: Kind) -> list[tuple[str, Any]]:
    """(header, item -> value) per kind."""

    def doc(key: str, default: Any = "") -> Any:
        return lambda e: e.document.get(key, default)

    def fact(key: str) -> Any:
        return lambda e: e.facts.get(key)

    if kind is Kind.LLM:
        return [
            ("NAME", doc("name")),
            ("TYPE", doc("type")),
            ("MODEL", doc("model")),
            ("TIER", doc("tier", None)),
            ("KEY", doc("apiKeyRef", None)),
            ("KIND", fact("kind")),
            ("STATUS", fact("status")),
            ("AGENTS", fact("agents")),
        ]
    if kind is Kind.PROJECT:
        return [
            ("NAME", doc("name")),
            ("AGENTS", fact("agents")),
            ("PROMPTS", fact("prompts")),
            ("DESCRIPTION", doc("description")),
        ]
    if kind is Kind.AGENT:
        return [
            ("NAME", doc("name")),
            ("LLM", doc("llm")),
            ("PROJECT", doc("project", None)),
            ("PERSONALITY", doc("defaultPersonality", None)),
            ("KIND", fact("kind")),
            ("STATUS", fact("status")),
            ("PERSONALITIES", fact("personalities")),
            ("THREADS", fact("threads")),
        ]
    if kind is Kind.MCPSERVER:
        return [
            ("NAME", doc("name")),
            ("PROJECT", doc("project")),
            ("TRANSPORT", doc("transport")),
            ("COMMAND / URL", fact("where")),
            ("DESCRIPTION", doc("description")),
        ]
    if kind is Kind.PROMPT:
        return [
            ("NAME", doc("name")),
            ("SCOPE", fact("scope")),
            ("PRIORITY", doc("priority", 0)),
            ("CONTENT", doc("content")),
        ]
    return [
        ("NAME", doc("name")),
        ("AGENT", doc("agent")),
        ("PRIORITY", doc("priority", 0)),
        ("PROMPTS", lambda e: len(e.document.get("prompts", []))),
        ("DEFAULT", fact("default")),
        ("DESCRIPTION", doc("description")),
    ]


def render_table(kind: Kind, items: Sequence[Exported]) -> str:
    columns = _columns(kind)
    return table([h for h, _ in columns], [[get(e) for _, get in columns] for e in items])


def _check_filters(kind: Kind, agent: str | None, project: str | None) -> None:
    if agent is not None and kind not in (Kind.PROMPT, Kind.PERSONALITY):
        raise click.UsageError("--agent applies to prompts and personalities only")
    if project is not None and kind not in (Kind.PROMPT, Kind.MCPSERVER):
        raise click.UsageError("--project applies to prompts and mcpservers only")
    if agent is not None and project is not None:
        raise click.UsageError("give --agent or --project, not both")


def _kind(text: str) -> Kind:
    try:
        return parse_kind(text)
    except Invalid as exc:
        raise click.UsageError(str(exc)) from None


@main.command("get")
@click.argument("kind_text", metavar="KIND")
@click.argument("name", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "yaml", "json"]),
    default="table",
    show_default=True,
    help="yaml re-applies with 'apply -f' to the same state.",
)
@click.option("--agent", metavar="NAME", help="Prompts/personalities of this agent only.")
@click.option("--project", metavar="NAME", help="Prompts/mcpservers of this project only.")
@click.pass_obj
def get_cmd(
    state: CliState,
    kind_text: str,
    name: str | None,
    output: str,
    agent: str | None,
    project: str | None,
) -> None:
    """List llms, projects, agents, prompts or personalities (singular or plural), or all.

    ``get all -o yaml`` is a full export that ``apply -f`` takes back.
    """
    if kind_text.lower() == "all":
        if name is not None or agent is not None or project is not None:
            raise click.UsageError("'get all' takes no NAME, --agent or --project")
        kinds = list(Kind)
    else:
        kinds = [_kind(kind_text)]
        _check_filters(kinds[0], agent, project)

    async def go(store: Store) -> list[tuple[Kind, list[Exported]]]:
        async with store.session() as s:
            return [(k, await get_objects(s, k, name, agent=agent, project=project)) for k in kinds]

    found = run(with_store(state.db_url(existing=True, writes=False), go))
    items = [e for _, group in found for e in group]
    if output == "yaml":
        if items:
            click.echo(dump_yaml(items), nl=False)
    elif output == "json":
        # ensure_ascii: exact, and no raw C1 control characters reach the terminal.
        click.echo(json.dumps([e.document for e in items], indent=2))
    elif not items:
        click.echo(f"No {kinds[0].plural if len(kinds) == 1 else 'objects'} found.", err=True)
    else:
        tables = [render_table(k, group) for k, group in found if group]
        click.echo("\n\n".join(tables))


# --- delete -----------------------------------------------------------------------------


@main.command("delete")
@click.argument("kind_text", metavar="KIND")
@click.argument("name")
@click.option("--agent", metavar="NAME", help="The agent a prompt or personality belongs to.")
@click.option("--project", metavar="NAME", help="The project a prompt or mcpserver belongs to.")
@click.pass_obj
def delete_cmd(
    state: CliState, kind_text: str, name: str, agent: str | None, project: str | None
) -> None:
    """Delete one object under the database's rules.

    An LLM still used by agents is refused (naming them); an agent takes its
    personalities, prompts, threads and messages with it, and says how many. A
    virtual LLM or agent is refused while its provider session is live.
    """
    kind = _kind(kind_text)
    _check_filters(kind, agent, project)

    from mcpctl_tui.config import load_settings

    async def go(store: Store) -> Deleted:
        timeout = load_settings().heartbeat_timeout  # who counts as live, as the GC sees it
        async with store.transaction() as s:
            return await delete_named(
                s, kind, name, agent=agent, project=project, heartbeat_timeout=timeout
            )

    click.echo(str(run(with_store(state.db_url(existing=True), go))))
