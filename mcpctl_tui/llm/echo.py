"""The ``echo`` LLM: no network; it streams back exactly what it was given.

Operators use it to see what a personality injects. The reply is::

    <the system block, verbatim>
    ECHO_SEPARATOR
    <the last user message, verbatim>

The separator is always there (an empty system block shows as nothing before it), so
``reply.split(ECHO_SEPARATOR, 1)`` gives the two parts back exactly. Usage counts
whitespace-separated *words* (not model tokens): input = system block + every history
message, output = the words of the reply.

Params (for tests and demos; other keys are ignored): ``echo_chunk_chars`` (default 4),
``echo_delay`` seconds between chunks (default 0), ``echo_fail`` (a message: end with a
provider StreamError after the text instead of Finish).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from mcpctl_tui.llm.events import ErrorKind, Finish, StreamError, StreamEvent, TextDelta, Usage
from mcpctl_tui.llm.request import Endpoint, InferenceRequest

if TYPE_CHECKING:  # annotations only: an adapter that never dials need not load httpx
    import httpx

ECHO_SEPARATOR = "\n\n----- end of system block · last user message follows -----\n\n"
DEFAULT_CHUNK_CHARS = 4


def echo_text(request: InferenceRequest) -> str:
    """The whole reply the echo LLM gives for ``request``."""
    last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    return request.system + ECHO_SEPARATOR + last_user


def _words(text: str) -> int:
    return len(text.split())


class EchoAdapter:
    name = "echo"
    default_params: dict[str, Any] = {}
    dials = False

    def body(self, endpoint: Endpoint, request: InferenceRequest) -> dict[str, Any]:
        """No wire: what the echo model is given (and answers with)."""
        return {
            "system": request.system,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            **request.params,
        }

    async def stream(
        self,
        endpoint: Endpoint,
        request: InferenceRequest,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> AsyncIterator[StreamEvent]:
        text = echo_text(request)
        size = max(1, int(request.params.get("echo_chunk_chars", DEFAULT_CHUNK_CHARS)))
        delay = float(request.params.get("echo_delay", 0.0))
        for i in range(0, len(text), size):
            if delay:
                await asyncio.sleep(delay)
            elif i % (size * 256) == 0:
                await asyncio.sleep(0)  # let other tasks (the UI, Esc) run on long prompts
            yield TextDelta(text[i : i + size])
        words_in = _words(request.system) + sum(_words(m.content) for m in request.messages)
        yield Usage(input_tokens=words_in, output_tokens=_words(text))
        fail = request.params.get("echo_fail")
        if fail:
            yield StreamError(ErrorKind.PROVIDER, str(fail))
            return
        yield Finish("stop")
