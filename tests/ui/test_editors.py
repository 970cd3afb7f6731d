"""Pilot tests of the editors: they write the store, and the store's rules come back as
plain messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mcpctl_tui.store.demo import ECHO_LLM
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.manifest.apply import apply_one
from mcpctl_tui.store.manifest.delete import delete_named
from mcpctl_tui.store.manifest.documents import Kind, LlmDoc, PromptDoc
from mcpctl_tui.store.manifest.export import get_objects
from mcpctl_tui.store.models import Agent, Llm, Personality, PersonalityPrompt, Project, Prompt
from mcpctl_tui.store.types import LlmKind, Prices
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.screens.dialogs import ConfirmScreen
from mcpctl_tui.ui.screens.editors import EditorScreen
from mcpctl_tui.ui.screens.help import HelpScreen
from mcpctl_tui.ui.state import StartAt
from tests.support.databases import dump_store
from tests.support.pilot import (
    SMALL,
    answer_yes,
    demo_store,
    fixed_clock,
    notifications,
    open_editor,
    running,
    screen_rows,
    screen_text,
    temp_store,
    wait_for,
)
from tests.support.seed import add_llm_agent


@asynccontextmanager
async def _demo_app(tmp_path: Path, **start: Any) -> AsyncIterator[tuple[Store, McpctlApp]]:
    """The demo store and an app on it that starts at ``start`` (``StartAt``'s fields),
    not yet running: the test runs it with ``running``, and may write the store before and
    read it after, while the store is still open."""
    async with demo_store(tmp_path) as (store, _):
        yield store, McpctlApp(store, clock=fixed_clock, start=StartAt(**start))


def _fill(screen: EditorScreen, **values: Any) -> None:
    from textual.widgets import Input, Select, TextArea

    for key, value in values.items():
        w = screen.query_one(f"#f-{key}")
        if isinstance(w, Input):
            w.value = value
        elif isinstance(w, TextArea):
            w.text = value
        elif isinstance(w, Select):
            w.value = value


async def test_new_llm_and_agent_from_an_empty_store(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            ed = await open_editor(app, pilot, "llm", None)
            _fill(ed, name="local", type="openai", url="http://127.0.0.1:1/v1", model="m1")
            _fill(ed, api_key_ref="sk-literal-key-123")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is ed  # refused, form kept
            assert "key" in screen_text(app).lower()
            _fill(ed, api_key_ref="env:LOCAL_KEY")
            await pilot.press("ctrl+s")
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))

            ed = await open_editor(app, pilot, "agent", None)
            _fill(ed, name="helper", llm="local", default_params="{not json")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert "default params: not JSON" in screen_text(app)
            _fill(ed, default_params="[1, 2]")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert "must be a JSON object" in screen_text(app)
            _fill(ed, default_params='{"temperature": 0.1}', system_prompt="Be brief.")
            await pilot.press("ctrl+s")
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))
            await wait_for(lambda: [r.name for r in app.main.agents.rows] == ["helper"])
        async with store.session() as s:
            llm = (await s.execute(select(Llm))).scalar_one()
            assert (llm.name, llm.type, llm.url, llm.api_key_ref) == (
                "local",
                "openai",
                "http://127.0.0.1:1/v1",
                "env:LOCAL_KEY",
            )
            agent = (await s.execute(select(Agent))).scalar_one()
            assert agent.default_params == {"temperature": 0.1}
            assert agent.system_prompt == "Be brief." and agent.llm_id == llm.id


async def test_deleting_an_llm_in_use_says_who_uses_it(tmp_path: Path) -> None:
    async with _demo_app(tmp_path, agent="ops") as (store, app):
        async with running(app) as pilot:
            await open_editor(app, pilot, "llm", "current")
            await pilot.click("#delete")
            await pilot.pause()
            shown = screen_text(app)
            assert f"llm {ECHO_LLM} is in use by 2 agents: ops, writer" in shown
            assert isinstance(app.screen, EditorScreen)
        async with store.session() as s:
            assert (await s.execute(select(Llm))).scalar_one().name == ECHO_LLM


async def test_personality_editor_binds_prompts_with_priority(tmp_path: Path) -> None:
    async with _demo_app(tmp_path, agent="ops") as (store, app):
        async with running(app) as pilot:
            ed = await open_editor(app, pilot, "personality", None)
            _fill(ed, name="reviewer", agent="ops", description="Reads diffs", priority="3")
            _fill(ed, prompts="terse:50\nhouse-style")
            await pilot.press("ctrl+s")
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))
            await wait_for(lambda: "reviewer" in app.main.personalities.values)
        async with store.session() as s:
            p = (
                await s.execute(select(Personality).where(Personality.name == "reviewer"))
            ).scalar_one()
            assert (p.description, p.priority) == ("Reads diffs", 3)
            rows = (
                await s.execute(
                    select(Prompt.name, PersonalityPrompt.priority)
                    .join(PersonalityPrompt, PersonalityPrompt.prompt_id == Prompt.id)
                    .where(PersonalityPrompt.personality_id == p.id)
                    .order_by(Prompt.name)
                )
            ).all()
            assert [tuple(r) for r in rows] == [("house-style", None), ("terse", 50)]


async def test_edit_project_and_prompt_and_delete_agent_with_confirmation(tmp_path: Path) -> None:
    async with _demo_app(tmp_path, agent="writer") as (store, app):
        async with running(app) as pilot:
            ed = await open_editor(app, pilot, "project", "platform")
            _fill(ed, description="Platform team, renamed")
            await pilot.press("ctrl+s")
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))

            ed = await open_editor(app, pilot, "prompt", None)
            _fill(ed, name="global-rule", scope="global", priority="7", content="Never guess.")
            await pilot.press("ctrl+s")
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))

            await open_editor(app, pilot, "agent", "current")
            await pilot.click("#delete")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.pause()
            shown = screen_text(app)
            assert "agent/writer" in shown and "1 personality" in shown and "1 thread" in shown
            await pilot.click("#yes")
            await wait_for(lambda: [r.name for r in app.main.agents.rows] == ["ops"])
        async with store.session() as s:
            project = (await s.execute(select(Project))).scalar_one()
            assert project.description == "Platform team, renamed"
            rule = (
                await s.execute(select(Prompt).where(Prompt.name == "global-rule"))
            ).scalar_one()
            assert (rule.priority, rule.content, rule.agent_id, rule.project_id) == (
                7,
                "Never guess.",
                None,
                None,
            )
            names = (await s.execute(select(Agent.name))).scalars().all()
            assert list(names) == ["ops"]


async def test_saving_a_form_keeps_what_the_form_does_not_show(tmp_path: Path) -> None:
    """An LLM's prices and tier and an agent's extras have no field in their forms: a save
    from the form kept nothing of them (a document is the whole object), so editing an
    LLM's description wiped its prices."""
    async with _demo_app(tmp_path, agent="ops") as (store, app):
        async with store.transaction() as s:
            llm = (await s.execute(select(Llm).where(Llm.name == ECHO_LLM))).scalar_one()
            llm.tier = "fast"
            agent = (await s.execute(select(Agent).where(Agent.name == "ops"))).scalar_one()
            agent.extras = {"team": "sre"}
        async with running(app) as pilot:
            ed = await open_editor(app, pilot, "llm", "current")
            _fill(ed, description="Echo, described again")
            await pilot.press("ctrl+s")
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))
            ed = await open_editor(app, pilot, "agent", "current")
            _fill(ed, description="Ops, described again")
            await pilot.press("ctrl+s")
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))
        async with store.session() as s:
            llm = (await s.execute(select(Llm).where(Llm.name == ECHO_LLM))).scalar_one()
            assert llm.description == "Echo, described again"
            assert (llm.tier, llm.prices) == ("fast", Prices(0.5, 1.5))
            agent = (await s.execute(select(Agent).where(Agent.name == "ops"))).scalar_one()
            assert (agent.description, agent.extras) == ("Ops, described again", {"team": "sre"})


