"""UI benchmark: streaming render, following, latency, start-up, thread open, memory.

    .venv/bin/python -m bench.ui            # every phase, each in its own process

A real HTTP server on 127.0.0.1 (tests/support/llm_servers.py) streams an OpenAI-format
reply into the running app (headless ``run_test``, 120x40) through the real ChatService
and OpenAI adapter. Figures are printed with their targets and as ratios against
baselines measured in the same run (2,000 vs 8,000 chunks; empty store vs 100,000
messages).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = (120, 40)
LAST_SENTENCE = "That is the whole runbook, end of reply."


# --- the reply ------------------------------------------------------------------------


def markdown_reply(chunks: int) -> list[str]:
    """A long Markdown reply (headings, lists, code fences) cut into 4-5 character chunks."""
    parts: list[str] = []
    k = 0
    target = chunks * 4.5
    while sum(len(p) for p in parts) < target - 200:
        k += 1
        parts.append(
            f"## Step {k}: check the service\n\n"
            f"Look at the **dashboard** for service {k} and note the `p95` latency.\n\n"
            f"- restart worker {k} if it is stuck\n"
            f"- drain the queue `jobs-{k}` first\n"
            f"- keep an eye on the error rate\n\n"
            f"```bash\nkubectl rollout restart deploy/svc-{k}\n"
            f"kubectl get pods -l app=svc-{k}\n```\n\n"
        )
    out = chunked("".join(parts) + LAST_SENTENCE + "\n")
    # Stretch or shrink to exactly ``chunks`` pieces by merging at the front.
    while len(out) > chunks:
        out[0:2] = [out[0] + out[1]]
    return out


def code_reply(lines: int) -> list[str]:
    """One fenced Python block of ``lines`` lines, then the last sentence, in 4-5 character
    chunks: a model writing out a whole file."""
    body = "".join(
        f"    total_{i} = compute(items[{i}], limit={i % 7}, name='step {i}')  # line {i}\n"
        for i in range(lines)
    )
    return chunked(f"Here is the file:\n\n```python\ndef main():\n{body}```\n\n{LAST_SENTENCE}\n")


def chunked(text: str) -> list[str]:
    """``text`` in pieces of 5 and 4 characters, alternately, as a model streams tokens."""
    out: list[str] = []
    i = n = 0
    while i < len(text):
        size = 4 if n % 2 else 5
        out.append(text[i : i + size])
        i += size
        n += 1
    return out


# --- a store for the app --------------------------------------------------------------


async def make_store(path: Path, llm_url: str, *, messages: int = 0) -> tuple[Any, int, int | None]:
    """A SQLite store with one OpenAI-type LLM at ``llm_url`` and agent ``bench``.

    With ``messages``: 20 agents, their threads, and one 10,000-turn thread on ``bench``
    (the rest spread over 500-turn threads). Returns (store, agent id, big thread id).
    """
    from mcpctl_tui.store.engine import open_store
    from mcpctl_tui.store.types import utcnow
    from tests.support.seed import add_agent, add_llm, add_thread

    store = await open_store(f"sqlite+aiosqlite:///{path}")
    big: int | None = None
    async with store.transaction() as s:
        llm = await add_llm(s, "bench-llm", type="openai", model="bench", url=llm_url)
        agent = await add_agent(s, "a-bench", llm.id, system_prompt="You are a benchmark.")
        agent_id = agent.id
        if messages:
            others = [await add_agent(s, f"agent-{i:02d}", llm.id) for i in range(19)]
            now = utcnow()
            remaining = messages
            # The 10,000-turn thread, and a newer 20-turn one the app opens at start.
            sizes = [10_000, 20]
            remaining -= 10_020
            while remaining > 0:
                sizes.append(min(500, remaining))
                remaining -= sizes[-1]
            owners = [agent_id, agent_id]
            owners += [others[i % len(others)].id for i in range(len(sizes) - 2)]
            for n, (size, owner) in enumerate(zip(sizes, owners, strict=True)):
                at = now + timedelta(seconds=1) if n == 1 else now  # the newer small one
                rows = [
                    {
                        "role": "user" if j % 2 == 0 else "assistant",
                        "content": f"turn {j}: " + ("some words " * 12),
                        "created_at": now,
                    }
                    for j in range(size)
                ]
                t = await add_thread(s, owner, rows, title=f"thread {n}", created_at=at)
                if n == 0:
                    big = t.id
    return store, agent_id, big


async def store_for(path: Path, llm_url: str, *, messages: int) -> tuple[Any, int, int | None]:
    """``make_store``, with a big database written by a child process: filling 100,000 rows
    here would leave its allocations in this process's RSS, which the memory figure is of."""
    if not messages:
        return await make_store(path, llm_url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ui",
        "--make-db",
        str(path),
        llm_url,
        str(messages),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"building the {messages:,}-message database failed")
    aid, big = json.loads(stdout.decode().strip().splitlines()[-1])
    from mcpctl_tui.store.engine import open_store

    return await open_store(f"sqlite+aiosqlite:///{path}"), aid, big


