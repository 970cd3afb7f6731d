"""Editors for LLMs, projects, agents, prompts and personalities (modal forms).

A form builds the same document a manifest holds and saves it with the manifest's
``apply_one`` (one validation, one set of rules, readable errors); a delete goes through
``delete_named``. Nothing here knows SQL. The API key field takes a reference
(``env:NAME`` / ``keyring:SERVICE/USER``); a literal key is refused by validation and a
stored one is never shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound, StoreError
from mcpctl_tui.store.manifest.apply import apply_one
from mcpctl_tui.store.manifest.delete import delete_named
from mcpctl_tui.store.manifest.documents import (
    AgentDoc,
    BindingDoc,
    Document,
    Kind,
    LlmDoc,
    ManifestError,
    PersonalityDoc,
    ProjectDoc,
    PromptDoc,
    identity,
    label,
    shown_key_ref,
)
from mcpctl_tui.store.manifest.export import get_objects
from mcpctl_tui.ui.pacing import PacedModalScreen
from mcpctl_tui.ui.screens.dialogs import ConfirmScreen, dialog_footer
from mcpctl_tui.ui.text import literal

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

FieldKind = Literal["text", "multiline", "int", "json", "choice", "bindings"]
NONE = "(none)"


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    kind: FieldKind = "text"
    choices: Sequence[str] = ()
    help: str = ""
    create_only: bool = False


@dataclass(slots=True)
class Choices:
    """What the selects offer (names from the store, loaded by the app)."""

    llm_types: list[str] = field(default_factory=list)
    llms: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    personalities: list[str] = field(default_factory=list)  # of the agent being edited


def fields_for(kind: Kind, c: Choices) -> list[Field]:
    if kind is Kind.LLM:
        return [
            Field("name", "Name", create_only=True),
            Field("type", "Type", "choice", c.llm_types),
            Field("url", "URL", help="base URL, e.g. http://127.0.0.1:8000/v1 (echo: empty)"),
            Field("model", "Model"),
            Field("api_key_ref", "API key reference", help="env:NAME or keyring:SERVICE/USER"),
            Field("description", "Description"),
        ]
    if kind is Kind.PROJECT:
        return [Field("name", "Name", create_only=True), Field("description", "Description")]
    if kind is Kind.AGENT:
        return [
            Field("name", "Name", create_only=True),
            Field("llm", "LLM", "choice", c.llms),
            Field("project", "Project", "choice", [NONE, *c.projects]),
            Field("description", "Description"),
            Field("system_prompt", "System prompt", "multiline"),
            Field("default_params", "Default params (JSON object)", "json"),
            Field("default_personality", "Default personality", "choice", [NONE, *c.personalities]),
        ]
    if kind is Kind.PROMPT:
        scopes = (
            ["global"] + [f"project:{p}" for p in c.projects] + [f"agent:{a}" for a in c.agents]
        )
        return [
            Field("name", "Name", create_only=True),
            Field("scope", "Scope", "choice", scopes, create_only=True),
            Field("priority", "Priority", "int", help="higher comes first"),
            Field("content", "Content", "multiline"),
        ]
    return [
        Field("name", "Name", create_only=True),
        Field("agent", "Agent", "choice", c.agents, create_only=True),
        Field("description", "Description"),
        Field("priority", "Priority", "int"),
        Field(
            "prompts",
            "Bound prompts",
            "bindings",
            help="one per line: NAME or NAME:PRIORITY (the binding's priority override)",
        ),
    ]


def values_of(doc: Document | None, kind: Kind) -> dict[str, Any]:
    """Form values for ``doc`` (None: a new one)."""
    if doc is None:
        base: dict[str, Any] = {"priority": 0, "default_params": {}}
        return base
    if isinstance(doc, LlmDoc):
        return {
            "name": doc.name,
            "type": doc.type,
            "url": doc.url,
            "model": doc.model,
            "api_key_ref": shown_key_ref(doc.api_key_ref) or "",
            "description": doc.description,
        }
    if isinstance(doc, ProjectDoc):
        return {"name": doc.name, "description": doc.description}
    if isinstance(doc, AgentDoc):
        return {
            "name": doc.name,
            "llm": doc.llm,
            "project": doc.project or NONE,
            "description": doc.description,
            "system_prompt": doc.system_prompt,
            "default_params": doc.default_params,
            "default_personality": doc.default_personality or NONE,
        }
    if isinstance(doc, PromptDoc):
        scope = (
            f"agent:{doc.agent}"
            if doc.agent
            else f"project:{doc.project}"
            if doc.project
            else "global"
        )
        return {"name": doc.name, "scope": scope, "priority": doc.priority, "content": doc.content}
    return {
        "name": doc.name,
        "agent": doc.agent,
        "description": doc.description,
        "priority": doc.priority,
        "prompts": "\n".join(
            b.name if b.priority is None else f"{b.name}:{b.priority}" for b in doc.prompts
        ),
    }


class FormError(ValueError):
    """A value the form itself refuses; ``key``: the form field at fault."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def parse_bindings(text: str) -> tuple[BindingDoc, ...]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        name, sep, prio = line.rpartition(":") if ":" in line else (line, "", "")
        if not sep:
            out.append(BindingDoc(name=line))
            continue
        try:
            out.append(BindingDoc(name=name.strip(), priority=int(prio)))
        except ValueError:
            reason = f"bound prompts, line {n}: priority {prio!r} is not a number"
            raise FormError(reason, "prompts") from None
    return tuple(out)