async def test_an_llm_s_prices_from_its_form(tmp_path: Path) -> None:
    """Prices are typed as INPUT OUTPUT [CURRENCY]: what the form cannot read is refused
    at the field, what the manifest refuses (a negative price) too, and an empty field
    takes the prices away."""
    from textual.widgets import Input

    async def stored() -> Prices | None:
        async with store.session() as s:
            return (await s.execute(select(Llm).where(Llm.name == ECHO_LLM))).scalar_one().prices

    async with _demo_app(tmp_path, agent="ops") as (store, app), running(app) as pilot:
        ed = await open_editor(app, pilot, "llm", "current")
        field = ed.query_one("#f-prices", Input)
        assert field.value == "0.5 1.5 USD"  # the demo's
        for typed, said in (
            ("2.5", "prices: INPUT OUTPUT [CURRENCY], e.g. 2.50 10 USD"),
            ("two 10", "prices: INPUT and OUTPUT must be numbers"),
            ("-1 10", "prices: input must be a finite number, zero or more"),
            ("2.5 10 US$", "prices: currency must be a currency code of letters"),
        ):
            _fill(ed, prices=typed)
            await pilot.press("ctrl+s")
            await wait_for(lambda said=said: said in screen_text(app))
            assert app.screen is ed and field.has_class("-invalid"), typed
            assert await stored() == Prices(0.5, 1.5)  # nothing written
        _fill(ed, prices="2.5 10 eur")
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, EditorScreen))
        assert await stored() == Prices(2.5, 10.0, "EUR")
        ed = await open_editor(app, pilot, "llm", "current")
        _fill(ed, prices="")
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, EditorScreen))
        assert await stored() is None


