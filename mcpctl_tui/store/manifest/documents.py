"""Manifest documents: YAML text -> typed, validated dataclasses (no database needed).

A manifest is multi-document YAML; each document is a mapping with ``kind:`` and the
object's camelCase fields, flat (no ``metadata``/``spec`` nesting). A YAML document that
is a list (what ``get -o json`` prints) counts as one document per item. A document is
the WHOLE object: an optional field left out is reset to its default on apply, which is
what makes ``get -o yaml`` output re-apply to the same state.

Everything a document can get wrong without looking at the database is checked here;
references by name are resolved by ``apply`` inside its transaction.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import yaml
from sqlalchemy import String

from mcpctl_tui.config import yaml_problem
from mcpctl_tui.secrets import KeyRefError, find_secret_key, validate_key_ref
from mcpctl_tui.store.errors import Invalid
from mcpctl_tui.store.models import Agent, Llm, Personality, Project, Prompt


class Kind(StrEnum):
    LLM = "llm"
    PROJECT = "project"
    AGENT = "agent"
    PROMPT = "prompt"
    PERSONALITY = "personality"

    @property
    def plural(self) -> str:
        return "personalities" if self is Kind.PERSONALITY else f"{self.value}s"


_KIND_ALIASES: dict[str, Kind] = {
    **{k.value: k for k in Kind},
    **{k.plural: k for k in Kind},
    "proj": Kind.PROJECT,
    "personas": Kind.PERSONALITY,
}


def parse_kind(text: str) -> Kind:
    """``llm``/``llms``/``LLM`` … -> Kind; anything else is Invalid."""
    kind = _KIND_ALIASES.get(text.strip().lower())
    if kind is None:
        raise Invalid(f"unknown kind {text!r}; expected one of: {', '.join(k.value for k in Kind)}")
    return kind


# --- the documents ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LlmDoc:
    KIND: ClassVar[Kind] = Kind.LLM
    name: str
    type: str
    model: str = ""
    url: str = ""
    api_key_ref: str | None = None
    tier: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ProjectDoc:
    KIND: ClassVar[Kind] = Kind.PROJECT
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class AgentDoc:
    KIND: ClassVar[Kind] = Kind.AGENT
    name: str
    llm: str
    project: str | None = None
    description: str = ""
    system_prompt: str = ""
    default_params: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    # A personality of this agent, by name (the agent <-> personality cycle).
    default_personality: str | None = None


@dataclass(frozen=True, slots=True)
class PromptDoc:
    """A prompt is agent-direct (``agent``), project-scoped (``project``) or global (neither)."""

    KIND: ClassVar[Kind] = Kind.PROMPT
    name: str
    content: str
    priority: int = 0
    project: str | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class BindingDoc:
    """One entry of a personality's ``prompts:`` list.

    Without a scope the prompt ``name`` is looked up in the personality's agent's own
    prompts first, then the prompts of that agent's project, then the global prompts.
    ``agent: A``, ``project: P`` or ``global: true`` name the scope explicitly (export
    writes one only when the rule above would find a different prompt).
    """

    name: str
    priority: int | None = None
    agent: str | None = None
    project: str | None = None
    global_: bool = False


@dataclass(frozen=True, slots=True)
class PersonalityDoc:
    KIND: ClassVar[Kind] = Kind.PERSONALITY
    name: str
    agent: str
    description: str = ""
    priority: int = 0
    prompts: tuple[BindingDoc, ...] = ()


Document = LlmDoc | ProjectDoc | AgentDoc | PromptDoc | PersonalityDoc


def identity(doc: Document) -> tuple[Kind, str, str]:
    """What a document names: two documents with one identity in one file is an error."""
    scope = ""
    if isinstance(doc, PromptDoc):
        scope = (
            f"agent {doc.agent}" if doc.agent else f"project {doc.project}" if doc.project else ""
        )
    elif isinstance(doc, PersonalityDoc):
        scope = f"agent {doc.agent}"
    return doc.KIND, doc.name, scope


def label(doc: Document) -> str:
    """``llm/openai-main``, ``prompt/style (agent helper)`` — how output names a document."""
    kind, name, scope = identity(doc)
    return f"{kind.value}/{name}" + (f" ({scope})" if scope else "")


@dataclass(frozen=True, slots=True)
class Located:
    """A document and where it came from (1-based index within its source, and line).

    ``lines`` maps field paths (``llm``, ``prompts[2]``, ``extras.headers``) to their
    lines, so a problem found later (an unknown reference) points at the field itself.
    """

    doc: Document
    index: int
    line: int | None
    source: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    def where(self) -> str:
        return _where(self.source, self.index, self.line)

    def line_of(self, path: str) -> int | None:
        return line_of(self.lines, path, self.line)


_LAST_STEP = re.compile(r"(\.[^.\[]*|\[\d+\])$")


def line_of(lines: Mapping[str, int], path: str, default: int | None) -> int | None:
    """The line of ``path``, else of its nearest enclosing field, else ``default``."""
    while path:
        if path in lines:
            return lines[path]
        path = _LAST_STEP.sub("", path) if _LAST_STEP.search(path) else ""
    return default


def _where(source: str | None, index: int, line: int | None) -> str:
    text = f"document {index}" + (f" (line {line})" if line is not None else "")
    return f"{source}: {text}" if source else text


@dataclass(frozen=True, slots=True)
class Problem:
    source: str | None
    index: int
    line: int | None
    label: str | None
    reason: str
    field: str | None = None  # the document's attribute at fault (``default_params``), if one

    def __str__(self) -> str:
        what = f" {self.label}" if self.label else ""
        return f"{_where(self.source, self.index, self.line)}{what}: {self.reason}"


class ManifestError(Invalid):
    """One or more documents are bad; nothing from the manifest was written.

    The message is one line per problem, each naming the document's index (and line).
    Values of fields are never echoed (a literal API key must not reach a terminal or log).
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# --- field checks ----------------------------------------------------------------------