def build_doc(kind: Kind, v: dict[str, Any]) -> Document:
    """A document from form values; FormError for what the form itself can tell."""

    def opt(key: str) -> str | None:
        value = v.get(key)
        return None if value in (None, "", NONE) else str(value)

    def integer(key: str) -> int:
        raw = str(v.get(key, "0")).strip() or "0"
        try:
            return int(raw)
        except ValueError:
            raise FormError(f"{key}: {raw!r} is not a whole number", key) from None

    name = str(v.get("name", "")).strip()
    if not name:
        raise FormError("name: required", "name")
    if kind is Kind.LLM:
        return LlmDoc(
            name=name,
            type=str(v.get("type") or ""),
            url=str(v.get("url", "")).strip(),
            model=str(v.get("model", "")).strip(),
            api_key_ref=opt("api_key_ref"),
            description=str(v.get("description", "")),
        )
    if kind is Kind.PROJECT:
        return ProjectDoc(name=name, description=str(v.get("description", "")))
    if kind is Kind.AGENT:
        raw = str(v.get("default_params", "")).strip() or "{}"
        try:
            params = json.loads(raw)
        except json.JSONDecodeError as exc:
            reason = f"default params: not JSON ({exc.msg}, line {exc.lineno})"
            raise FormError(reason, "default_params") from None
        except ValueError:  # valid JSON Python will not read: an integer over 4300 digits
            reason = "default params: a number is too long (over 4300 digits)"
            raise FormError(reason, "default_params") from None
        if not isinstance(params, dict):
            raise FormError(
                'default params: must be a JSON object ({"key": value})', "default_params"
            )
        llm = opt("llm")
        if llm is None:
            raise FormError("llm: choose one (add an LLM first)", "llm")
        return AgentDoc(
            name=name,
            llm=llm,
            project=opt("project"),
            description=str(v.get("description", "")),
            system_prompt=str(v.get("system_prompt", "")),
            default_params=params,
            default_personality=opt("default_personality"),
        )
    if kind is Kind.PROMPT:
        scope = str(v.get("scope") or "global")
        where, _, owner = scope.partition(":")
        return PromptDoc(
            name=name,
            content=str(v.get("content", "")),
            priority=integer("priority"),
            agent=owner if where == "agent" else None,
            project=owner if where == "project" else None,
        )
    agent = opt("agent")
    if agent is None:
        raise FormError("agent: choose one", "agent")
    return PersonalityDoc(
        name=name,
        agent=agent,
        description=str(v.get("description", "")),
        priority=integer("priority"),
        prompts=parse_bindings(str(v.get("prompts", ""))),
    )


async def exists(s: AsyncSession, doc: Document) -> bool:
    """Whether an object with ``doc``'s identity (name, and scope) is stored."""
    agent = doc.agent if isinstance(doc, PromptDoc | PersonalityDoc) else None
    project = doc.project if isinstance(doc, PromptDoc) else None
    try:
        found = await get_objects(s, doc.KIND, doc.name, agent=agent, project=project)
    except NotFound:
        return False
    return any(identity(e.doc) == identity(doc) for e in found)