async def _palette_pick(app: McpctlApp, pilot: Any, query: str, pick: str) -> None:
    """Open the palette, type ``query``, choose the hit whose text is ``pick``."""
    from textual.command import CommandList

    await pilot.press("ctrl+p")
    await wait_for(lambda: app.screen.query(CommandList))
    await pilot.press(*query)
    commands = app.screen.query_one(CommandList)

    def index() -> int | None:
        for i in range(commands.option_count):
            if str(commands.get_option_at_index(i).prompt).strip() == pick:
                return i
        return None

    await wait_for(lambda: index() is not None)
    commands.highlighted = index()
    await pilot.press("enter")


async def test_palette_edits_project_and_global_prompts_while_an_agent_is_selected(
    tmp_path: Path,
) -> None:
    """A prompt hit opens that prompt, not the selected agent's prompt of that name (there
    is none: the editor refused with "not found")."""
    async with _demo_app(tmp_path, agent="ops") as (store, app):
        async with store.transaction() as s:
            await apply_one(s, PromptDoc(name="safety", content="Be safe.", priority=2))
        async with running(app) as pilot:
            await _palette_pick(
                app, pilot, "edit house", "edit prompt/house-style (project platform)"
            )
            await wait_for(lambda: isinstance(app.screen, EditorScreen))
            ed = app.screen
            assert isinstance(ed, EditorScreen) and isinstance(ed.doc, PromptDoc)
            assert (ed.doc.name, ed.doc.project, ed.doc.agent) == ("house-style", "platform", None)
            await pilot.press("escape")
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))

            await _palette_pick(app, pilot, "edit safety", "edit prompt/safety")
            await wait_for(lambda: isinstance(app.screen, EditorScreen))
            ed = app.screen
            assert isinstance(ed, EditorScreen) and isinstance(ed.doc, PromptDoc)
            assert (ed.doc.name, ed.doc.project, ed.doc.agent) == ("safety", None, None)
            _fill(ed, priority="9")
            await pilot.press("ctrl+s")
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))
        async with store.session() as s:
            safety = (await s.execute(select(Prompt).where(Prompt.name == "safety"))).scalar_one()
            assert safety.priority == 9


