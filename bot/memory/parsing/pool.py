"""A small pool of warm worker processes that parse and chunk uploads, each file under a wall-clock limit and a
memory limit.

Why a process: the regex engine, lxml and PDFium hold the GIL, so parsing in a thread stops the event loop (and
every other guild's panic) for as long as one file takes; a process also gets its own address-space limit
(`RLIMIT_AS`) and can be killed. A worker that runs over its time, runs out of memory or dies is replaced; the
GM is told which file and which limit. Waiting on a worker happens in this pool's own threads (blocked in
`select`, the GIL released), so the event loop never waits.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.memory.chunking import Chunk
from bot.memory.errors import CorruptDocument
from bot.memory.parsing.limits import TookTooLong, TooLargeUnpacked
from bot.memory.parsing.sections import ProgressCallback
from bot.memory.parsing.worker import BOOTSTRAP, INCOMPLETE, take_message, write_message
from bot.sizes import format_bytes

__all__ = [
    "DEFAULT_PARSE_MEMORY_BYTES",
    "DEFAULT_PARSE_SECONDS",
    "ParsePool",
    "ParseResult",
    "TooLargeUnpacked",
    "TookTooLong",
    "shared_pool",
]

log = logging.getLogger(__name__)

DEFAULT_PARSE_SECONDS = 60.0
DEFAULT_PARSE_MEMORY_BYTES = 1024 * 1024 * 1024
_START_SECONDS = 30.0  # a worker that is not ready by then is broken (a healthy one starts in ~0.2 s)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A parsed and chunked file."""

    kind: str
    pages: int | None
    chunks: list[Chunk]
    characters: int  # of text, once unpacked (a compressed format may hold far more than its file size)


class _Killed(Exception):
    """The worker was stopped on purpose (cancelled import)."""


class _Worker:
    """One worker process and its pipes; used by one request at a time."""

    def __init__(self) -> None:
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-c", BOOTSTRAP],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            env=_worker_environment(),
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._requests: IO[bytes] = self.process.stdin
        self._replies: IO[bytes] = self.process.stdout
        self._buffer = bytearray()
        ready = self._next(time.monotonic() + _START_SECONDS, None)
        if not (isinstance(ready, tuple) and ready[0] == "ready"):
            self.kill()
            raise RuntimeError(f"parsing worker did not start: {ready!r}")
        self.start_seconds = time.perf_counter() - started
        log.debug("parsing worker %s ready in %.2f s", self.process.pid, self.start_seconds)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _next(self, deadline: float, cancel: threading.Event | None) -> Any:
        """The next message, or None when the worker died; `TimeoutError` past `deadline`.

        Reads the pipe unbuffered (a buffered reader could hold a whole message `select` no longer sees)."""
        fd = self._replies.fileno()
        while (message := take_message(self._buffer)) is INCOMPLETE:
            if cancel is not None and cancel.is_set():
                raise _Killed()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError()
            readable, _, _ = select.select([fd], [], [], min(remaining, 0.25))
            if readable:
                block = os.read(fd, 1 << 20)
                if not block:
                    return None
                self._buffer += block
        return message

    def run(
        self,
        request: tuple[str, bytes, str, int],
        seconds: float,
        on_page: ProgressCallback | None,
        cancel: threading.Event,
    ) -> Any:
        """Send one request and return the worker's final message (None when it died)."""
        deadline = time.monotonic() + seconds
        try:
            write_message(self._requests, request)
        except (BrokenPipeError, OSError):
            return None
        while True:
            message = self._next(deadline, cancel)
            if isinstance(message, tuple) and message[0] == "page":
                if on_page is not None:
                    on_page(message[1], message[2])
                continue
            return message

    def kill(self) -> None:
        """Stop the worker now and reap it."""
        if self.alive:
            self.process.kill()
        self.process.wait()
        for stream in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                stream.close()

    def close(self, timeout: float = 2.0) -> None:
        """Ask the worker to exit (its stdin closes), then kill it if it lingers."""
        with contextlib.suppress(OSError):
            self._requests.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        self.kill()


