"""Setting up and checking the Pinecone indexes campaign memory writes to.

The bot speaks Pinecone's vectors API (`upsert`, `query`, `list`, `delete`), which serves a serverless index whose
schema is one dense field named `_values` (what `create(dimension=, metric=)` made before pinecone 10); an index
created with a schema of its own field names is a Documents-API index and refuses those calls. Vectors are
L2-normalised, so the metric is cosine, and the dimension is the embedder's (1536 for text-embedding-3-small, 384
for the bundled model).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "METRIC",
    "VECTORS_FIELD",
    "InitResult",
    "bare_host",
    "check_hosts",
    "describe_error",
    "init_index",
    "model_problem",
    "stats_problem",
]

log = logging.getLogger(__name__)

VECTORS_FIELD = "_values"  # the reserved schema field the vectors API reads dense values from
METRIC = "cosine"


def bare_host(host: str) -> str:
    """`host` without scheme, trailing slash or case, for comparing the hosts the API and settings spell."""
    return host.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")


def describe_error(exc: BaseException) -> str:
    """An SDK error in one line: HTTP status and Pinecone's message (never the key)."""
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"HTTP {status}: {message}" if status else f"{type(exc).__name__}: {message}"


def stats_problem(stats: Any, dimension: int) -> str | None:
    """What is wrong with an index for this bot, from its `describe_index_stats` answer (None: nothing seen)."""
    if stats.vector_type not in (None, "dense"):
        return f"it holds {stats.vector_type} vectors; the bot needs a dense index"
    if stats.dimension is not None and stats.dimension != dimension:
        return f"its dimension is {stats.dimension} but the configured embedder makes {dimension}-dimensional vectors"
    if stats.metric not in (None, METRIC):
        return f"it uses the {stats.metric} metric; the bot needs {METRIC}"
    return None


def model_problem(model: Any, dimension: int) -> str | None:
    """What is wrong with an index for this bot, from the control plane's description (None: it fits)."""
    fields = dict(model.schema.fields)
    if set(fields) != {VECTORS_FIELD}:
        names = ", ".join(sorted(fields)) or "none"
        return (
            f"index {model.name} is a Documents-API index (schema fields: {names}), which refuses the vectors API "
            "the bot uses; create a dense index with `improv pinecone init`"
        )
    spec = fields[VECTORS_FIELD]
    if getattr(spec, "dimension", None) is None:
        return f"index {model.name} is not a dense vector index; create one with `improv pinecone init`"
    if spec.dimension != dimension:
        return (
            f"index {model.name} has dimension {spec.dimension} but the configured embedder makes "
            f"{dimension}-dimensional vectors"
        )
    if spec.metric != METRIC:
        return f"index {model.name} uses the {spec.metric} metric; the bot needs {METRIC}"
    return None


async def check_hosts(client: Any, hosts: Sequence[str], dimension: int) -> list[str]:
    """One line per index host that does not fit (empty: all do), via `describe_index_stats` on every host and the
    control plane's index descriptions. A control plane that cannot be read (a key without that permission) is
    logged and the data-plane check stands alone."""
    models: dict[str, Any] | None = None
    try:
        models = {bare_host(m.host): m async for m in client.indexes.list() if m.host}
    except Exception as exc:
        log.warning(
            "could not list the Pinecone project's indexes (%s): index kinds not confirmed", describe_error(exc)
        )
    problems: list[str] = []
    for host in hosts:
        try:
            index = await client.index(host=host)
            async with index:
                stats = await index.describe_index_stats()
        except Exception as exc:
            problems.append(f"Pinecone index {host} did not answer describe_index_stats ({describe_error(exc)})")
            continue
        problem = stats_problem(stats, dimension)
        if problem is None and models is not None:
            model = models.get(bare_host(host))
            if model is None:
                problem = "no index of the API key's project has this host"
            else:
                problem = model_problem(model, dimension)
        if problem is not None:
            problems.append(f"Pinecone index {host}: {problem}")
    return problems


@dataclass(frozen=True, slots=True)
class InitResult:
    """What `init_index` found or made: the index's host, whether it was created now, and what does not fit."""

    name: str
    host: str
    created: bool
    problem: str | None


async def init_index(
    client: Any, name: str, dimension: int, *, cloud: str, region: str, wait_seconds: int | None = 300
) -> InitResult:
    """Create serverless dense index `name` (the vectors API: one `_values` field of `dimension`, cosine) in
    `cloud`/`region` and wait until it is ready (`wait_seconds`; None: as long as it takes); an index of that name that exists already is checked instead."""
    from pinecone.errors import ConflictError

    if not await client.indexes.exists(name):
        schema = {"fields": {VECTORS_FIELD: {"type": "dense_vector", "dimension": dimension, "metric": METRIC}}}
        deployment = {"deployment_type": "managed", "cloud": cloud, "region": region}
        try:
            model = await client.indexes.create(name=name, schema=schema, deployment=deployment, timeout=wait_seconds)
            return InitResult(model.name, model.host or "", True, None)
        except ConflictError:
            pass  # made meanwhile by someone else: check it like any existing index
    model = await client.indexes.describe(name)
    return InitResult(model.name, model.host or "", False, model_problem(model, dimension))