class _Bad(Exception):
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
            raise _Bad(f"must be a string, not {_type_name(value)}")
        if max_len is not None and len(value) > max_len:
            raise _Bad(f"is longer than {max_len} characters")
        return value

    return check


def _optional(check: Callable[[object], Any]) -> Callable[[object], Any]:
    def opt(value: object) -> Any:
        return None if value is None else check(value)

    return opt


def _name(max_len: int | None) -> Callable[[object], str]:
    base = _text(max_len)

    def check(value: object) -> str:
        text = base(value)
        if not text:
            raise _Bad("must not be empty")
        if text != text.strip():
            raise _Bad("must not start or end with whitespace")
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise _Bad("must not contain control characters")
        return text

    return check


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"must be an integer, not {_type_name(value)}")
    if not -(2**31) <= value < 2**31:
        raise _Bad("is out of range")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"must be true or false, not {_type_name(value)}")
    return value


def _key_ref(value: object) -> str | None:
    text = _text(_column_length(Llm, "api_key_ref"))(value)
    if text == "":  # an empty reference is no reference
        return None
    try:
        return validate_key_ref(text)
    except KeyRefError:  # never echo the value: it may be the key itself
        raise _Bad(
            "must be a key reference such as env:NAME or keyring:SERVICE/USER "
            "(literal keys are refused)"
        ) from None


_MAX_JSON_DEPTH = 32


def _json_value(value: object, path: str, depth: int, seen: frozenset[int]) -> Any:
    """Plain JSON data only (YAML dates, sets, aliases that loop … are refused)."""
    if depth > _MAX_JSON_DEPTH:
        raise _Bad(f"{path}: nested deeper than {_MAX_JSON_DEPTH} levels", path)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad(f"{path}: must be a finite number", path)
        return value
    if isinstance(value, list | dict):
        if id(value) in seen:
            raise _Bad(f"{path}: refers to itself", path)
        inner = seen | {id(value)}
        if isinstance(value, list):
            return [_json_value(v, f"{path}[{i}]", depth + 1, inner) for i, v in enumerate(value)]
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise _Bad(f"{path}: keys must be strings, not {_type_name(k)}", path)
            out[k] = _json_value(v, f"{path}.{k}", depth + 1, inner)
        return out
    raise _Bad(f"{path}: {_type_name(value)} is not plain JSON data (quote it as a string)", path)