def _worker_environment() -> dict[str, str]:
    """This process's environment, with the directory holding the `bot` package first on the worker's path."""
    root = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class ParsePool:
    """`size` warm workers; `parse` waits for a free one (the wait does not count against the limit)."""

    def __init__(self, size: int = 1) -> None:
        self.size = max(1, size)
        # Exactly `size` tokens circulate: an idle worker, or None for a slot whose worker must be started.
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        for _ in range(self.size):
            self._idle.put(None)
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(8, 4 * self.size), thread_name_prefix="parse-wait"
        )
        self._lock = threading.Lock()
        self._workers: set[_Worker] = set()
        self._closed = False
        self.started = 0  # workers started so far (for tests and the benchmark)
        self.last_start_seconds: float | None = None

    def warm(self) -> None:
        """Start the missing workers now, in the background, so the next import need not wait for one."""
        for _ in range(self.size):
            self._threads.submit(self._warm_one)

    def _warm_one(self) -> None:
        try:
            self._idle.put(self._take())
        except Exception:
            log.exception("could not start a parsing worker")

    async def parse(
        self,
        file_name: str,
        data: bytes,
        document_id: str,
        *,
        seconds: float = DEFAULT_PARSE_SECONDS,
        memory_bytes: int = DEFAULT_PARSE_MEMORY_BYTES,
        on_page: ProgressCallback | None = None,
    ) -> ParseResult:
        """Parse and chunk `data` in a worker; `TookTooLong`, `TooLargeUnpacked` or the parser's `ImportProblem`."""
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._threads, self._run, (file_name, data, document_id, memory_bytes), seconds, on_page, cancel
        )
        future.add_done_callback(_consume)
        try:
            message = await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()  # the waiting thread kills the worker within a quarter of a second
            raise
        return _result(file_name, message, seconds, memory_bytes)

    def _run(
        self,
        request: tuple[str, bytes, str, int],
        seconds: float,
        on_page: ProgressCallback | None,
        cancel: threading.Event,
    ) -> Any:
        worker = self._take()
        try:
            message = worker.run(request, seconds, on_page, cancel)
        except TimeoutError:
            log.warning("parsing %s ran over %.0f s: worker %s killed", request[0], seconds, worker.process.pid)
            message = ("timeout",)
        except BaseException:
            self._replace(worker)
            raise
        if message is None or message == ("timeout",) or message == ("memory",) or not worker.alive:
            self._replace(worker)
        else:
            self._idle.put(worker)
        return message

    def _take(self) -> _Worker:
        """An idle worker (waiting for one), started if its slot has none."""
        worker = self._idle.get()
        if worker is not None and worker.alive:
            return worker
        try:
            return self._start()
        except BaseException:
            self._idle.put(None)
            raise

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker` and start its successor in the background."""
        worker.kill()
        with self._lock:
            self._workers.discard(worker)
            closed = self._closed
        self._idle.put(None)
        if not closed:
            self._threads.submit(self._warm_one)

    def _start(self) -> _Worker:
        worker = _Worker()
        with self._lock:
            if self._closed:
                worker.close()
                raise RuntimeError("parsing pool closed")
            self._workers.add(worker)
            self.started += 1
            self.last_start_seconds = worker.start_seconds
        return worker

    def close(self) -> None:
        """Stop every worker and the waiting threads."""
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.close()
        self._threads.shutdown(wait=False, cancel_futures=True)


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve a shielded future's outcome, so an abandoned one logs nothing."""
    if not future.cancelled():
        future.exception()


def _result(file_name: str, message: Any, seconds: float, memory_bytes: int) -> ParseResult:
    """The worker's final message as a result or the error the GM reads."""
    if message == ("timeout",):
        raise TookTooLong(file_name, seconds)
    if message == ("memory",):
        raise TooLargeUnpacked(file_name, f"reading it needs more than the {format_bytes(memory_bytes)} memory limit")
    if isinstance(message, tuple) and message[0] == "ok":
        _, kind, pages, chunks, characters = message
        return ParseResult(kind=kind, pages=pages, chunks=chunks, characters=characters)
    if isinstance(message, tuple) and message[0] == "problem":
        _, cls, args, state = message
        problem = cls.__new__(cls)
        problem.args = args
        problem.__dict__.update(state)
        raise problem
    if isinstance(message, tuple) and message[0] == "error":
        log.error("parsing %s failed in the worker: %s", file_name, message[1])
    else:
        log.error("parsing worker died while reading %s", file_name)
    raise CorruptDocument(file_name, _kind_name(file_name))


def _kind_name(file_name: str) -> str:
    suffix = os.path.splitext(file_name)[1].lower()
    return {".pdf": "PDF", ".docx": "Word (.docx)"}.get(suffix, "text")


_shared: ParsePool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ParsePool:
    """This process's pool (one worker per spare core, at least one, at most two), started warm on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ParsePool(size=min(2, max(1, (os.cpu_count() or 2) - 1)))
            _shared.warm()
            atexit.register(_shared.close)
        return _shared