async def test_new_agent_offers_no_other_agents_personalities_and_opens_when_saved(
    tmp_path: Path,
) -> None:
    from textual.widgets import Select

    async with _demo_app(tmp_path, agent="ops") as (_, app), running(app) as pilot:
        ed = await open_editor(app, pilot, "agent", None)
        select_ = ed.query_one("#f-default_personality", Select)
        # ops' personalities (oncall, teacher) are not this new agent's to choose.
        assert [str(p) for p, _ in select_._options] == ["(none)"]
        _fill(ed, name="newbie", llm=ECHO_LLM)
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, EditorScreen))
        await wait_for(
            lambda: app.main.state.agent is not None and app.main.state.agent.name == "newbie"
        )
        await wait_for(lambda: app.main.state.thread_id is None and app.main.loaded >= 2)


async def test_new_personality_belongs_to_the_selected_agent(tmp_path: Path) -> None:
    from textual.widgets import Select

    async with _demo_app(tmp_path, agent="writer") as (store, app):
        async with running(app) as pilot:
            ed = await open_editor(app, pilot, "personality", None)
            assert ed.query_one("#f-agent", Select).value == "writer"  # not the first agent, ops
            _fill(ed, name="poet")
            await pilot.press("ctrl+s")
            await wait_for(lambda: "poet" in app.main.personalities.values)
        async with store.session() as s:
            poet = (
                await s.execute(select(Personality).where(Personality.name == "poet"))
            ).scalar_one()
            writer = (await s.execute(select(Agent).where(Agent.name == "writer"))).scalar_one()
            assert poet.agent_id == writer.id


async def test_saving_an_editor_keeps_the_open_thread(tmp_path: Path) -> None:
    """The panes refresh after a save, but the chat stays on the thread being read (it
    jumped to the agent's newest thread), and a new thread being typed stays new."""
    async with demo_store(tmp_path) as (store, ids):
        older = ids.thread_ids[1]  # ops' second newest
        start = StartAt(agent="ops", thread_id=older)
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:
            assert app.main.state.thread_id == older
            ed = await open_editor(app, pilot, "agent", "current")
            _fill(ed, description="Operations helper, edited")
            loads = app.main.loaded
            await pilot.press("ctrl+s")
            await wait_for(lambda: app.main.loaded > loads)
            await wait_for(lambda: app.main.state.agent.description == "Operations helper, edited")
            await pilot.pause()
            assert app.main.state.thread_id == older
            assert app.main.threads.current is not None and app.main.threads.current.id == older

            await app.main.action_new_thread()
            ed = await open_editor(app, pilot, "project", "platform")
            loads = app.main.loaded
            await pilot.press("ctrl+s")
            await wait_for(lambda: app.main.loaded > loads)
            await pilot.pause()
            assert app.main.state.thread_id is None


async def test_delete_agent_action_asks_at_once(tmp_path: Path) -> None:
    async with _demo_app(tmp_path, agent="writer") as (_, app), running(app) as pilot:
        await app.main.run_action("delete_agent")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        assert "agent/writer" in screen_text(app)
        await pilot.press("escape")  # no: back to the main screen, not to a form
        await wait_for(lambda: app.screen is app.screen_stack[0])
        await app.main.run_action("delete_agent")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        await pilot.click("#yes")
        await wait_for(lambda: [r.name for r in app.main.agents.rows] == ["ops"])


