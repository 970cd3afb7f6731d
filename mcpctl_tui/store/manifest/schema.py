"""What each kind of document may hold, field by field, read and written by one table.

Each kind has a tuple of ``_Field`` (camelCase key as written in YAML, dataclass
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
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import String

from mcpctl_tui.secrets import KeyRefError, find_secret_key, validate_key_ref
from mcpctl_tui.store.manifest.documents import (
    AgentDoc,
    BindingDoc,
    Document,
    Kind,
    LlmDoc,
    Located,
    ManifestError,
    PersonalityDoc,
    Problem,
    ProjectDoc,
    PromptDoc,
    label,
)
from mcpctl_tui.store.models import Agent, Llm, Personality, Project, Prompt
from mcpctl_tui.store.types import Prices


class BadField(Exception):
    """A field is wrong; the message never contains the field's value.

    ``path`` is the field's path from the document (``prompts[1].priority``), for its line.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _column_length(model: type[Any], column: str) -> int | None:
    col_type = model.__table__.c[column].type
    return col_type.length if isinstance(col_type, String) else None


def _text(max_len: int | None = None) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise BadField(f"must be a string, not {_type_name(value)}")
        if max_len is not None and len(value) > max_len:
            raise BadField(f"is longer than {max_len} characters")
        return value

    return check


def _optional(check: Callable[[object], Any]) -> Callable[[object], Any]:
    def opt(value: object) -> Any:
        return None if value is None else check(value)

    return opt


_BIDI = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))


