"""The web door's connection limits, over real sockets to the listener `python -m bot.web` runs (`bot.web.listen`):
silent, trickling and kept-alive-but-quiet clients are dropped, a trickled body gets 408, and beyond the
connection cap a new connection gets 503 (before the silent ones time out); and the web process itself with its
database hung. Without a limit the server would hold these clients until `DEADLINE_S` and the test fails."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import ClientSession

from bot.billing.simulate import event_id, signed
from bot.services import open_services
from bot.settings import Settings
from bot.web import Listener, WebLimits, listen
from db.base import utcnow
from tests.fakes.stalls import blackhole

SECRET = "pdl_ntfset_01improvtest_limits_secret"
HEADER_S = 0.5
BODY_S = 0.5
DEADLINE_S = 15.0  # a test gives up on the server after this: the limits above are what drops a client, and how
# soon is for the benchmarks; no test asserts a time


@asynccontextmanager
async def served(tmp_path: Path, *, max_connections: int = 100) -> AsyncIterator[Listener]:
    settings = Settings.embedded(tmp_path / "data", paddle_webhook_secret=[SECRET])
    limits = WebLimits(header_seconds=HEADER_S, body_seconds=BODY_S, max_connections=max_connections)
    async with open_services(settings) as services, listen(services, "127.0.0.1", 0, limits) as listener:
        yield listener


async def connect(listener: Listener) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(listener.host, listener.port)


async def read_until_closed(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection; TimeoutError if it is still open after
    `seconds`."""
    received = b""
    async with asyncio.timeout(seconds):
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(65536):
                received += chunk
    return received


async def until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - watching the server's own counters
            await asyncio.sleep(0.01)


async def test_silent_connections_are_dropped_after_the_header_timeout(tmp_path: Path) -> None:
    async with served(tmp_path) as listener:
        clients = [await connect(listener) for _ in range(50)]
        await until(lambda: listener.connections == 50)
        answers = await asyncio.gather(*(read_until_closed(r, DEADLINE_S) for r, _ in clients))
        assert answers == [b""] * 50  # dropped, not answered
        await until(lambda: listener.connections == 0)
        for _, writer in clients:
            writer.close()


async def test_trickled_headers_are_dropped(tmp_path: Path) -> None:
    async with served(tmp_path) as listener:
        reader, writer = await connect(listener)

        async def trickle() -> None:
            writer.write(b"POST /paddle/webhook HTTP/1.1\r\nHost: x\r\n")
            with contextlib.suppress(OSError):
                for i in range(100):  # 10 s of one header line every 0.1 s
                    writer.write(b"X-Slow-%d: a\r\n" % i)
                    await writer.drain()
                    await asyncio.sleep(0.1)

        sender = asyncio.create_task(trickle())
        try:
            await read_until_closed(reader, DEADLINE_S)
            assert not sender.done()  # still trickling when the server hung up
        finally:
            sender.cancel()
            writer.close()


async def test_a_kept_alive_connection_that_goes_quiet_is_dropped(tmp_path: Path) -> None:
    async with served(tmp_path) as listener:
        reader, writer = await connect(listener)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert b"connection: close" not in head.lower()  # HTTP/1.1: the connection stays open for the next
        writer.write(b"GET /healthz HTTP/1.1\r\n")  # the next request never finishes its headers
        rest = await read_until_closed(reader, DEADLINE_S)
        assert b"HTTP/1.1" not in rest.split(b"\r\n\r\n", 1)[-1]  # the second request was never answered
        writer.close()


async def test_a_trickled_body_gets_408_and_the_connection_closes(tmp_path: Path) -> None:
    async with served(tmp_path) as listener:
        reader, writer = await connect(listener)
        writer.write(
            b"POST /paddle/webhook HTTP/1.1\r\nHost: x\r\nPaddle-Signature: ts=1;h1=00\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"event_id":'
        )
        answer = await read_until_closed(reader, DEADLINE_S)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"body not received in time" in answer
        writer.close()


async def test_over_the_cap_a_new_connection_gets_503_at_once_until_slots_free_up(tmp_path: Path) -> None:
    async with served(tmp_path, max_connections=4) as listener, ClientSession() as http:
        silent = [await connect(listener) for _ in range(4)]
        await until(lambda: listener.connections == 4)
        async with http.get(listener.url + "/healthz") as resp:
            assert resp.status == 503
            assert (await resp.json())["error"] == "server busy"
        assert listener.refused >= 1
        await asyncio.gather(*(read_until_closed(r, DEADLINE_S) for r, _ in silent))
        await until(lambda: listener.connections == 0)
        async with http.get(listener.url + "/healthz") as resp:
            assert resp.status == 200
        for _, writer in silent:
            writer.close()


async def test_a_prompt_client_is_served_beside_slow_ones(tmp_path: Path) -> None:
    async with served(tmp_path, max_connections=8) as listener, ClientSession() as http:
        slow = [await connect(listener) for _ in range(3)]
        for _, writer in slow:
            writer.write(b"POST /paddle/webhook HTTP/1.1\r\n")
        async with http.get(listener.url + "/healthz") as resp:
            assert (resp.status, await resp.json()) == (200, {"ok": True, "database": True, "kv": True})
        for _, writer in slow:
            writer.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_web_process_with_a_hung_database_answers_in_time_and_drops_silent_clients(tmp_path: Path) -> None:
    async with blackhole() as hole, ClientSession() as http:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "OPENAI_", "PINECONE_", "PADDLE_"))}
        env.update(
            IMPROV_DATA_DIR=str(tmp_path / "data"),
            DATABASE_URL=f"postgresql://postgres@127.0.0.1:{hole.port}/improv_hung",
            REDIS_URL="",
            PADDLE_WEBHOOK_SECRET=SECRET,
            PORT=str(port),
            IMPROV_WEB_HOST="127.0.0.1",
            WEB_HEADER_TIMEOUT_SECONDS="1",
            IMPROV_LOG_LEVEL="ERROR",
        )
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.web", env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            async with asyncio.timeout(60):
                while True:
                    with contextlib.suppress(OSError):
                        async with http.get(url + "/healthz"):
                            break
                    await asyncio.sleep(0.2)
            async with http.get(url + "/healthz") as resp:
                assert (resp.status, await resp.json()) == (503, {"ok": False, "database": False, "kv": True})

            event = {
                "event_id": event_id(),
                "event_type": "payout.paid",
                "occurred_at": utcnow().isoformat(),
                "data": {},
            }
            body, header = signed(event, SECRET)
            async with http.post(url + "/paddle/webhook", data=body, headers={"Paddle-Signature": header}) as resp:
                assert resp.status == 503

            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await read_until_closed(reader, DEADLINE_S) == b""
            writer.close()
        finally:
            proc.terminate()
            await proc.wait()