@pytest.mark.parametrize(
    ("kind", "values", "label_"),
    [
        ("llm", {"name": ECHO_LLM, "type": "openai"}, f"llm/{ECHO_LLM}"),
        ("project", {"name": "platform"}, "project/platform"),
        ("prompt", {"name": "terse", "scope": "agent:ops", "content": "x"}, "prompt/terse"),
        ("personality", {"name": "oncall", "agent": "ops"}, "personality/oncall"),
    ],
)
async def test_new_with_an_existing_name_is_refused_not_overwritten(
    tmp_path: Path, kind: str, values: dict[str, str], label_: str
) -> None:
    """A "New …" form saved under an existing name replaced that object with the form's
    mostly empty fields ("configured"): model, description, bound prompts gone."""
    async with _demo_app(tmp_path, agent="ops") as (store, app):
        async with store.session() as s:
            before = [e.doc for e in await get_objects(s, Kind(kind))]
        async with running(app) as pilot:
            ed = await open_editor(app, pilot, kind, None)
            _fill(ed, **values)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is ed  # refused; the form and what was typed stay
            assert f"{label_}" in screen_text(app) and "already exists" in screen_text(app)
            assert ed.values()["name"] == values["name"]
        async with store.session() as s:
            assert [e.doc for e in await get_objects(s, Kind(kind))] == before


async def test_refusals_read_without_manifest_jargon(tmp_path: Path) -> None:
    async with _demo_app(tmp_path, agent="ops") as (_, app), running(app) as pilot:
        ed = await open_editor(app, pilot, "personality", None)
        _fill(ed, name="reviewer", prompts="nosuch:5")
        await pilot.press("ctrl+s")
        await pilot.pause()
        shown = screen_text(app)
        assert "prompt 'nosuch' not found for agent 'ops'" in shown
        assert "document 1" not in shown  # the manifest's index means nothing in a form


async def test_default_params_python_cannot_read_are_refused_in_the_form(
    tmp_path: Path,
) -> None:
    """Valid JSON that Python will not read (an integer of over 4300 digits) raised a plain
    ValueError, and the form read JSON-error fields off it: the app crashed on save."""
    async with _demo_app(tmp_path, agent="ops") as (_, app), running(app) as pilot:
        ed = await open_editor(app, pilot, "agent", None)
        _fill(ed, name="big", llm=ECHO_LLM, default_params='{"n": ' + "9" * 5000 + "}")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is ed  # refused, form kept
        assert "default params: a number is too long" in screen_text(app)


async def test_escape_with_unsaved_changes_asks_before_discarding(tmp_path: Path) -> None:
    """Esc closed a filled-in form at once, everything typed gone."""
    async with _demo_app(tmp_path, agent="ops") as (store, app):
        async with running(app) as pilot:
            ed = await open_editor(app, pilot, "agent", "current")
            await pilot.press("escape")  # nothing changed: closes at once
            await wait_for(lambda: not isinstance(app.screen, EditorScreen))

            ed = await open_editor(app, pilot, "agent", "current")
            _fill(ed, system_prompt="A long prompt, typed with care.")
            await pilot.press("escape")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.pause()
            assert "Discard changes?" in screen_text(app)
            await pilot.press("escape")  # no: back to the form, text intact
            await wait_for(lambda: app.screen is ed)
            assert ed.values()["system_prompt"] == "A long prompt, typed with care."
            await pilot.press("escape")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.click("#yes")
            await wait_for(lambda: app.screen is app.screen_stack[0])
        async with store.session() as s:
            ops = (await s.execute(select(Agent).where(Agent.name == "ops"))).scalar_one()
            assert ops.system_prompt == "You are a careful site reliability engineer."


async def test_a_dialog_footer_lists_the_dialog_keys(tmp_path: Path) -> None:
    """Under an editor or a confirmation the main screen's footer showed, with keys that
    do not apply there ("esc Cancel reply" while Esc closes the dialog)."""
    async with _demo_app(tmp_path, agent="ops") as (_, app), running(app, SMALL) as pilot:

        def footer_reads(*present: str) -> bool:
            bottom = screen_rows(app)[-1]
            return all(p in bottom for p in present) and "Cancel reply" not in bottom

        await pilot.pause()
        assert "esc Cancel reply" in screen_rows(app)[-1]  # the main screen's, on its own

        await open_editor(app, pilot, "agent", "current")
        await wait_for(lambda: footer_reads("esc Cancel", "^s Save"))
        assert "New thread" not in screen_rows(app)[-1]

        await pilot.click("#delete")  # a confirmation over the editor
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await wait_for(lambda: footer_reads("esc Cancel", "y Yes"))
        assert "Save" not in screen_rows(app)[-1]  # the editor's keys wait below
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, EditorScreen))
        await pilot.press("escape")
        await wait_for(lambda: app.screen is app.screen_stack[0])

        await pilot.press("f1")
        await wait_for(lambda: isinstance(app.screen, HelpScreen))
        await wait_for(lambda: footer_reads("esc Close"))