def has_control(text: str) -> bool:
    """C0, DEL, C1 or a bidi embedding/override/isolate control: a name is shown in
    tables and messages, where they would rewrite the terminal or the order the name
    reads in (the set chat/sanitize.py takes out of model output)."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 or c in _BIDI for c in text)


def _name(max_len: int | None) -> Callable[[object], str]:
    base = _text(max_len)

    def check(value: object) -> str:
        text = base(value)
        if not text:
            raise BadField("must not be empty")
        if has_control(text):
            raise BadField("must not contain control characters")
        if text != text.strip():
            raise BadField("must not start or end with whitespace")
        return text

    return check


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadField(f"must be an integer, not {_type_name(value)}")
    if not -(2**31) <= value < 2**31:
        raise BadField("is out of range")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise BadField(f"must be true or false, not {_type_name(value)}")
    return value


def _key_ref(value: object) -> str | None:
    text = _text(_column_length(Llm, "api_key_ref"))(value)
    if text == "":  # an empty reference is no reference
        return None
    try:
        return validate_key_ref(text)
    except KeyRefError:  # never echo the value: it may be the key itself
        raise BadField(
            "must be a key reference such as env:NAME or keyring:SERVICE/USER "
            "(literal keys are refused)"
        ) from None


_MAX_JSON_DEPTH = 32


def _json_value(value: object, path: str, depth: int, seen: frozenset[int]) -> Any:
    """Plain JSON data only (YAML dates, sets, aliases that loop … are refused)."""
    if depth > _MAX_JSON_DEPTH:
        raise BadField(f"{path}: nested deeper than {_MAX_JSON_DEPTH} levels", path)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadField(f"{path}: must be a finite number", path)
        return value
    if isinstance(value, list | dict):
        if id(value) in seen:
            raise BadField(f"{path}: refers to itself", path)
        inner = seen | {id(value)}
        if isinstance(value, list):
            return [_json_value(v, f"{path}[{i}]", depth + 1, inner) for i, v in enumerate(value)]
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise BadField(f"{path}: keys must be strings, not {_type_name(k)}", path)
            out[k] = _json_value(v, f"{path}.{k}", depth + 1, inner)
        return out
    raise BadField(
        f"{path}: {_type_name(value)} is not plain JSON data (quote it as a string)", path
    )


def _json_object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadField(f"must be a mapping, not {_type_name(value)}")
    result: dict[str, Any] = _json_value(value, "", 0, frozenset())
    return result


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # camelCase, as written in YAML
    attr: str  # the dataclass attribute
    check: Callable[[object], Any]
    required: bool = False


# Read-only markers ``get`` writes on a provider's rows; ``apply`` skips such documents.
_VIRTUAL_FIELDS = (
    _Field("virtual", "virtual", _bool),
    _Field("providerSession", "provider_session", _optional(_text())),
)
_CURRENCY = re.compile(r"[A-Za-z]{1,8}")


def _price(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadField(f"must be a number, not {_type_name(value)}")
    if not math.isfinite(value) or value < 0:
        raise BadField("must be a finite number, zero or more")
    return float(value)


def _currency(value: object) -> str:
    text = _text(None)(value)
    if not _CURRENCY.fullmatch(text):
        raise BadField("must be a currency code of letters, such as USD or EUR")
    return text.upper()


_PRICE_FIELDS = (
    _Field("input", "input", _price, required=True),
    _Field("output", "output", _price, required=True),
    _Field("currency", "currency", _currency),
)


def _prices(value: object) -> Prices | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadField(
            f"must be a mapping of input, output (per million tokens) and currency, "
            f"not {_type_name(value)}"
        )
    try:
        return Prices(**_fields(value, _PRICE_FIELDS))
    except BadField as exc:
        raise BadField(f": {exc}", f".{exc.path}" if exc.path else "") from None


_LLM_FIELDS = (
    _Field("name", "name", _name(_column_length(Llm, "name")), required=True),
    _Field("type", "type", _name(_column_length(Llm, "type")), required=True),
    _Field("model", "model", _text(_column_length(Llm, "model"))),
    _Field("url", "url", _text(_column_length(Llm, "url"))),
    _Field("apiKeyRef", "api_key_ref", _optional(_key_ref)),
    _Field("tier", "tier", _optional(_text(_column_length(Llm, "tier")))),
    _Field("description", "description", _text()),
    _Field("prices", "prices", _prices),
    *_VIRTUAL_FIELDS,
)
_PROJECT_FIELDS = (
    _Field("name", "name", _name(_column_length(Project, "name")), required=True),
    _Field("description", "description", _text()),
)
_AGENT_NAME = _name(_column_length(Agent, "name"))
_PROJECT_NAME = _name(_column_length(Project, "name"))
_AGENT_FIELDS = (
    _Field("name", "name", _AGENT_NAME, required=True),
    _Field("llm", "llm", _name(_column_length(Llm, "name")), required=True),
    _Field("project", "project", _optional(_PROJECT_NAME)),
    _Field("description", "description", _text()),
    _Field("systemPrompt", "system_prompt", _text()),
    _Field("defaultParams", "default_params", _json_object),
    _Field("extras", "extras", _json_object),
    _Field(
        "defaultPersonality",
        "default_personality",
        _optional(_name(_column_length(Personality, "name"))),
    ),
    *_VIRTUAL_FIELDS,
)
_PROMPT_NAME = _name(_column_length(Prompt, "name"))
_PROMPT_FIELDS = (
    _Field("name", "name", _PROMPT_NAME, required=True),
    _Field("content", "content", _text(), required=True),
    _Field("priority", "priority", _int),
    _Field("project", "project", _optional(_PROJECT_NAME)),
    _Field("agent", "agent", _optional(_AGENT_NAME)),
)
_BINDING_FIELDS = (
    _Field("name", "name", _PROMPT_NAME, required=True),
    _Field("priority", "priority", _optional(_int)),
    _Field("agent", "agent", _optional(_AGENT_NAME)),
    _Field("project", "project", _optional(_PROJECT_NAME)),
    _Field("global", "global_", _bool),
)


def _bindings(value: object) -> tuple[BindingDoc, ...]:
    if not isinstance(value, list):
        raise BadField(f"must be a list of {{name, priority}} mappings, not {_type_name(value)}")
    out: list[BindingDoc] = []
    seen: set[tuple[str, str | None, str | None, bool]] = set()
    for i, item in enumerate(value):
        if isinstance(item, str):  # shorthand: a bare prompt name
            item = {"name": item}
        if not isinstance(item, dict):
            raise BadField(
                f"[{i}] must be a mapping with name and priority, not {_type_name(item)}",
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
    _Field("name", "name", _name(_column_length(Personality, "name")), required=True),
    _Field("agent", "agent", _AGENT_NAME, required=True),
    _Field("description", "description", _text()),
    _Field("priority", "priority", _int),
    _Field("prompts", "prompts", _bindings),
)

_SCHEMAS: dict[Kind, tuple[type[Any], tuple[_Field, ...]]] = {
    Kind.LLM: (LlmDoc, _LLM_FIELDS),
    Kind.PROJECT: (ProjectDoc, _PROJECT_FIELDS),
    Kind.AGENT: (AgentDoc, _AGENT_FIELDS),
    Kind.PROMPT: (PromptDoc, _PROMPT_FIELDS),
    Kind.PERSONALITY: (PersonalityDoc, _PERSONALITY_FIELDS),
}


def _fields(raw: dict[Any, Any], fields: tuple[_Field, ...]) -> dict[str, Any]:
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
        raise BadField(f"must be a mapping with a kind, not {_type_name(raw)}")
    secret = find_secret_key(raw)
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
        raise BadField(f"kind must be a string, not {_type_name(kind_text)}", "kind")
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


def _mapping(obj: Any, fields: tuple[_Field, ...], head: dict[str, Any]) -> dict[str, Any]:
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
