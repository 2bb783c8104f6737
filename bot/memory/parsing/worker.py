"""The parsing worker process: reads one request at a time from stdin, parses and chunks it under a memory limit,
and writes progress and the result to stdout (see `bot.memory.parsing.pool`, which starts and limits it).

Started as `python -c BOOTSTRAP`: a fresh interpreter (no event loop or threads of the bot inherited) that
imports only parsing and chunking. Messages both ways are an 8-byte length and a pickle; the worker exits when
its stdin closes (the bot stopped) and after running out of memory (its heap is not to be trusted again).
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import signal
import struct
import sys
import traceback
from typing import IO, Any

__all__ = ["BOOTSTRAP", "INCOMPLETE", "read_message", "serve", "take_message", "write_message"]

log = logging.getLogger(__name__)

# `bot.memory`'s __init__ imports the whole memory stack (SQLAlchemy, numpy: 0.4 s and 40 MB more); the worker
# needs only its parsing and chunking modules, so the package is registered without running its __init__.
BOOTSTRAP = """
import pathlib, sys, types
import bot
package = types.ModuleType("bot.memory")
package.__path__ = [str(pathlib.Path(bot.__file__).parent / "memory")]
sys.modules["bot.memory"] = package
from bot.memory.parsing.worker import serve
serve()
"""

_HEADER = struct.Struct("!Q")


def write_message(stream: IO[bytes], message: object) -> None:
    """Write one length-prefixed pickle and flush."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def read_message(stream: IO[bytes]) -> Any:
    """Read one length-prefixed pickle; None at end of stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return pickle.loads(payload)


INCOMPLETE = object()


def take_message(buffer: bytearray) -> Any:
    """Remove and return the first whole message in `buffer`; `INCOMPLETE` while it is not all there."""
    if len(buffer) < _HEADER.size:
        return INCOMPLETE
    (size,) = _HEADER.unpack_from(buffer)
    end = _HEADER.size + size
    if len(buffer) < end:
        return INCOMPLETE
    message = pickle.loads(bytes(buffer[_HEADER.size : end]))
    del buffer[:end]
    return message


def _set_memory_limit(limit: int) -> None:
    """Cap the address space for the next file (the soft limit; the hard one stays so it can be raised)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY and (limit == resource.RLIM_INFINITY or limit > hard):
        limit = hard
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def serve() -> None:
    """The worker's loop: a request is (file name, bytes, document id, memory limit in bytes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the bot's terminal is the bot's to handle
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the protocol
    requests = sys.stdin.buffer

    import docx  # noqa: F401  (warm: the first DOCX or PDF need not import them)
    import pypdfium2  # noqa: F401

    from bot.memory.chunking import chunk_document
    from bot.memory.errors import ImportProblem
    from bot.memory.parsing import parse_document

    write_message(out, ("ready", os.getpid()))
    while (request := read_message(requests)) is not None:
        file_name, data, document_id, memory_limit = request
        _set_memory_limit(memory_limit)
        doc = None
        try:
            doc = parse_document(file_name, data, on_page=lambda done, total: write_message(out, ("page", done, total)))
            chunks = chunk_document(doc, document_id)
            kind, pages, characters = doc.kind, doc.pages, doc.characters
            data, doc = b"", None
            write_message(out, ("ok", kind, pages, chunks, characters))
        except MemoryError:
            data = doc = None
            _set_memory_limit(resource.RLIM_INFINITY)
            write_message(out, ("memory",))
            return
        except ImportProblem as exc:
            write_message(out, ("problem", type(exc), exc.args, dict(exc.__dict__)))
        except Exception as exc:  # a bug or a library failing on odd input: the parent logs it, the GM is told
            traceback.print_exc(file=sys.stderr)
            write_message(out, ("error", f"{type(exc).__name__}: {exc}"))
        finally:
            _set_memory_limit(resource.RLIM_INFINITY)
