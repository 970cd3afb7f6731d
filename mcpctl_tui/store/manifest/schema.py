"""What each kind of document may hold, field by field, read and written by one table.

Each kind has a tuple of ``Field`` (camelCase key as written in YAML, dataclass
attribute, check, required); ``document_from`` reads a parsed YAML mapping through it and
``to_mapping`` writes a document back through it (``kind`` first, camelCase keys, fields
equal to their default left out, so the output stays short and re-applies unchanged).

Everything a document can get wrong without looking at the database is checked here:
unknown or missing fields, names (not empty, no surrounding whitespace, no control
characters, within the column's length), integers (no booleans, 32-bit), JSON fields
(plain JSON data only: finite numbers, string keys, no loops, at most 32 deep), a
prompt in a project AND an agent, a personality's bindings (one scope each, no prompt
twice), and secrets: ``apiKeyRef`` must be a reference (``env:NAME``,
``keyring:SERVICE/USER``) and a literal secret under any key is refused. A ``BadField``
message names the field path (``prompts[1].priority``) and never the value.
References by name are resolved by ``apply`` inside its transaction.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any, NoReturn

from mcpctl_tui.secrets import KeyRefError, find_secret_key, validate_key_ref
from mcpctl_tui.store.manifest.documents import (
    AgentDoc,
    BindingDoc,
    Document,
    Kind,
    LlmDoc,
    Located,
    ManifestError,
    McpServerDoc,
    PersonalityDoc,
    Problem,
    ProjectDoc,
    PromptDoc,
    label,
)
from mcpctl_tui.store.manifest.fields import (
    BadField,
    Field,
    bool_field,
    column_length,
    int_field,
    json_object,
    key_ref,
    name_field,
    optional,
    text_field,
    type_name,
)
from mcpctl_tui.store.models import Agent, Llm, McpServer, Personality, Project, Prompt
from mcpctl_tui.store.types import Prices

# Read-only markers ``get`` writes on a provider's rows; ``apply`` skips such documents.
_VIRTUAL_FIELDS = (
    Field("virtual", "virtual", bool_field),
    Field("providerSession", "provider_session", optional(text_field())),
)
_CURRENCY = re.compile(r"[A-Za-z]{1,8}")


def _price(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadField(f"must be a number, not {type_name(value)}")
    if not math.isfinite(value) or value < 0:
        raise BadField("must be a finite number, zero or more")
    return float(value)


def _currency(value: object) -> str:
    text = text_field(None)(value)
    if not _CURRENCY.fullmatch(text):
        raise BadField("must be a currency code of letters, such as USD or EUR")
    return text.upper()


_PRICE_FIELDS = (
    Field("input", "input", _price, required=True),
    Field("output", "output", _price, required=True),
    Field("currency", "currency", _currency),
)


def _prices(value: object) -> Prices | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadField(
            f"must be a mapping of input, output (per million tokens) and currency, "
            f"not {type_name(value)}"
        )
    try:
        return Prices(**_fields(value, _PRICE_FIELDS))
    except BadField as exc:
        raise BadField(f": {exc}", f".{exc.path}" if exc.path else "") from None


_LLM_FIELDS = (
    Field("name", "name", name_field(column_length(Llm, "name")), required=True),
    Field("type", "type", name_field(column_length(Llm, "type")), required=True),
    Field("model", "model", text_field(column_length(Llm, "model"))),
    Field("url", "url", text_field(column_length(Llm, "url"))),
    Field("apiKeyRef", "api_key_ref", optional(key_ref)),
    Field("tier", "tier", optional(text_field(column_length(Llm, "tier")))),
    Field("description", "description", text_field()),
    Field("prices", "prices", _prices),
    *_VIRTUAL_FIELDS,
)
_PROJECT_FIELDS = (
    Field("name", "name", name_field(column_length(Project, "name")), required=True),
    Field("description", "description", text_field()),
)
_AGENT_NAME = name_field(column_length(Agent, "name"))
_PROJECT_NAME = name_field(column_length(Project, "name"))
_AGENT_FIELDS = (
    Field("name", "name", _AGENT_NAME, required=True),
    Field("llm", "llm", name_field(column_length(Llm, "name")), required=True),
    Field("project", "project", optional(_PROJECT_NAME)),
    Field("description", "description", text_field()),
    Field("systemPrompt", "system_prompt", text_field()),
    Field("defaultParams", "default_params", json_object),
    Field("extras", "extras", json_object),
    Field(
        "defaultPersonality",
        "default_personality",
        optional(name_field(column_length(Personality, "name"))),
    ),
    *_VIRTUAL_FIELDS,
)
_PROMPT_NAME = name_field(column_length(Prompt, "name"))
_PROMPT_FIELDS = (
    Field("name", "name", _PROMPT_NAME, required=True),
    Field("content", "content", text_field(), required=True),
    Field("priority", "priority", int_field),
    Field("project", "project", optional(_PROJECT_NAME)),
    Field("agent", "agent", optional(_AGENT_NAME)),
)
_BINDING_FIELDS = (
    Field("name", "name", _PROMPT_NAME, required=True),
    Field("priority", "priority", optional(int_field)),
    Field("agent", "agent", optional(_AGENT_NAME)),
    Field("project", "project", optional(_PROJECT_NAME)),
    Field("global", "global_", bool_field),
)


def _bindings(value: object) -> tuple[BindingDoc, ...]:
    if not isinstance(value, list):
        raise BadField(f"must be a list of {{name, priority}} mappings, not {type_name(value)}")
    out: list[BindingDoc] = []
    seen: set[tuple[str, str | None, str | None, bool]] = set()
    for i, item in enumerate(value):
        if isinstance(item, str):  # shorthand: a bare prompt name
            item = {"name": item}
        if not isinstance(item, dict):
            raise BadField(
                f"[{i}] must be a mapping with name and priority, not {type_name(item)}",
                f"[{i}]",
            )
        try:
            binding = BindingDoc(**_fields(item, _BINDING_FIELDS))
        except BadField as exc:
            raise BadField(f"[{i}]: {exc}", f"[{i}]{'.' + exc.path if exc.path else ''}") from None
        scopes = sum([binding.agent is not None, binding.project is not None, binding.global_])
        if scopes > 1:
            raise BadField(f"[{i}] names more than one of agent, project, global", f"[{i}]")
        key = (binding.name, binding.agent, binding.project, binding.global_)
        if key in seen:
            raise BadField(f"[{i}] binds prompt {binding.name!r} twice", f"[{i}]")
        seen.add(key)
        out.append(binding)
    return tuple(out)


_PERSONALITY_FIELDS = (
    Field("name", "name", name_field(column_length(Personality, "name")), required=True),
    Field("agent", "agent", _AGENT_NAME, required=True),
    Field("description", "description", text_field()),
    Field("priority", "priority", int_field),
    Field("prompts", "prompts", _bindings),
)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token


def _argv(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise BadField(
            f"must be a list of strings (the program and its arguments), not {type_name(value)}"
        )
    if value and not value[0].strip():
        raise BadField("[0] (the program) must not be empty", "[0]")
    for i, arg in enumerate(value):
        if "\0" in arg:
            raise BadField(f"[{i}] must not contain NUL", f"[{i}]")
    return list(value)


def _refs(names: re.Pattern[str], a_name: str) -> Callable[[object], dict[str, str]]:
    """A mapping of names to key references (``env:NAME``, ``keyring:…``): values never."""

    def check(value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            raise BadField(f"must be a mapping of names to key references ({a_name} each)")
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not names.fullmatch(k):
                raise BadField(f"has a key that is not {a_name}", "")
            try:
                ref = key_ref(v)
            except BadField as exc:
                raise BadField(f".{k} {exc}", f".{k}") from None
            if ref is None:
                raise BadField(f".{k} must be a key reference, not empty", f".{k}")
            out[k] = ref
        return out

    return check


def _transport(value: object) -> str:
    if value not in ("stdio", "http"):
        raise BadField("must be stdio or http")
    return str(value)


_MCPSERVER_FIELDS = (
    Field("name", "name", name_field(column_length(McpServer, "name")), required=True),
    Field("project", "project", _PROJECT_NAME, required=True),
    Field("transport", "transport", _transport, required=True),
    Field("command", "command", _argv),
    Field("env", "env", _refs(_ENV_NAME, "an environment variable name")),
    Field("cwd", "cwd", optional(text_field(column_length(McpServer, "cwd")))),
    Field("url", "url", text_field(column_length(McpServer, "url"))),
    Field("headers", "headers", _refs(_HEADER_NAME, "an HTTP header name")),
    Field("description", "description", text_field()),
)
# Set per transport; the fields of the other transport must be left out.
_TRANSPORT_FIELDS = {"stdio": ("command", "env", "cwd"), "http": ("url", "headers")}


def _check_mcpserver(doc: McpServerDoc) -> None:
    for transport, names in _TRANSPORT_FIELDS.items():
        if transport == doc.transport:
            continue
        for name in names:
            if getattr(doc, name):
                raise BadField(f"{name} is for transport {transport}, not {doc.transport}", name)
    if doc.transport == "stdio" and not doc.command:
        raise BadField(
            "a stdio server needs its command (the program and its arguments)", "command"
        )
    if doc.transport == "http" and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", doc.url):
        raise BadField("an http server needs its url: http(s)://host[:port]/path", "url")


_SCHEMAS: dict[Kind, tuple[type[Any], tuple[Field, ...]]] = {
    Kind.LLM: (LlmDoc, _LLM_FIELDS),
    Kind.PROJECT: (ProjectDoc, _PROJECT_FIELDS),
    Kind.AGENT: (AgentDoc, _AGENT_FIELDS),
    Kind.PROMPT: (PromptDoc, _PROMPT_FIELDS),
    Kind.PERSONALITY: (PersonalityDoc, _PERSONALITY_FIELDS),
    Kind.MCPSERVER: (McpServerDoc, _MCPSERVER_FIELDS),
}


def _fields(raw: dict[Any, Any], fields: tuple[Field, ...]) -> dict[str, Any]:
    known = {f.key: f for f in fields}
    for key in raw:
        if key not in known:
            raise BadField(
                f"unknown field {key!r}" if isinstance(key, str) else "non-string field name",
                key if isinstance(key, str) else "",
            )
    values: dict[str, Any] = {}
    for f in fields:
        if f.key not in raw:
            if f.required:
                raise BadField(f"missing field {f.key!r}")
            continue
        try:
            values[f.attr] = f.check(raw[f.key])
        except BadField as exc:
            detail = str(exc)
            sep = "" if detail.startswith(("[", ":", ".")) else " "
            raise BadField(f"{f.key}{sep}{detail}", f.key + exc.path) from None
    return values


def validate(doc: Document) -> Document:
    """Check a document built in code (its dataclass does not check itself); a refusal is
    a ManifestError whose one problem names the field at fault (for an editor to show)."""
    try:
        return document_from(to_mapping(doc))
    except BadField as exc:
        problem = Problem(None, 1, None, label(doc), str(exc), field_at(doc.KIND, exc.path))
        raise ManifestError([problem]) from None


def field_at(kind: Kind, path: str) -> str | None:
    """The attribute of a ``kind`` document that a field path (``defaultParams``,
    ``prompts[2].agent``) starts in; None when it starts in none."""
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    return next((f.attr for f in _SCHEMAS[kind][1] if f.key == head), None)


def shown_key_ref(ref: str | None) -> str | None:
    """An api_key_ref fit to print: a reference as is, anything else hidden.

    Rows written before references were enforced (or by hand) might hold a key; output
    never shows it, and the placeholder is refused if it is applied back.
    """
    if ref is None:
        return None
    try:
        return validate_key_ref(ref)
    except KeyRefError:
        return "<hidden: not a key reference>"


def document_from(raw: object) -> Document:
    """One parsed YAML value -> a typed document; raises BadField."""
    if not isinstance(raw, dict):
        raise BadField(f"must be a mapping with a kind, not {type_name(raw)}")
    # An MCP server's env and headers are checked as references, name by name (an
    # ``Authorization`` header is expected there, as a reference).
    refs = ("env", "headers") if raw.get("kind") == Kind.MCPSERVER.value else ()
    secret = find_secret_key({k: v for k, v in raw.items() if k not in refs})
    if secret is not None:
        raise BadField(
            f"field {secret!r} holds a literal secret, which is refused; give a reference in "
            "apiKeyRef instead (env:NAME or keyring:SERVICE/USER)",
            secret,
        )
    kind_text = raw.get("kind")
    if kind_text is None:
        raise BadField("missing field 'kind'")
    if not isinstance(kind_text, str):
        raise BadField(f"kind must be a string, not {type_name(kind_text)}", "kind")
    try:  # the kind's own name only, not an alias such as ``llms``
        kind = Kind(kind_text.lower())
    except ValueError:
        raise BadField(
            f"unknown kind {kind_text!r}; expected one of: {', '.join(k.value for k in Kind)}",
            "kind",
        ) from None
    cls, fields = _SCHEMAS[kind]
    body = {k: v for k, v in raw.items() if k != "kind"}
    doc: Document = cls(**_fields(body, fields))
    if isinstance(doc, PromptDoc) and doc.project is not None and doc.agent is not None:
        raise BadField("a prompt belongs to a project or to an agent, not both", "agent")
    if isinstance(doc, McpServerDoc):
        _check_mcpserver(doc)
    return doc


def refuse(loc: Located, reason: str, path: str = "") -> NoReturn:
    """Refuse ``loc`` for a problem found after parsing (an unknown reference, a virtual
    row); ``path`` (a field such as ``llm`` or ``prompts[2]``) picks the line and field."""
    line = loc.line_of(path)
    field = field_at(loc.doc.KIND, path)
    raise ManifestError([Problem(loc.source, loc.index, line, label(loc.doc), reason, field)])


# --- documents -> YAML-ready mappings (export) ------------------------------------------


def _defaults(cls: type[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _mapping(obj: Any, fields: tuple[Field, ...], head: dict[str, Any]) -> dict[str, Any]:
    defaults = _defaults(type(obj))
    out = dict(head)
    for f in fields:
        value = getattr(obj, f.attr)
        if not f.required and f.attr in defaults and value == defaults[f.attr]:
            continue  # left out = the default on apply, so the output stays short
        if isinstance(value, tuple):
            value = [_mapping(b, _BINDING_FIELDS, {}) for b in value]
        elif isinstance(value, Prices):
            value = _mapping(value, _PRICE_FIELDS, {})
        out[f.key] = value
    return out


def to_mapping(doc: Document) -> dict[str, Any]:
    """The document as apply reads it: ``kind`` first, camelCase keys, defaults left out."""
    _cls, fields = _SCHEMAS[doc.KIND]
    return _mapping(doc, fields, {"kind": doc.KIND.value})