async def test_deleting_the_chosen_personality_refreshes_without_a_warning(
    tmp_path: Path,
) -> None:
    """Deleting the personality in use was followed by "agent ops has no personality
    teacher", as if something had gone wrong."""
    async with (
        _demo_app(tmp_path, agent="ops", personality="teacher") as (_, app),
        running(app) as pilot,
    ):
        await pilot.pause()
        assert app.main.personalities.current == "teacher"
        await open_editor(app, pilot, "personality", "current")
        await pilot.click("#delete")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        await pilot.click("#yes")
        await wait_for(lambda: "teacher" not in app.main.personalities.values)
        await pilot.pause()
        said = [str(n.message) for n in notifications(app)]
        assert said == ["personality/teacher (agent ops) deleted (0 prompt bindings)"]
        assert app.main.state.personality_label == "oncall"  # back to the agent's default


async def test_quit_over_a_form_with_unsaved_changes_asks_first(tmp_path: Path) -> None:
    """Ctrl+Q reaches the app over an editor; it threw a filled-in form away unasked."""
    async with _demo_app(tmp_path, agent="ops") as (_, app), running(app) as pilot:
        ed = await open_editor(app, pilot, "agent", "current")
        _fill(ed, system_prompt="A long prompt, typed with care.")
        await pilot.press("ctrl+q")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        assert "Quit without saving?" in screen_text(app)
        await pilot.press("escape")  # no: back to the form, text intact, still running
        await wait_for(lambda: app.screen is ed)
        assert app.is_running
        assert ed.values()["system_prompt"] == "A long prompt, typed with care."
        await pilot.press("ctrl+q")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await answer_yes(pilot)
        await wait_for(lambda: not app.is_running)


async def test_quit_over_an_untouched_form_quits_at_once(tmp_path: Path) -> None:
    async with _demo_app(tmp_path, agent="ops") as (_, app), running(app) as pilot:
        await open_editor(app, pilot, "agent", "current")
        await pilot.press("ctrl+q")
        await wait_for(lambda: not app.is_running)


async def test_refused_save_goes_to_the_field_at_fault_below_the_fold(tmp_path: Path) -> None:
    """A refusal for a field out of view showed its message, and left the operator to
    hunt for the field: the save now lands on it, marked until it is edited."""
    from textual.widgets import TextArea

    async with _demo_app(tmp_path, agent="ops") as (store, app):
        async with store.session() as s:
            before = [e.doc for e in await get_objects(s, Kind.AGENT)]
        async with running(app, SMALL) as pilot:  # the agent form scrolls under its title
            ed = await open_editor(app, pilot, "agent", None)
            _fill(ed, name="helper", llm=ECHO_LLM, default_params='{"temperature": 0.1')
            await pilot.pause()
            form = ed.query_one(".editor-fields")
            params = ed.query_one("#f-default_params", TextArea)
            assert not form.can_view_partial(params)  # below the fold, focus on the name
            await pilot.press("ctrl+s")
            await wait_for(lambda: form.can_view_entire(params))
            assert app.screen is ed and "default params: not JSON" in screen_text(app)
            assert app.focused is params and params.has_class("-invalid")
            assert ed.values()["name"] == "helper"  # nothing typed is lost
            assert params.text == '{"temperature": 0.1'
            await pilot.press("end", "}")  # edited: the mark goes, the message stays
            await pilot.pause()
            assert not params.has_class("-invalid") and "not JSON" in screen_text(app)
            assert params.text == '{"temperature": 0.1}'
            _fill(ed, default_params="[0.1]")  # saved at once: its Changed is still queued
            await pilot.press("ctrl+s")
            await wait_for(lambda: "must be a JSON object" in screen_text(app))
            await pilot.pause()
            assert params.has_class("-invalid")
        async with store.session() as s:
            assert [e.doc for e in await get_objects(s, Kind.AGENT)] == before