async def _make_db(path: str, llm_url: str, messages: int) -> list[int | None]:
    store, aid, big = await make_store(Path(path), llm_url, messages=messages)
    await store.close()
    return [aid, big]


# --- helpers --------------------------------------------------------------------------


async def until(cond: Callable[[], bool], limit: float = 120.0, step: float = 0.002) -> float:
    start = time.perf_counter()
    while not cond():
        if time.perf_counter() - start > limit:
            raise TimeoutError("condition not met")
        await asyncio.sleep(step)
    return time.perf_counter()


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class Sampler:
    """Peak RSS, sampled while something runs."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            await asyncio.sleep(0.01)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> float:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self.peak = max(self.peak, rss_mb())
        return self.peak


def reply_done(app: Any) -> bool:
    from mcpctl_tui.ui.chat.turns import AssistantTurn

    turn = app.main.panel.chat.last_assistant()
    return (
        isinstance(turn, AssistantTurn)
        and app.main.panel.reply_stream is None
        and turn.markdown.source.rstrip().endswith(LAST_SENTENCE)
    )


def last_sentence_visible(app: Any) -> bool:
    """The reply's last block holds the last sentence and is inside the chat's viewport."""
    turn = app.main.panel.chat.last_assistant()
    if turn is None or not turn.markdown.children:
        return False
    block = turn.markdown.children[-1]
    content = getattr(block, "_content", None)
    if content is None or LAST_SENTENCE not in content.plain:
        return False
    chat_region = app.main.panel.chat.region
    return (bool(block.region) and chat_region.contains_region(block.region)) or (
        bool(block.region)
        and block.region.bottom <= chat_region.bottom
        and block.region.y >= chat_region.y
    )


async def with_app(
    store: Any, fn: Callable[[Any, Any], Awaitable[dict[str, Any]]], **app_kw: Any
) -> dict[str, Any]:
    from mcpctl_tui.chat.service import ChatService
    from mcpctl_tui.ui.app import McpctlApp

    service = ChatService(store)
    try:
        app = McpctlApp(store, service, **app_kw)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: app.main.panel.chat.turns or app.main.panel.chat.query(".hint"))
            await pilot.pause()
            return await fn(app, pilot)
    finally:
        await service.aclose()


async def send(app: Any, pilot: Any, text: str) -> tuple[float, asyncio.Task[None]]:
    """Type ``text``; press Enter. The clock starts at the key press; the press runs as a
    task because ``pilot.press`` itself waits for the app to go idle."""
    app.main.panel.chat_input.text = text
    app.main.panel.chat_input.focus()
    await pilot.pause()
    t0 = time.perf_counter()
    return t0, asyncio.create_task(pilot.press("enter"))


def screen_text(app: Any) -> str:
    import html
    import re

    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


# --- phases ---------------------------------------------------------------------------


async def phase_render(
    chunks: int, *, big_thread: bool = False, code_lines: int = 0
) -> dict[str, Any]:
    """Send; time until the whole reply is on screen; check the view followed; peak RSS.
    With ``code_lines``: the reply is one code block that long instead."""
    from tests.support.llm_servers import LlmServer, Reply, openai_events

    pieces = code_reply(code_lines) if code_lines else markdown_reply(chunks)
    reply = Reply(openai_events(pieces), flush_each=False)
    with tempfile.TemporaryDirectory() as d:
        async with LlmServer(reply) as srv:
            store, aid, big = await store_for(
                Path(d) / "b.db", srv.url, messages=100_000 if big_thread else 0
            )
            try:

                async def run(app: Any, pilot: Any) -> dict[str, Any]:
                    if big is not None:
                        app.main.jump_to_thread(aid, big)
                        await until(
                            lambda: any(
                                t.row is not None and t.row.turn_index == 9_999
                                for t in app.main.panel.chat.turns
                            )
                        )
                        await pilot.pause()
                    sampler = Sampler()
                    sampler.start()
                    t0, press = await send(app, pilot, "Write the runbook.")
                    t1 = await until(lambda: last_sentence_visible(app))
                    t2 = await until(lambda: reply_done(app))
                    peak = await sampler.stop()
                    await press
                    await pilot.pause()
                    shot = screen_text(app)
                    return {
                        "chunks": len(pieces),
                        "chars": sum(map(len, pieces)),
                        "seconds": t1 - t0,
                        "stored_s": t2 - t0,
                        "followed": app.main.panel.chat.scroll_y
                        >= app.main.panel.chat.max_scroll_y - 1,
                        "last_sentence_on_screen": LAST_SENTENCE.split(",")[0] in shot,
                        "flushes": None,
                        "peak_rss_mb": peak,
                    }

                return await with_app(store, run)
            finally:
                await store.close()


async def phase_paced(chunks: int = 300, rate: float = 100.0) -> dict[str, Any]:
    """100 chunks/s: per-chunk arrival-to-screen latency, and key-press latency meanwhile.

    A chunk arrives when the chat view is handed it; it is on screen when the first frame
    after its update leaves the compositor. (Not ``call_after_refresh``: that waits for an
    idle screen with nothing left to paint, which a streaming screen seldom is.)"""
    from textual.screen import Screen

    from mcpctl_tui.ui.chat import stream as stream_mod
    from tests.support.llm_servers import LlmServer, Reply, openai_events

    pieces = markdown_reply(chunks)
    reply = Reply(openai_events(pieces), delay=1 / rate, flush_each=True)
    chunk_lat: list[float] = []
    key_lat: list[float] = []
    orig_write = stream_mod.CoalescingMarkdownStream.feed
    orig_flush = stream_mod.CoalescingMarkdownStream._flush
    orig_paint = Screen._compositor_refresh
    arrivals: list[float] = []  # chunks written, not yet on the widget
    applied: list[float] = []  # chunks on the widget, not yet painted

    def write(self: Any, fragment: str) -> None:
        arrivals.append(time.perf_counter())
        orig_write(self, fragment)

    def flush(self: Any) -> None:
        n = len(self._batch)
        orig_flush(self)
        applied.extend(arrivals[:n])
        del arrivals[:n]

    def paint(self: Any) -> None:
        # A frame leaves the compositor: every chunk applied before it is on screen.
        orig_paint(self)
        if applied and self is self.app.screen:
            now = time.perf_counter()
            chunk_lat.extend(now - t for t in applied)
            applied.clear()

    stream_mod.CoalescingMarkdownStream.feed = write  # type: ignore[method-assign]
    stream_mod.CoalescingMarkdownStream._flush = flush  # type: ignore[method-assign]
    Screen._compositor_refresh = paint  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as d:
            async with LlmServer(reply) as srv:
                store, _aid, _ = await make_store(Path(d) / "p.db", srv.url)
                try:

                    async def run(app: Any, pilot: Any) -> dict[str, Any]:
                        _t0, press = await send(app, pilot, "Write the runbook.")
                        await press
                        await until(
                            lambda: app.main.panel.streaming and bool(arrivals or chunk_lat)
                        )
                        app.main.panel.chat_input.focus()
                        presses = []
                        while app.main.panel.streaming:
                            before = app.main.panel.chat_input.text
                            t0 = time.perf_counter()
                            # Not awaited: pilot.press waits for the app to go idle.
                            presses.append(asyncio.create_task(pilot.press("x")))
                            await until(
                                lambda b=before: app.main.panel.chat_input.text != b, limit=5
                            )
                            key_lat.append(time.perf_counter() - t0)
                            await asyncio.sleep(0.1)
                        await asyncio.gather(*presses)
                        await until(lambda: reply_done(app))
                        return {}

                    await with_app(store, run)
                finally:
                    await store.close()
    finally:
        stream_mod.CoalescingMarkdownStream.feed = orig_write  # type: ignore[method-assign]
        stream_mod.CoalescingMarkdownStream._flush = orig_flush  # type: ignore[method-assign]
        Screen._compositor_refresh = orig_paint  # type: ignore[method-assign]
    chunk_lat.sort()
    key_lat.sort()

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else float("nan")

    return {
        "chunks": len(chunk_lat),
        "chunk_p50_ms": pct(chunk_lat, 0.5),
        "chunk_p95_ms": pct(chunk_lat, 0.95),
        "chunk_max_ms": pct(chunk_lat, 1.0),
        "keys": len(key_lat),
        "key_p50_ms": pct(key_lat, 0.5),
        "key_p95_ms": pct(key_lat, 0.95),
    }


STARTUP_ROUNDS = 5


async def phase_startup() -> dict[str, Any]:
    """From constructing the app to its first frame, and to its data on screen: an empty
    store against one of 100,000 messages, in alternating rounds after one warm-up of each,
    so both see the same machine (medians of the rounds)."""
    from mcpctl_tui.store.engine import open_store

    with tempfile.TemporaryDirectory() as d:
        # An empty store: no LLM, no agent (the welcome view).
        empty = await open_store(f"sqlite+aiosqlite:///{Path(d) / 'empty.db'}")
        full, aid, big = await store_for(
            Path(d) / "full.db", "http://127.0.0.1:9", messages=100_000
        )
        runs: dict[str, list[tuple[float, float, float | None]]] = {"empty": [], "full": []}
        try:
            for round_ in range(STARTUP_ROUNDS + 1):
                for name, store, big_id in (("empty", empty, None), ("full", full, big)):
                    result = await one_startup(store, aid, big_id)
                    if round_:  # the first round warms imports and caches up
                        runs[name].append(result)
        finally:
            await empty.close()
            await full.close()
    out: dict[str, Any] = {}
    for name, results in runs.items():
        out[name] = {
            "startup_s": statistics.median(r[0] for r in results),
            "shown_s": statistics.median(r[1] for r in results),
        }
    out["full"]["open_10k_thread_ms"] = statistics.median(
        r[2] for r in runs["full"] if r[2] is not None
    )
    return out


async def one_startup(store: Any, aid: int, big: int | None) -> tuple[float, float, float | None]:
    from textual.screen import Screen

    from mcpctl_tui.chat.service import ChatService
    from mcpctl_tui.ui.app import McpctlApp

    service = ChatService(store)
    opened: float | None = None
    painted: list[float] = []
    orig_paint = Screen._compositor_refresh

    def paint(self: Any) -> None:
        # The first frame out of the compositor (``call_after_refresh`` would wait for an
        # idle screen, which a screen still loading its panes is not).
        orig_paint(self)
        if not painted:
            painted.append(time.perf_counter() - t0)

    Screen._compositor_refresh = paint  # type: ignore[method-assign]
    t0 = time.perf_counter()
    app = McpctlApp(store, service)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(
                lambda: bool(app.main.panel.chat.turns or app.main.panel.chat.query(".hint"))
            )
            shown = time.perf_counter() - t0
            await pilot.pause()
            if big is not None:
                # Open the 10,000-turn thread from the agent's other thread, as a click does.
                await until(
                    lambda: app.main.state.thread_id is not None and app.main.state.thread_id != big
                )
                t1 = time.perf_counter()
                app.main.panel.open_thread(big)
                await until(lambda: shows_turn(app, 9_999))
                opened = (time.perf_counter() - t1) * 1000
    finally:
        Screen._compositor_refresh = orig_paint  # type: ignore[method-assign]
    await service.aclose()
    return painted[0], shown, opened


def shows_turn(app: Any, index: int) -> bool:
    turns = app.main.panel.chat.turns
    return (
        bool(turns)
        and turns[-1].row is not None
        and turns[-1].row.turn_index == index
        and (last_turn_visible(app))
    )


def last_turn_visible(app: Any) -> bool:
    turns = app.main.panel.chat.turns
    if not turns:
        return False
    r = turns[-1].region
    return (
        bool(r) and r.y >= app.main.panel.chat.region.y and r.y < app.main.panel.chat.region.bottom
    )


PHASES: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    "render2000": lambda: phase_render(2_000),
    "render8000": lambda: phase_render(8_000),
    "render8000big": lambda: phase_render(8_000, big_thread=True),
    "paced": lambda: phase_paced(),
    "code250": lambda: phase_render(0, code_lines=250),
    "code1000": lambda: phase_render(0, code_lines=1000),
    "startup": phase_startup,
}


def run_phase(name: str) -> dict[str, Any]:
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-m", "bench.ui", "--phase", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if out.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def verdict(ok: bool) -> str:
    return "ok  " if ok else "MISS"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", choices=sorted(PHASES))
    ap.add_argument("--make-db", nargs=3, metavar=("PATH", "LLM_URL", "MESSAGES"))
    args = ap.parse_args()
    if args.make_db:
        path, llm_url, messages = args.make_db
        print(json.dumps(asyncio.run(_make_db(path, llm_url, int(messages)))), flush=True)
        os._exit(0)
    if args.phase:
        print(json.dumps(asyncio.run(PHASES[args.phase]())), flush=True)
        # Skip interpreter teardown: a phase is done once its figures are out, and a
        # straggling driver thread at exit must not stall the whole run.
        os._exit(0)
    r2 = run_phase("render2000")
    r8 = run_phase("render8000")
    rb = run_phase("render8000big")
    pc = run_phase("paced")
    c1 = run_phase("code250")
    c4 = run_phase("code1000")
    st = run_phase("startup")
    s0, s1 = st["empty"], st["full"]
    ratio = r8["seconds"] / r2["seconds"]
    print(f"render  2,000 chunks ({r2['chars']:,} chars): {r2['seconds']:.2f} s")
    print(
        f"render  8,000 chunks ({r8['chars']:,} chars): {r8['seconds']:.2f} s"
        f"   {verdict(r8['seconds'] <= 3.0)} target <= 3 s"
    )
    print(f"ratio   8,000 / 2,000: {ratio:.2f}x   {verdict(ratio <= 4.5)} target <= 4.5x")
    for label, r in (("2,000", r2), ("8,000", r8), ("8,000 + 10k thread", rb)):
        print(
            f"follow  {label}: at bottom={r['followed']} last sentence on screen="
            f"{r['last_sentence_on_screen']}   "
            f"{verdict(r['followed'] and r['last_sentence_on_screen'])}"
        )
    print(
        f"paced   100 chunks/s: chunk->screen p50 {pc['chunk_p50_ms']:.1f} ms, p95 "
        f"{pc['chunk_p95_ms']:.1f} ms, max {pc['chunk_max_ms']:.1f} ms ({pc['chunks']} chunks)"
        f"   {verdict(pc['chunk_max_ms'] <= 50)} target each <= 50 ms"
    )
    print(
        f"keys    while streaming: p50 {pc['key_p50_ms']:.1f} ms, p95 {pc['key_p95_ms']:.1f} ms"
        f" ({pc['keys']} presses)   {verdict(pc['key_p95_ms'] <= 50)} target p95 <= 50 ms"
    )
    cr = c4["seconds"] / c1["seconds"]
    print(
        f"code    one code block streamed: 250 lines {c1['seconds']:.2f} s, 1,000 lines "
        f"{c4['seconds']:.2f} s; ratio {cr:.2f}x   {verdict(cr <= 4.5)} linear: <= 4.5x"
    )
    sr = s1["startup_s"] / s0["startup_s"]
    print(
        f"startup to first paint (median of {STARTUP_ROUNDS} alternating rounds): empty store "
        f"{s0['startup_s'] * 1000:.0f} ms; 100,000 messages "
        f"{s1['startup_s'] * 1000:.0f} ms; ratio {sr:.2f}x   {verdict(sr <= 1.5)} target <= 1.5x"
    )
    dr = s1["shown_s"] / s0["shown_s"]
    print(
        f"startup to data shown (welcome vs last turns of the newest thread): "
        f"{s0['shown_s'] * 1000:.0f} ms vs {s1['shown_s'] * 1000:.0f} ms; ratio {dr:.2f}x"
    )
    print(
        f"open    10,000-turn thread, last turn shown: {s1['open_10k_thread_ms']:.0f} ms"
        f"   {verdict(s1['open_10k_thread_ms'] <= 150)} target <= 150 ms"
    )
    print(
        f"memory  peak RSS, 8,000-chunk reply with the 10k thread open: {rb['peak_rss_mb']:.0f} MB"
        f" (8,000 alone: {r8['peak_rss_mb']:.0f} MB)   {verdict(rb['peak_rss_mb'] <= 150)}"
        f" target <= 150 MB; 8,000+10k took {rb['seconds']:.2f} s"
    )


if __name__ == "__main__":
    main()
