"""Racing operators: one OS process running a sequence of the operations that race on a
shared store, each through the path the app or the CLI runs.

``python -m tests.support.ops_race URL NAME OPS`` (``OPS``: a JSON list) opens its own
store, prints ``ready``, waits for a line on stdin, then runs each operation on agent
``a`` and prints one line per operation: ``ok OP`` or ``refused OP: MESSAGE`` (a store,
chat or manifest error: a message for the operator). Anything else is a crash: its
traceback goes to stderr and the process exits 1.

- ``apply``: ``apply -f`` of agent ``a`` with a personality and a prompt bound to it;
- ``delete``: ``delete agent a`` (its personalities, prompts, threads go with it);
- ``edit``: the editor's save: read agent ``a``'s document, change it, save it back;
- ``chat``: one message to ``a`` in a new thread through ``ChatService``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys

from mcpctl_tui.chat.errors import ChatError
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.config import DEFAULT_HEARTBEAT_TIMEOUT
from mcpctl_tui.llm.registry import known_types
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.errors import StoreError
from mcpctl_tui.store.manifest import ManifestError, apply_manifest
from mcpctl_tui.store.manifest.delete import delete_named
from mcpctl_tui.store.manifest.documents import Kind
from mcpctl_tui.ui.data import UiData

OPS = ("apply", "delete", "edit", "chat")
MANIFEST = """\
kind: agent
name: a
llm: echo
---
kind: prompt
name: house-rules
agent: a
content: Be brief.
---
kind: personality
name: terse
agent: a
prompts: [house-rules]
"""


async def run_op(store: Store, op: str, name: str, n: int) -> None:
    if op == "apply":
        await apply_manifest(store, [(None, MANIFEST)], llm_types=known_types())
    elif op == "delete":
        async with store.transaction() as s:
            await delete_named(s, Kind.AGENT, "a")
    elif op == "edit":
        data = UiData(store, heartbeat_timeout=DEFAULT_HEARTBEAT_TIMEOUT)
        doc = await data.document(Kind.AGENT, "a")
        await asyncio.sleep(0.01)  # the form is open: the store moves on meanwhile
        await data.save(dataclasses.replace(doc, description=f"{name}:{n}"), new=False)
    elif op == "chat":
        async with ChatService(store) as service:
            ended = await service.run_one_inference("a", f"{name}:{n}")
        if ended.error:
            raise ChatError(ended.error)
    else:
        raise ValueError(op)


async def main(url: str, name: str, ops: list[str]) -> None:
    store = await open_store(url)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        for n, op in enumerate(ops):
            try:
                await run_op(store, op, name, n)
                print(f"ok {op}", flush=True)
            except (StoreError, ChatError, ManifestError) as exc:
                print(f"refused {op}: {exc}", flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
