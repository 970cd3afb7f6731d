"""Editors for LLMs, projects, agents, prompts and personalities (modal forms).

The form (``editor_forms``) builds the document a manifest holds; a save applies it and a
delete removes it through ``UiData`` (the manifest's validation and rules, readable
errors, the configured heartbeat timeout). A save refused for one field goes to that
field, marked until edited. Esc on a changed form and Delete both ask first, awaited
inside the screen's workers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from mcpctl_tui.secrets import KeyRefError
from mcpctl_tui.store.errors import Conflict
from mcpctl_tui.store.manifest.documents import Document, Kind, ManifestError, label
from mcpctl_tui.ui.backend import ChatBackend
from mcpctl_tui.ui.data import AgentRow, Choices, StoreError, UiData
from mcpctl_tui.ui.pacing import PacedModalScreen
from mcpctl_tui.ui.screens.dialogs import ConfirmScreen, dialog_footer
from mcpctl_tui.ui.screens.editor_forms import Field, FormError, build_doc, fields_for, values_of
from mcpctl_tui.ui.text import literal, say


def plain_error(exc: StoreError) -> str:
    """A refusal as the form shows it: the reasons, without the manifest's "document 1
    kind/name:" prefix (the form's title already says which object)."""
    if isinstance(exc, ManifestError):
        return "\n".join(p.reason for p in exc.problems)
    return str(exc)