@pytest.mark.parametrize(
    ("name", "said"), [("", "name: required"), ("ops", "agent/ops already exists")]
)
async def test_refused_name_goes_back_up_to_the_name(tmp_path: Path, name: str, said: str) -> None:
    from textual.widgets import Input, TextArea

    async with _demo_app(tmp_path, agent="ops") as (store, app):
        async with store.session() as s:
            before = [e.doc for e in await get_objects(s, Kind.AGENT)]
        async with running(app, SMALL) as pilot:
            ed = await open_editor(app, pilot, "agent", None)
            _fill(ed, name=name, llm=ECHO_LLM, system_prompt="Typed with care.")
            form = ed.query_one(".editor-fields")
            field = ed.query_one("#f-name", Input)
            ed.query_one("#f-default_params", TextArea).focus()  # scrolls the name away
            await wait_for(lambda: not form.can_view_partial(field))
            await pilot.press("ctrl+s")
            await wait_for(lambda: form.can_view_entire(field))
            assert app.screen is ed and said in screen_text(app)
            assert app.focused is field and field.has_class("-invalid")
            assert ed.values()["system_prompt"] == "Typed with care."
            await pilot.press("tab")  # leaving it is not mending it
            await pilot.pause()
            assert app.focused is not field and field.has_class("-invalid")
            await pilot.press("shift+tab", "x")
            await pilot.pause()
            assert not field.has_class("-invalid") and said in screen_text(app)
        async with store.session() as s:
            assert [e.doc for e in await get_objects(s, Kind.AGENT)] == before


async def test_store_refusal_goes_to_its_field_or_leaves_focus_alone(tmp_path: Path) -> None:
    """The store's rules name the field they are about (an LLM gone since the form
    opened: the LLM select); a refusal about no one field leaves focus where it was."""
    from textual.widgets import Select

    async with _demo_app(tmp_path, agent="ops") as (store, app):
        async with store.transaction() as s:
            await apply_one(s, LlmDoc(name="spare", type="echo"))
        await add_llm_agent(store, llm="remote", agent="far", kind=LlmKind.VIRTUAL)
        async with running(app, SMALL) as pilot:
            ed = await open_editor(app, pilot, "agent", None)
            _fill(ed, name="helper", llm="spare", description="Helps.")
            async with store.transaction() as s:
                await delete_named(s, Kind.LLM, "spare")
            await pilot.pause()
            await pilot.press("ctrl+s")
            llm = ed.query_one("#f-llm", Select)
            await wait_for(lambda: app.focused is llm)
            assert "llm 'spare' not found" in screen_text(app) and llm.has_class("-invalid")
            assert ed.values()["description"] == "Helps."
            await pilot.press("escape")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.click("#yes")
            await wait_for(lambda: app.screen is app.screen_stack[0])

            before = await dump_store(store)
            app.main.edit(Kind.LLM, "remote")  # a provider's row: shown, never saved
            await wait_for(lambda: isinstance(app.screen, EditorScreen))
            ed = app.screen
            assert isinstance(ed, EditorScreen)
            await pilot.pause()
            assert ed.published_by is not None
            assert f"published by provider session {ed.published_by}" in screen_text(app)
            assert all(w.disabled for w in ed.query("Input, TextArea, Select"))
            assert not ed.query("#save") and not ed.query("#delete")
            await pilot.press("ctrl+s")
            await wait_for(lambda: ed.query_one("#editor-error").display)
            assert app.screen is ed and not ed.query(".-invalid")
            await pilot.press("escape")  # nothing changed: closes without asking
            await wait_for(lambda: app.screen is app.screen_stack[0])
            assert await dump_store(store) == before


