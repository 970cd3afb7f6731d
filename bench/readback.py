"""Reading a long thread back: peak memory of the sliding chat window.

    .venv/bin/python -m bench.readback

A 600-turn thread (markdown replies with a list and a code block, as agents write) is
opened in the app (headless, 120x40), then read back to its first turn by scrolling to the
top again and again, and down to the newest again, as a reader would. Each variant runs in
its own process: the window as shipped (at most ``KEEP`` turns mounted) against the same
app with the window unbounded (every turn read stays mounted), so the ratio is measured in
one run on one machine. Target: peak RSS <= 150 MB for the shipped window.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ui import SIZE, Sampler, rss_mb, until  # noqa: E402

TURNS = 600

REPLY = """Here is what I found for turn {j}:

- the **gateway** answers in 120 ms on average
- the *cache* hit rate is 93 %
- two hosts restarted last night

```python
def check(host: str) -> bool:
    return ping(host, timeout=2.0) and disk_free(host) > 0.1
```

That is the summary for this step; ask for the details of any host.
"""


async def _make(path: Path) -> tuple[Any, int]:
    from mcpctl_tui.store.engine import open_store
    from tests.support.seed import add_llm_agent, add_thread

    store = await open_store(f"sqlite+aiosqlite:///{path}")
    agent = (await add_llm_agent(store, llm="echo-local", agent="reader")).id
    rows = [
        {"role": "user", "content": f"question {j}: how is the fleet?"}
        if j % 2 == 0
        else {"role": "assistant", "content": REPLY.format(j=j)}
        for j in range(TURNS)
    ]
    await add_thread(store, agent, rows, title="long read")
    return store, agent


async def read_back(unbounded: bool) -> dict[str, Any]:
    from mcpctl_tui.ui import memory
    from mcpctl_tui.ui.app import McpctlApp
    from mcpctl_tui.ui.chat import view

    if unbounded:
        view.KEEP = 10**6  # every turn read stays mounted: what the window saves
    pauses: list[float] = []
    collect = memory.collect_young_widgets

    def timed_collect() -> None:  # what each slide's collection costs the reader
        t = time.perf_counter()
        collect()
        pauses.append(time.perf_counter() - t)

    memory.collect_young_widgets = timed_collect
    with tempfile.TemporaryDirectory() as d:
        store, _ = await _make(Path(d) / "read.db")
        memory.collect_and_freeze()
        base = rss_mb()
        sampler = Sampler()
        try:
            app = McpctlApp(store)
            async with app.run_test(size=SIZE) as pilot:
                chat = app.main.panel.chat
                await until(lambda: chat.has_older)  # the newest turns shown, more above
                sampler.start()
                t0 = time.perf_counter()
                while chat.has_older or chat.sliding:
                    chat.scroll_home(animate=False)
                    await pilot.pause(0.02)
                up_s = time.perf_counter() - t0
                most = len(chat.turns)
                t0 = time.perf_counter()
                while chat.has_newer or chat.sliding:
                    chat.scroll_end(animate=False)
                    await pilot.pause(0.02)
                    most = max(most, len(chat.turns))
                down_s = time.perf_counter() - t0
                first = chat.turns[0].turn_index
                peak = await sampler.stop()
        finally:
            await store.close()
    return {
        "peak_rss_mb": peak,
        "base_rss_mb": base,
        "up_s": up_s,
        "down_s": down_s,
        "most_mounted": most,
        "first_after": first,
        "collect_max_ms": max(pauses, default=0.0) * 1000,
        "collect_median_ms": statistics.median(pauses) * 1000 if pauses else 0.0,
    }


def run(variant: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.readback", "--variant", variant],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if out.returncode != 0:
        raise SystemExit(f"variant {variant} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", choices=["window", "unbounded"])
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(asyncio.run(read_back(args.variant == "unbounded"))), flush=True)
        os._exit(0)
    w = run("window")
    u = run("unbounded")
    ok = w["peak_rss_mb"] <= 150
    print(
        f"read back {TURNS} turns to the first and down again: window peak RSS "
        f"{w['peak_rss_mb']:.0f} MB (store opened: {w['base_rss_mb']:.0f} MB, at most "
        f"{w['most_mounted']} turns mounted; up {w['up_s']:.1f} s, down {w['down_s']:.1f} s)"
        f"   {'ok  ' if ok else 'MISS'} target <= 150 MB"
    )
    print(
        f"          collection while sliding (every 2nd slide): median "
        f"{w['collect_median_ms']:.0f} ms, max {w['collect_max_ms']:.0f} ms"
    )
    print(
        f"          unbounded (every turn read stays mounted): {u['peak_rss_mb']:.0f} MB, "
        f"{u['most_mounted']} turns mounted; up {u['up_s']:.1f} s, down {u['down_s']:.1f} s"
    )
    print(f"          ratio window / unbounded: {w['peak_rss_mb'] / u['peak_rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
