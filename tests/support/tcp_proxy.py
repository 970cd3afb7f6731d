"""A TCP proxy on 127.0.0.1 in front of a real server (PostgreSQL), for store outages.

``cut()`` resets every connection through it and refuses new ones (the database went
away); ``stall()`` keeps them open but passes nothing (it stopped answering);
``restore()`` undoes either. It runs in the test's event loop; the program under
test (``chat`` as a subprocess) reaches the database only through it.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit


def url_through(url: str, port: int) -> str:
    """``url`` (a database's) with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


async def proxy_to(url: str) -> TcpProxy:
    """A started proxy in front of ``url``'s server."""
    target = urlsplit(url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    return proxy


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.open = True
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.open = False
        for w in list(self._links):
            w.transport.abort()  # a reset, as when the server's machine goes away
        self._links.clear()

    def restore(self) -> None:
        self.open = True
        self._flowing.set()

    def stall(self) -> None:
        """Stop passing bytes either way, connections kept open: a server that stops
        answering (the network between went quiet), not one that went away."""
        self._flowing.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_w}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    await self._flowing.wait()
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        # Ended with the test's loop: done, not an error report from asyncio's streams.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(pump(reader, up_w), pump(up_r, writer))
        self._links -= {writer, up_w}