class EditorScreen(PacedModalScreen[str | None]):
    """Create or edit one object; dismisses with a line saying what happened."""

    CSS_PATH = ["dialogs.tcss", "editors.tcss"]
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+t", "test_connection", "Test connection"),
    ]

    def __init__(
        self,
        data: UiData,
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
        self.data = data
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
        # A provider's row: shown, never saved (it changes when its provider publishes).
        self.published_by: str | None = None
        if doc is not None and getattr(doc, "virtual", False):
            self.published_by = getattr(doc, "provider_session", None) or "-"

    def compose(self) -> ComposeResult:
        verb = "Edit" if self.doc is not None else "New"
        verb = "View" if self.published_by else verb
        title = f"{verb} {self.kind.value}" + (f" {self.doc.name}" if self.doc else "")
        with Vertical(classes="dialog editor"):
            yield Static(literal(title, "bold"), classes="dialog-title")
            if self.published_by:
                yield Static(literal(self.read_only_reason), classes="editor-read-only")
            with VerticalScroll(classes="editor-fields"):
                for f in self.fields:
                    yield Label(f.label, classes="field-label")
                    yield self._widget(f)
                    if f.help:  # under its field: the label column stays empty
                        yield Static("", classes="field-spacer")
                        yield Static(Content.styled(f.help, "dim"), classes="field-help")
            yield Static("", id="editor-error")
            yield Static("", id="editor-models")
            with Horizontal(classes="dialog-buttons"):
                if self.published_by:
                    yield Button("Close", id="cancel")
                else:
                    if self.kind is Kind.LLM:
                        yield Button(
                            "Test", id="test", tooltip="ask the server for its models (Ctrl+T)"
                        )
                    if self.doc is not None:
                        yield Button("Delete", variant="error", id="delete")
                    yield Button("Cancel", id="cancel")
                    yield Button("Save (Ctrl+S)", variant="primary", id="save")
        yield dialog_footer()

    def _widget(self, f: Field) -> Any:
        value = self.initial.get(f.key, "")
        wid = f"f-{f.key}"
        disabled = (f.create_only and self.doc is not None) or self.published_by is not None
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
        self.query_one("#editor-models", Static).display = False
        self._pristine = self.values()  # what Cancel compares with
        first = next((w for w in self.query("Input, TextArea, Select") if not w.disabled), None)
        if first is not None:
            first.focus()
        if self._delete_at_once:
            self.call_after_refresh(self.delete)

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

    @property
    def read_only_reason(self) -> str:
        return (
            f"Read-only: published by provider session {self.published_by}; it changes "
            "when that provider publishes again."
        )

    async def action_save(self) -> None:
        if self.published_by:
            self.show_error(self.read_only_reason)
            return
        try:
            doc = build_doc(self.kind, self.values(), self.doc)
        except FormError as exc:
            self.refuse(str(exc), exc.key)
            return
        try:
            applied = await self.data.save(doc, new=self.doc is None)
        except Conflict as exc:  # a new one with the name of a stored one
            self.refuse(str(exc), "name")
            return
        except StoreError as exc:
            self.refuse(plain_error(exc), self.key_at_fault(exc))
            return
        self.saved = doc
        self.dismiss(str(applied))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "test_connection":  # an LLM's form only (hidden from the footer else)
            return self.kind is Kind.LLM and not self.published_by
        return True

    @on(Button.Pressed, "#test")
    def _test_pressed(self) -> None:
        self.action_test_connection()

    @work(group="test-connection", exclusive=True, exit_on_error=False)
    async def action_test_connection(self) -> None:
        """Ask the server in the form (type, URL, key reference; not saved) for its models:
        the list shows under the form, or the one line that says why it could not."""
        if self.kind is not Kind.LLM or self.published_by:
            return
        values = self.values()
        shown = self.query_one("#editor-models", Static)
        shown.display = True
        shown.update(Content.styled("asking the server for its models…", "dim"))
        backend: ChatBackend = getattr(self.app, "backend")  # noqa: B009 (the app's engine)
        ref = str(values.get("api_key_ref") or "").strip() or None
        from mcpctl_tui.llm.models import ModelListError  # httpx: when a form dials, not before

        try:
            names = await backend.list_models(
                str(values.get("type") or ""), str(values.get("url") or "").strip(), ref
            )
        except (ModelListError, KeyRefError) as exc:
            shown.update(literal(f"Connection failed: {exc}", "red"))
            return
        if not names:
            shown.update(literal("Connected: the server lists no models."))
            return
        listed = ", ".join(names[:20]) + (f" … (+{len(names) - 20})" if len(names) > 20 else "")
        shown.update(literal(f"Connected: {len(names)} models: {listed}"))

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
        self.discard()

    @work(group="dialog", exit_on_error=False)
    async def discard(self) -> None:
        message = Content("The changes in this form are not saved.")
        ask = ConfirmScreen(Content("Discard changes?"), message, yes="Discard")
        if await self.app.push_screen_wait(ask):
            self.dismiss(None)

    @on(Button.Pressed, "#delete")
    def _delete_pressed(self) -> None:
        self.delete()

    @work(group="dialog", exit_on_error=False)
    async def delete(self) -> None:
        doc = self.doc
        assert doc is not None
        try:
            detail = await self.data.preview_delete(self.kind, doc)
        except StoreError as exc:  # RESTRICT and friends: say why, delete nothing
            self.show_error(plain_error(exc))
            return
        message = Content.assemble(
            "Delete ",
            literal(label(doc), "bold"),
            "?",
            (f"\nAlso goes: {detail}." if detail else ""),
        )
        ask = ConfirmScreen(Content(f"Delete {self.kind.value}"), message)
        if not await self.app.push_screen_wait(ask):
            if self._delete_at_once:  # opened to delete: no form to go back to
                self.dismiss(None)
            return
        try:
            done = await self.data.delete(self.kind, doc)
        except StoreError as exc:
            self.show_error(plain_error(exc))
            return
        self.deleted = True
        self.dismiss(str(done))


@dataclass(frozen=True, slots=True)
class Edited:
    """What an editor did: the line that says it, the object as it was opened (None: a
    new one), what the save wrote, whether it was deleted."""

    message: str
    doc: Document | None
    saved: Document | None
    deleted: bool


@dataclass(frozen=True, slots=True)
class EditTarget:
    name: str | None  # None: a new object
    agent: str | None  # the owner of a personality or prompt


def edit_target(
    kind: Kind, which: str | None, agent: AgentRow | None, personality: str | None
) -> EditTarget | None:
    """What an edit action names: a new object (``which`` None), the selected one
    (``"current"``: None if nothing is selected), or one by name (``"NAME"``; a prompt or
    personality ``"NAME@AGENT"``, else the selected agent's)."""
    if which != "current":
        name, _, at = (which or "").partition("@")
        owner = at or (agent.name if agent else None)
        scoped = kind in (Kind.PERSONALITY, Kind.PROMPT)
        return EditTarget(name or None, owner if scoped else None)
    current = {
        Kind.LLM: agent.llm_name if agent else None,
        Kind.AGENT: agent.name if agent else None,
        Kind.PERSONALITY: personality or None,
    }.get(kind)
    if not current:
        return None
    scoped = kind is Kind.PERSONALITY
    return EditTarget(current, agent.name if scoped and agent else None)


async def run_editor(
    app: App[Any],
    data: UiData,
    kind: Kind,
    name: str | None,
    *,
    over: Screen[Any],
    agent: str | None = None,
    project: str | None = None,
    selected_agent: str | None = None,
    delete: bool = False,
) -> Edited | None:
    """Open the editor of a new object (``name`` None) or of the one named ``name`` (a
    prompt in exactly the scope given: ``agent``, ``project``, or neither for the global
    one; a personality of ``agent``) over the screen ``over``, and wait for it. ``delete``:
    straight to the delete confirmation. None: nothing was done (cancelled, refused, or
    another dialog opened meanwhile)."""
    doc = None
    try:
        if name is not None:
            doc = await data.document(kind, name, agent=agent, project=project)
        # Personalities offered as an agent's default are that agent's own: none yet for
        # a new agent. A new personality belongs to the selected agent unless changed.
        editing = doc.name if kind is Kind.AGENT and doc is not None else None
        choices = await data.choices(editing)
    except StoreError as exc:
        say(app, str(exc), severity="error")
        return None
    if app.screen is not over:
        return None
    defaults = {"agent": selected_agent} if kind is Kind.PERSONALITY and selected_agent else {}
    editor = EditorScreen(data, kind, doc, choices, defaults=defaults, delete=delete)
    result = await app.push_screen_wait(editor)
    return Edited(result, doc, editor.saved, editor.deleted) if result else None