def _json_object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"must be a mapping, not {_type_name(value)}")
    result: dict[str, Any] = _json_value(value, "", 0, frozenset())
    return result


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # camelCase, as written in YAML
    attr: str  # the dataclass attribute
    check: Callable[[object], Any]
    required: bool = False


_LLM_FIELDS = (
    _Field("name", "name", _name(_column_length(Llm, "name")), required=True),
    _Field("type", "type", _name(_column_length(Llm, "type")), required=True),
    _Field("model", "model", _text(_column_length(Llm, "model"))),
    _Field("url", "url", _text(_column_length(Llm, "url"))),
    _Field("apiKeyRef", "api_key_ref", _optional(_key_ref)),
    _Field("tier", "tier", _optional(_text(_column_length(Llm, "tier")))),
    _Field("description", "description", _text()),
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
        raise _Bad(f"must be a list of {{name, priority}} mappings, not {_type_name(value)}")
    out: list[BindingDoc] = []
    seen: set[tuple[str, str | None, str | None, bool]] = set()
    for i, item in enumerate(value):
        if isinstance(item, str):  # shorthand: a bare prompt name
            item = {"name": item}
        if not isinstance(item, dict):
            raise _Bad(
                f"[{i}] must be a mapping with name and priority, not {_type_name(item)}",
                f"[{i}]",
            )
        try:
            binding = BindingDoc(**_fields(item, _BINDING_FIELDS))
        except _Bad as exc:
            raise _Bad(f"[{i}]: {exc}", f"[{i}]{'.' + exc.path if exc.path else ''}") from None
        scopes = sum([binding.agent is not None, binding.project is not None, binding.global_])
        if scopes > 1:
            raise _Bad(f"[{i}] names more than one of agent, project, global", f"[{i}]")
        key = (binding.name, binding.agent, binding.project, binding.global_)
        if key in seen:
            raise _Bad(f"[{i}] binds prompt {binding.name!r} twice", f"[{i}]")
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
            raise _Bad(
                f"unknown field {key!r}" if isinstance(key, str) else "non-string field name",
                key if isinstance(key, str) else "",
            )
    values: dict[str, Any] = {}
    for f in fields:
        if f.key not in raw:
            if f.required:
                raise _Bad(f"missing field {f.key!r}")
            continue
        try:
            values[f.attr] = f.check(raw[f.key])
        except _Bad as exc:
            detail = str(exc)
            sep = "" if detail.startswith(("[", ":", ".")) else " "
            raise _Bad(f"{f.key}{sep}{detail}", f.key + exc.path) from None
    return values


def validate(doc: Document) -> Document:
    """Check a document built in code (its dataclass does not check itself); a refusal is
    a ManifestError whose one problem names the field at fault (for an editor to show)."""
    try:
        return _validate(to_mapping(doc))
    except _Bad as exc:
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


def _validate(raw: object) -> Document:
    """One parsed YAML value -> a typed document; raises _Bad."""
    if not isinstance(raw, dict):
        raise _Bad(f"must be a mapping with a kind, not {_type_name(raw)}")
    secret = find_secret_key(raw)
    if secret is not None:
        raise _Bad(
            f"field {secret!r} holds a literal secret, which is refused; give a reference in "
            "apiKeyRef instead (env:NAME or keyring:SERVICE/USER)",
            secret,
        )
    kind_text = raw.get("kind")
    if kind_text is None:
        raise _Bad("missing field 'kind'")
    if not isinstance(kind_text, str):
        raise _Bad(f"kind must be a string, not {_type_name(kind_text)}", "kind")
    kind = _KIND_ALIASES.get(kind_text.lower())
    if kind is None or kind_text.lower() != kind.value:
        raise _Bad(
            f"unknown kind {kind_text!r}; expected one of: {', '.join(k.value for k in Kind)}",
            "kind",
        )
    cls, fields = _SCHEMAS[kind]
    body = {k: v for k, v in raw.items() if k != "kind"}
    doc: Document = cls(**_fields(body, fields))
    if isinstance(doc, PromptDoc) and doc.project is not None and doc.agent is not None:
        raise _Bad("a prompt belongs to a project or to an agent, not both", "agent")
    return doc


# --- YAML ------------------------------------------------------------------------------


# libyaml's parser when PyYAML was built with it (about 5x faster); same marks and errors.
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key; SafeLoader reports it below
                duplicate = False
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            try:
                seen.add(key)
            except TypeError:
                pass
        return super().construct_mapping(node, deep=deep)


_MAX_LINE_DEPTH = 6


def _node_lines(node: yaml.Node, path: str = "", depth: int = 0) -> dict[str, int]:
    """Field path -> 1-based line, for a document's node tree (a few levels deep)."""
    lines: dict[str, int] = {}
    if depth >= _MAX_LINE_DEPTH:  # also stops recursive aliases
        return lines
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                sub = f"{path}.{key.value}" if path else str(key.value)
                lines.setdefault(sub, key.start_mark.line + 1)
                lines.update(_node_lines(value, sub, depth + 1))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = f"{path}[{i}]"
            lines.setdefault(sub, item.start_mark.line + 1)
            lines.update(_node_lines(item, sub, depth + 1))
    return lines


def parse_manifest(text: str, *, source: str | None = None) -> list[Located]:
    """Parse and validate a whole manifest; raise ManifestError listing every bad document.

    Malformed YAML stops the parse at that document (the rest cannot be trusted); other
    problems are collected so one run reports all of them.
    """
    docs: list[Located] = []
    problems: list[Problem] = []
    seen: dict[tuple[Kind, str, str], Located] = {}
    loader = _Loader(text)
    index = 0
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
                if node is None:
                    break
                raw = loader.construct_document(node)
            except yaml.YAMLError as exc:
                line, problem = yaml_problem(exc)
                reason = f"malformed YAML: {problem}"
                problems.append(Problem(source, index + 1, line, None, reason))
                break
            index += 1
            line = node.start_mark.line + 1
            if raw is None:  # an empty document ("---" with nothing after it)
                continue
            # A list at the top level (get -o json) is a list of documents.
            items: list[tuple[object, yaml.Node]]
            if isinstance(raw, list) and isinstance(node, yaml.SequenceNode):
                items = list(zip(raw, node.value, strict=True))
            else:
                items = [(raw, node)]
            for pos, (value, item_node) in enumerate(items):
                item_line = item_node.start_mark.line + 1
                lines = _node_lines(item_node)
                if pos:
                    index += 1
                try:
                    doc = _validate(value)
                except _Bad as exc:
                    name = value.get("name") if isinstance(value, dict) else None
                    kind = value.get("kind") if isinstance(value, dict) else None
                    lbl = (
                        f"{kind}/{name}"
                        if isinstance(name, str) and isinstance(kind, str) and _safe_label(name)
                        else None
                    )
                    where = line_of(lines, exc.path, item_line)
                    problems.append(Problem(source, index, where, lbl, str(exc)))
                    continue
                located = Located(doc, index, item_line, source, lines)
                first = seen.get(identity(doc))
                if first is not None:
                    problems.append(
                        Problem(
                            source,
                            index,
                            item_line,
                            label(doc),
                            f"duplicates document {first.index} (line {first.line})",
                        )
                    )
                    continue
                seen[identity(doc)] = located
                docs.append(located)
    finally:
        loader.dispose()
    if problems:
        raise ManifestError(problems)
    return docs


def _safe_label(name: str) -> bool:
    return 0 < len(name) <= 200 and not any(ord(c) < 32 or ord(c) == 127 for c in name)


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
        out[f.key] = value
    return out


def to_mapping(doc: Document) -> dict[str, Any]:
    """The document as apply reads it: ``kind`` first, camelCase keys, defaults left out."""
    _cls, fields = _SCHEMAS[doc.KIND]
    return _mapping(doc, fields, {"kind": doc.KIND.value})
