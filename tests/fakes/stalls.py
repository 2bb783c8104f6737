"""Loopback TCP servers that misbehave the way hung services do: one that accepts and never answers, and a proxy to
a real server that can be frozen (bytes stop flowing both ways; new connections are accepted and then stall)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["Blackhole", "FreezableProxy", "blackhole", "freezable_proxy"]


class Blackhole:
    """Accepts connections and never sends a byte (a hung PostgreSQL or Redis)."""

    def __init__(self) -> None:
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()


class FreezableProxy:
    """Forwards loopback connections to `target`; `freeze()` stops all traffic until `thaw()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def freeze(self) -> None:
        """Hold every byte in both directions, on open and on new connections."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Let traffic flow again."""
        self._flowing.set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        await self._flowing.wait()
        if self._closed:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        self._writers.add(server_w)
        pipes = [
            asyncio.create_task(self._pipe(client_r, server_w)),
            asyncio.create_task(self._pipe(server_r, client_w)),
        ]
        self._tasks.update(pipes)
        try:
            await asyncio.gather(*pipes)
        finally:
            self._tasks.difference_update(pipes)
            self._writers -= {client_w, server_w}

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening, drop every connection and stop forwarding."""
        self._closed = True
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        self._flowing.set()


@asynccontextmanager
async def blackhole() -> AsyncIterator[Blackhole]:
    """A started `Blackhole`, closed on exit."""
    hole = Blackhole()
    await hole.start()
    try:
        yield hole
    finally:
        await hole.close()


@asynccontextmanager
async def freezable_proxy(target: tuple[str, int]) -> AsyncIterator[FreezableProxy]:
    """A started `FreezableProxy` to `target`, closed on exit."""
    proxy = FreezableProxy(target)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