async def test_text_editing_keys_belong_to_the_form_over_an_editor(tmp_path: Path) -> None:
    """Over an editor, Ctrl+D, Ctrl+E, Ctrl+K and Ctrl+Y edit its fields, and the main
    screen's commands are not in the palette."""
    from textual.command import CommandPalette
    from textual.widgets import Input, TextArea

    async with _demo_app(tmp_path, agent="ops") as (_, app), running(app) as pilot:
        ed = await open_editor(app, pilot, "agent", "current")
        name = ed.query_one("#f-description", Input)
        name.focus()
        name.value = "abc def"
        name.cursor_position = 0
        await pilot.press("ctrl+e")  # end of the line
        assert name.cursor_position == len("abc def")
        name.cursor_position = 3
        await pilot.press("ctrl+d")  # delete right
        assert name.value == "abcdef"
        await pilot.press("ctrl+k")  # delete to the end
        assert name.value == "abc"
        prompt = ed.query_one("#f-system_prompt", TextArea)
        prompt.focus()
        prompt.text = "one two"
        prompt.move_cursor((0, 3))
        await pilot.press("ctrl+k")  # delete to the end of the line
        assert prompt.text == "one"
        await pilot.press("ctrl+z", "ctrl+y")  # undo, then redo
        assert prompt.text == "one"
        assert app.screen is ed  # no confirmation, no export dialog over it
        await pilot.press("ctrl+p")  # Textual's own commands, none of the main screen's
        await wait_for(lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"delete thread")
        await pilot.pause(0.3)
        assert "Delete thread" not in screen_text(app)
        await pilot.press("escape")
        await wait_for(lambda: app.screen is ed)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await answer_yes(pilot)
        await wait_for(lambda: app.screen is app.screen_stack[0])
        # Back on the main screen, from the thread list, the keys act on the thread.
        app.main.threads.focus()
        await pilot.press("ctrl+d")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        assert "Delete thread" in screen_text(app)


async def test_test_connection_lists_the_servers_models_or_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+T in the LLM form asks the server in the form (not saved) for its models."""
    import json as json_

    from tests.support.llm_servers import LlmServer, RecordedRequest, Reply

    key = "sk-form-test-0123456789"
    monkeypatch.setenv("MCPCTL_KEY_FORM", key)
    headers = {"content-type": "application/json"}

    def handler(req: RecordedRequest) -> Reply:
        ok = req.headers.get("authorization") == f"Bearer {key}"
        body = {"data": [{"id": "model-b"}, {"id": "model-a"}]} if ok else {"error": key}
        return Reply([json_.dumps(body).encode()], 200 if ok else 401, headers, framing="length")

    async with (
        LlmServer(handler) as srv,
        _demo_app(tmp_path, agent="ops") as (store, app),
        running(app) as pilot,
    ):
        before = await dump_store(store)
        ed = await open_editor(app, pilot, "llm", None)
        _fill(
            ed, name="probe", type="openai", url=srv.url + "/v1", api_key_ref="env:MCPCTL_KEY_FORM"
        )
        await pilot.press("ctrl+t")
        await wait_for(lambda: "Connected: 2 models: model-a, model-b" in screen_text(app))
        assert srv.requests[-1].path == "/v1/models"
        _fill(ed, api_key_ref="env:MCPCTL_KEY_NOT_SET")
        await pilot.click("#test")
        await wait_for(lambda: "Connection failed:" in screen_text(app))
        assert "MCPCTL_KEY_NOT_SET is not set" in screen_text(app)
        _fill(ed, api_key_ref="")
        await pilot.press("ctrl+t")
        await wait_for(lambda: "HTTP 401" in screen_text(app))
        assert key[:8] not in screen_text(app)
        assert app.screen is ed  # still editing; nothing was saved
        assert await dump_store(store) == before