def plain_error(exc: StoreError) -> str:
    """A refusal as the form shows it: the reasons, without the manifest's "document 1
    kind/name:" prefix (the form's title already says which object)."""
    if isinstance(exc, ManifestError):
        return "\n".join(p.reason for p in exc.problems)
    return str(exc)


class _Rollback(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


async def preview_delete(store: Store, kind: Kind, doc: Document) -> str:
    """What deleting ``doc`` would take with it: the delete runs, reports, rolls back."""
    agent = doc.agent if isinstance(doc, PromptDoc | PersonalityDoc) else None
    project = doc.project if isinstance(doc, PromptDoc) else None
    try:
        async with store.transaction() as s:
            done = await delete_named(s, kind, doc.name, agent=agent, project=project)
            raise _Rollback(done.cascade)
    except _Rollback as rb:
        return rb.detail


async def delete_doc(store: Store, kind: Kind, doc: Document) -> str:
    agent = doc.agent if isinstance(doc, PromptDoc | PersonalityDoc) else None
    project = doc.project if isinstance(doc, PromptDoc) else None
    async with store.transaction() as s:
        done = await delete_named(s, kind, doc.name, agent=agent, project=project)
    return str(done)


class EditorScreen(PacedModalScreen[str | None]):
    """Create or edit one object; dismisses with a line saying what happened."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(
        self,
        store: Store,
        kind: Kind,
        doc: Document | None,
        choices: Choices,
        *,
        defaults: Mapping[str, Any] | None = None,
        delete: bool = False,
    ) -> None:
        """``defaults``: starting values of a new object's fields (e.g. the selected
        agent); ``delete``: open straight onto the delete confirmation."""
        super().__init__()
        self.store = store
        self.kind = kind
        self.doc = doc
        self.fields = fields_for(kind, choices)
        self.initial = values_of(doc, kind)
        if doc is None and defaults:
            self.initial.update(defaults)
        self._delete_at_once = delete and doc is not None
        self.saved: Document | None = None  # what the last save wrote
        self.deleted = False  # dismissed after deleting ``doc``
        self._pristine: dict[str, Any] = {}
        self._fault: tuple[str, Any] | None = None  # field a refusal marked, its value then

    def compose(self) -> ComposeResult:
        verb = "Edit" if self.doc is not None else "New"
        title = f"{verb} {self.kind.value}" + (f" {self.doc.name}" if self.doc else "")
        with Vertical(classes="dialog editor"):
            yield Static(literal(title, "bold"), classes="dialog-title")
            with VerticalScroll(classes="editor-fields"):
                for f in self.fields:
                    yield Label(f.label, classes="field-label")
                    yield self._widget(f)
                    if f.help:  # under its field: the label column stays empty
                        yield Static("", classes="field-spacer")
                        yield Static(Content.styled(f.help, "dim"), classes="field-help")
            yield Static("", id="editor-error")
            with Horizontal(classes="dialog-buttons"):
                if self.doc is not None:
                    yield Button("Delete", variant="error", id="delete")
                yield Button("Cancel", id="cancel")
                yield Button("Save (Ctrl+S)", variant="primary", id="save")
        yield dialog_footer()

    def _widget(self, f: Field) -> Any:
        value = self.initial.get(f.key, "")
        wid = f"f-{f.key}"
        disabled = f.create_only and self.doc is not None
        if f.kind == "choice":
            options = [(c, c) for c in f.choices]
            current = value if value in f.choices else (f.choices[0] if f.choices else None)
            if not options:
                return Select([], id=wid, prompt="(nothing to choose)", disabled=disabled)
            return Select(options, value=current, id=wid, allow_blank=False, disabled=disabled)
        if f.kind in ("multiline", "json", "bindings"):
            text = json.dumps(value, indent=2) if f.kind == "json" else str(value or "")
            area = TextArea(text, id=wid, soft_wrap=True, classes=f"field-{f.kind}")
            area.disabled = disabled
            return area
        # No validators, so no validation: Input's own would clear a refused save's
        # -invalid mark on blur; the form clears it when the field is edited.
        text = str(value if value is not None else "")
        return Input(text, id=wid, disabled=disabled, validate_on=())

    def on_mount(self) -> None:
        self.query_one("#editor-error", Static).display = False
        self._pristine = self.values()  # what Cancel compares with
        first = next((w for w in self.query("Input, TextArea, Select") if not w.disabled), None)
        if first is not None:
            first.focus()
        if self._delete_at_once:
            self.call_after_refresh(self._delete)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.fields:
            w = self.query_one(f"#f-{f.key}")
            if isinstance(w, Select):
                out[f.key] = None if w.is_blank() else w.value
            elif isinstance(w, TextArea):
                out[f.key] = w.text
            elif isinstance(w, Input):
                out[f.key] = w.value
        return out

    def show_error(self, message: str) -> None:
        err = self.query_one("#editor-error", Static)
        err.update(literal(message))
        err.display = True

    def refuse(self, message: str, key: str | None) -> None:
        """Say why a save was refused and go to the field at fault, marked until edited
        (in a long form it may be scrolled out of view); no field: focus stays put."""
        self.show_error(message)
        for marked in self.query(".-invalid"):  # one mark: the field the message is about
            marked.remove_class("-invalid")
        self._fault = None
        if key is None:
            return
        w = self.query_one(f"#f-{key}")
        if w.disabled:
            return
        w.add_class("-invalid")
        self._fault = (key, self.values()[key])
        w.focus(scroll_visible=False)
        # After the refresh that lays out the error line, which shrinks the form.
        self.call_after_refresh(w.scroll_visible, animate=False)

    def key_at_fault(self, exc: StoreError) -> str | None:
        """The form field a store refusal is about, when it is about exactly one."""
        if not isinstance(exc, ManifestError):
            return None
        fields = {p.field for p in exc.problems}
        attr = fields.pop() if len(fields) == 1 else None
        if self.kind is Kind.PROMPT and attr in ("agent", "project"):
            attr = "scope"
        return attr if any(f.key == attr for f in self.fields) else None

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    def _edited(self, event: Input.Changed | TextArea.Changed | Select.Changed) -> None:
        # Compared with the refused value: a Changed still queued from typing before the
        # save must not take off the mark the save just put on.
        if self._fault is None or event.control.id != f"f-{self._fault[0]}":
            return
        key, refused = self._fault
        if self.values()[key] != refused:
            event.control.remove_class("-invalid")
            self._fault = None

    async def action_save(self) -> None:
        try:
            doc = build_doc(self.kind, self.values())
        except FormError as exc:
            self.refuse(str(exc), exc.key)
            return
        try:
            async with self.store.transaction() as s:
                if self.doc is None and await exists(s, doc):
                    # Applying would overwrite it with this mostly empty form.
                    said = f"{label(doc)} already exists: edit it instead (Ctrl+P)"
                    self.refuse(said, "name")
                    return
                applied = await apply_one(s, doc)
        except StoreError as exc:
            self.refuse(plain_error(exc), self.key_at_fault(exc))
            return
        self.saved = doc
        self.dismiss(str(applied))

    @on(Button.Pressed, "#save")
    async def _save(self) -> None:
        await self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    @property
    def unsaved(self) -> bool:
        return self.values() != self._pristine

    def action_cancel(self) -> None:
        """Close; with unsaved changes, ask first (Esc is easy to hit, a form is long)."""
        if not self.unsaved:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        message = Content("The changes in this form are not saved.")
        self.app.push_screen(
            ConfirmScreen(Content("Discard changes?"), message, yes="Discard"), answered
        )

    @on(Button.Pressed, "#delete")
    async def _delete(self) -> None:
        doc = self.doc
        assert doc is not None
        try:
            detail = await preview_delete(self.store, self.kind, doc)
        except StoreError as exc:  # RESTRICT and friends: say why, delete nothing
            self.show_error(plain_error(exc))
            return
        message = Content.assemble(
            "Delete ",
            literal(label(doc), "bold"),
            "?",
            (f"\nAlso goes: {detail}." if detail else ""),
        )

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                if self._delete_at_once:  # opened to delete: no form to go back to
                    self.dismiss(None)
                return
            try:
                said = await delete_doc(self.store, self.kind, doc)
            except StoreError as exc:
                self.show_error(plain_error(exc))
                return
            self.deleted = True
            self.dismiss(said)

        self.app.push_screen(
            ConfirmScreen(Content(f"Delete {self.kind.value}"), message), confirmed
        )
