"""The adapter protocol: what every wire format module provides."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from mcpctl_tui.llm.events import StreamEvent
from mcpctl_tui.llm.request import Endpoint, InferenceRequest

if TYPE_CHECKING:  # annotations only: an adapter that never dials need not load httpx
    import httpx


class Adapter(Protocol):
    """One wire format.

    ``stream`` is an async generator of typed events that ends after exactly one ``Finish``
    or ``StreamError``; it never raises for provider, network or protocol trouble (only
    ``asyncio.CancelledError`` propagates). Cancelling the consuming task, or closing the
    generator (``contextlib.aclosing``), closes the HTTP response at once. An injected
    ``client`` is reused and left open; without one the adapter makes and closes its own.
    """

    name: str
    default_params: dict[str, Any]
    dials: bool  # speaks HTTP: ``stream`` wants the shared client (echo does not)

    def body(self, endpoint: Endpoint, request: InferenceRequest) -> dict[str, Any]:
        """The JSON body ``stream`` would send (the context inspector shows it)."""
        ...

    def stream(
        self,
        endpoint: Endpoint,
        request: InferenceRequest,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> AsyncIterator[StreamEvent]: ...
