"""The shared httpx client: a short connect timeout, a long wait between chunks.

A slow first token is normal (a big prompt, a cold model), so the read timeout, which
httpx applies to each read and not to the whole reply, is long; an unreachable host
should fail fast, so connect is short.
"""

from __future__ import annotations

import functools
import ssl

import httpx

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0
WRITE_TIMEOUT = 30.0
POOL_TIMEOUT = 30.0


def default_timeout() -> httpx.Timeout:
    return httpx.Timeout(
        connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, write=WRITE_TIMEOUT, pool=POOL_TIMEOUT
    )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes milliseconds; do it once per process, not per client.
    return httpx.create_ssl_context()


def make_client(
    *, timeout: httpx.Timeout | None = None, max_connections: int = 20
) -> httpx.AsyncClient:
    """A client for adapters. The caller owns it and closes it (``await client.aclose()``).

    Long-lived callers (ChatService, a provider session) make one and pass it to every
    ``adapter.stream(..., client=...)`` so connections are reused. Environment proxies
    (HTTPS_PROXY, NO_PROXY) are honoured as httpx does by default.
    """
    return httpx.AsyncClient(
        timeout=timeout or default_timeout(),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=10),
        verify=_ssl_context(),
        follow_redirects=False,
    )
