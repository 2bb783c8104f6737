"""A loopback fake of Pinecone (control plane and vector data plane) that the real `pinecone` 10.x client talks to.

`FakePineconeProject` is the control plane (pass its `host` as `AsyncPinecone(host=...)`, i.e.
PINECONE_CONTROLLER_HOST): `GET /indexes`, `POST /indexes`, `GET /indexes/{name}`, `DELETE /indexes/{name}`,
answering with the 2026-07 index model (`schema.fields`, `deployment`, `status`). Each index it holds is a
`FakePineconeIndex`, one serverless index served by aiohttp on 127.0.0.1; pass its `host` to
`AsyncPinecone.index(host=...)`. Data-plane routes and bodies are what `pinecone.async_client.async_index` sends
(checked against pinecone 10.2.0): `POST /vectors/upsert`, `POST /query`, `POST /vectors/delete`,
`POST /vectors/update`, `GET /vectors/list`, `POST /describe_index_stats`, `DELETE /namespaces/{name}`.

An index created with a schema of exactly one dense field named `_values` (what the SDK's `dimension=` sugar
sends) serves the vectors API; any other schema makes a Documents-API index, which refuses every vectors-API
call with a 400, as the service does. Pinecone's limits are enforced with its error bodies (data plane:
`{"code", "message", "details"}`): at most 1,000 vectors and 2 MB per upsert request, metadata at most 40 KB
(40,960 bytes) per vector and no null values, the index dimension.
Reads see writes at once (the real service may lag; the code under test must not rely on either).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.fakes.loopback import serve_loopback

__all__ = ["API_KEY", "FakePineconeIndex", "FakePineconeProject", "running_indexes", "running_project"]

API_KEY = "pcsk_test_fake_key"
MAX_UPSERT_VECTORS = 1_000
MAX_REQUEST_BYTES = 2_000_000  # "2 MB"; the decimal reading is the stricter one
MAX_METADATA_BYTES = 40_960
VECTORS_FIELD = "_values"  # the schema field name the vectors API addresses dense values by
_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,43}[a-z0-9])?$")


@dataclass
class StoredVector:
    id: str
    values: list[float]
    metadata: dict[str, Any]


def _error(status: int, message: str, code: str = "INVALID_ARGUMENT") -> web.Response:
    """A control-plane error body (and the gateway's, for authentication)."""
    return web.json_response({"error": {"code": code, "message": message}, "status": status}, status=status)


_GRPC_CODES = {400: 3, 404: 5, 409: 6, 429: 8, 500: 13, 503: 14}


def _data_error(status: int, message: str) -> web.Response:
    """A data-plane error body, as the index hosts answer: `{"code": <gRPC code>, "message", "details"}`."""
    return web.json_response({"code": _GRPC_CODES.get(status, 2), "message": message, "details": []}, status=status)


def _match(metadata: dict[str, Any], flt: dict[str, Any]) -> bool:
    """Pinecone's metadata filter language (the operators the bot uses and a few more)."""
    for key, cond in flt.items():
        if key == "$and":
            if not all(_match(metadata, c) for c in cond):
                return False
            continue
        if key == "$or":
            if not any(_match(metadata, c) for c in cond):
                return False
            continue
        value = metadata.get(key)
        ops = cond if isinstance(cond, dict) else {"$eq": cond}
        for op, arg in ops.items():
            if op == "$eq":
                ok = key in metadata and value == arg
            elif op == "$ne":
                ok = value != arg
            elif op == "$in":
                ok = key in metadata and value in arg
            elif op == "$nin":
                ok = value not in arg
            elif op == "$exists":
                ok = (key in metadata) == bool(arg)
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                if not isinstance(value, int | float):
                    ok = False
                else:
                    ok = {
                        "$gt": value > arg,
                        "$gte": value >= arg,
                        "$lt": value < arg,
                        "$lte": value <= arg,
                    }[op]
            else:
                raise ValueError(f"unsupported filter operator {op}")
            if not ok:
                return False
    return True


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a)) or 1.0
    nb = math.sqrt(sum(y * y for y in b)) or 1.0
    return dot / (na * nb)


@dataclass
class FakePineconeIndex:
    """State and routes of one fake index (`kind` "documents": created with a schema of its own fields)."""

    dimension: int
    name: str = "improv-notes"
    metric: str = "cosine"
    kind: Literal["vectors", "documents"] = "vectors"
    api_key: str = API_KEY
    namespaces: dict[str, dict[str, StoredVector]] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, body bytes)
    fail_upsert: Callable[[dict[str, Any]], int | None] | None = None  # return a status to fail a request
    host: str = ""
    controller_host: str = ""  # the project's control plane, when the index belongs to a `FakePineconeProject`
    _runner: web.AppRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._auth, self._vectors_api])
        app.router.add_post("/vectors/upsert", self._upsert)
        app.router.add_post("/query", self._query)
        app.router.add_post("/vectors/delete", self._delete)
        app.router.add_post("/vectors/update", self._update)
        app.router.add_get("/vectors/list", self._list)
        app.router.add_post("/describe_index_stats", self._stats)
        app.router.add_delete("/namespaces/{name}", self._delete_namespace)
        self._runner, port = await serve_loopback(app)
        self.host = f"http://127.0.0.1:{port}"
        return self.host

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- helpers -------------------------------------------------------------------------------------------
    def vectors(self, namespace: str) -> dict[str, StoredVector]:
        return self.namespaces.get(namespace, {})

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.method, request.path, len(body)))
        if request.headers.get("Api-Key") != self.api_key:
            return _error(401, "Invalid API Key", "UNAUTHENTICATED")
        if not request.headers.get("X-Pinecone-Api-Version"):
            return _error(400, "missing X-Pinecone-Api-Version header")
        response: web.StreamResponse = await handler(request)
        return response

    @web.middleware
    async def _vectors_api(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """A Documents-API index answers the vectors API with a 400 (statistics work on every index)."""
        if self.kind == "documents" and request.path in _VECTORS_API:
            return _data_error(
                400,
                f"Index '{self.name}' is a document index (created with a schema): the vectors API is not "
                "supported on it. Read and write it through the documents API.",
            )
        response: web.StreamResponse = await handler(request)
        return response

    def model(self) -> dict[str, Any]:
        """This index as the control plane describes it (2026-07 index model)."""
        field_name = VECTORS_FIELD if self.kind == "vectors" else "embedding"
        fields: dict[str, Any] = {
            field_name: {"type": "dense_vector", "dimension": self.dimension, "metric": self.metric}
        }
        if self.kind == "documents":
            fields["chunk_text"] = {"type": "string", "full_text_search": {"language": "en"}}
        return {
            "name": self.name,
            "host": self.host,
            "status": {"ready": True, "state": "Ready"},
            "schema": {"fields": fields},
            "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
            "deletion_protection": "disabled",
            "tags": None,
        }

    async def _json(self, request: web.Request) -> dict[str, Any]:
        data = json.loads(await request.read() or b"{}")
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="body must be an object")
        return data

    # --- routes --------------------------------------------------------------------------------------------
    async def _upsert(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if len(raw) > MAX_REQUEST_BYTES:
            size = math.ceil(len(raw) / 1_000_000)
            return _data_error(400, f"Request size {size}MB exceeds the maximum supported size of 2MB")
        body = await self._json(request)
        if self.fail_upsert is not None:
            status = self.fail_upsert(body)
            if status is not None:
                return _data_error(status, "injected failure")
        vectors = body.get("vectors") or []
        if len(vectors) > MAX_UPSERT_VECTORS:
            return _data_error(
                400, f"Upsert batch of {len(vectors)} exceeds the maximum of {MAX_UPSERT_VECTORS} vectors"
            )
        staged: list[StoredVector] = []
        for item in vectors:
            values = item.get("values") or []
            if len(values) != self.dimension:
                return _data_error(
                    400, f"Vector dimension {len(values)} does not match the dimension of the index {self.dimension}"
                )
            if len(str(item.get("id", "")).encode()) > 512:
                return _data_error(400, "Vector ID must be at most 512 bytes long")
            metadata = item.get("metadata") or {}
            size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
            if size > MAX_METADATA_BYTES:
                return _data_error(
                    400,
                    f"metadata size is {size} bytes, which exceeds the limit of {MAX_METADATA_BYTES} bytes per vector",
                )
            for key, value in metadata.items():
                if value is None:
                    return _data_error(400, f"Metadata value for field '{key}' must not be null")
                if not isinstance(value, str | int | float | bool | list):
                    return _data_error(400, f"Metadata value for field '{key}' has an unsupported type")
            staged.append(StoredVector(str(item["id"]), [float(v) for v in values], dict(metadata)))
        space = self.namespaces.setdefault(body.get("namespace") or "__default__", {})
        for vector in staged:
            space[vector.id] = vector
        return web.json_response({"upsertedCount": len(staged)})

    async def _query(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        vector = body.get("vector")
        if not isinstance(vector, list) or len(vector) != self.dimension:
            return _data_error(
                400, f"Query vector dimension does not match the dimension of the index {self.dimension}"
            )
        top_k = int(body.get("topK", 10))
        flt = body.get("filter") or {}
        namespace = body.get("namespace") or "__default__"
        scored = [
            (_cosine(vector, v.values), v)
            for v in self.vectors(namespace).values()
            if not flt or _match(v.metadata, flt)
        ]
        scored.sort(key=lambda pair: (-pair[0], pair[1].id))
        matches = []
        for score, v in scored[:top_k]:
            match: dict[str, Any] = {"id": v.id, "score": score, "values": []}
            if body.get("includeMetadata"):
                match["metadata"] = v.metadata
            matches.append(match)
        return web.json_response(
            {"matches": matches, "namespace": body.get("namespace", ""), "usage": {"readUnits": 1}}
        )

    async def _delete(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        selectors = [k for k in ("ids", "deleteAll", "filter") if body.get(k)]
        if len(selectors) != 1:
            return _data_error(400, "exactly one of ids, deleteAll, filter is required")
        space = self.namespaces.get(body.get("namespace") or "__default__")
        if space is None:
            return _data_error(404, "Namespace not found")
        if body.get("deleteAll"):
            space.clear()
        elif body.get("ids"):
            if len(body["ids"]) > 1000:
                return _data_error(400, "at most 1000 ids per delete")
            for vid in body["ids"]:
                space.pop(vid, None)
        else:
            for vid in [vid for vid, v in space.items() if _match(v.metadata, body["filter"])]:
                del space[vid]
        return web.json_response({})

    async def _update(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        space = self.namespaces.get(body.get("namespace") or "__default__", {})
        set_metadata = body.get("setMetadata") or {}
        if any(v is None for v in set_metadata.values()):
            return _data_error(400, "Metadata values must not be null")
        if "id" in body:
            targets = [space[body["id"]]] if body["id"] in space else []
        else:
            targets = [v for v in space.values() if _match(v.metadata, body.get("filter") or {})]
        for v in targets:
            if body.get("values"):
                v.values = [float(x) for x in body["values"]]
            v.metadata.update(set_metadata)
        return web.json_response({"matchedRecords": len(targets)})

    async def _list(self, request: web.Request) -> web.Response:
        namespace = request.query.get("namespace") or "__default__"
        prefix = request.query.get("prefix", "")
        limit = int(request.query.get("limit", "100"))
        start = int(request.query.get("paginationToken", "0") or 0)
        ids = sorted(vid for vid in self.vectors(namespace) if vid.startswith(prefix))
        page = ids[start : start + limit]
        body: dict[str, Any] = {
            "vectors": [{"id": vid} for vid in page],
            "namespace": namespace,
            "usage": {"readUnits": 1},
        }
        if start + limit < len(ids):
            body["pagination"] = {"next": str(start + limit)}
        return web.json_response(body)

    async def _stats(self, request: web.Request) -> web.Response:
        namespaces = {name: {"vectorCount": len(space)} for name, space in self.namespaces.items() if space}
        return web.json_response(
            {
                "namespaces": namespaces,
                "dimension": self.dimension,
                "indexFullness": 0.0,
                "totalVectorCount": sum(len(s) for s in self.namespaces.values()),
                "metric": self.metric,
                "vectorType": "dense",
            }
        )

    async def _delete_namespace(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.namespaces:
            return _data_error(404, f"Namespace {name} not found")
        del self.namespaces[name]
        return web.json_response({})


_VECTORS_API = frozenset(
    {"/vectors/upsert", "/query", "/vectors/delete", "/vectors/update", "/vectors/list", "/vectors/fetch"}
)


@dataclass
class FakePineconeProject:
    """The control plane of one project: its indexes by name, each served by its own `FakePineconeIndex`."""

    api_key: str = API_KEY
    indexes: dict[str, FakePineconeIndex] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (method, path, JSON body)
    host: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/indexes", self._list)
        app.router.add_post("/indexes", self._create)
        app.router.add_get("/indexes/{name}", self._describe)
        app.router.add_delete("/indexes/{name}", self._delete)
        self._runner, port = await serve_loopback(app)
        self.host = f"http://127.0.0.1:{port}"
        return self.host

    async def stop(self) -> None:
        for index in self.indexes.values():
            await index.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def add_index(
        self,
        name: str,
        dimension: int,
        *,
        metric: str = "cosine",
        kind: Literal["vectors", "documents"] = "vectors",
    ) -> FakePineconeIndex:
        """An index that exists already (made in the console, or by another tool)."""
        index = FakePineconeIndex(
            dimension=dimension, name=name, metric=metric, kind=kind, api_key=self.api_key, controller_host=self.host
        )
        await index.start()
        self.indexes[name] = index
        return index

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append((request.method, request.path, json.loads(raw) if raw else {}))
        if request.headers.get("Api-Key") != self.api_key:
            return _error(401, "Invalid API Key", "UNAUTHENTICATED")
        response: web.StreamResponse = await handler(request)
        return response

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"indexes": [i.model() for i in self.indexes.values()]})

    async def _describe(self, request: web.Request) -> web.Response:
        index = self.indexes.get(request.match_info["name"])
        if index is None:
            return _error(404, f"Resource {request.match_info['name']} not found", "NOT_FOUND")
        return web.json_response(index.model())

    async def _delete(self, request: web.Request) -> web.Response:
        index = self.indexes.pop(request.match_info["name"], None)
        if index is None:
            return _error(404, f"Resource {request.match_info['name']} not found", "NOT_FOUND")
        await index.stop()
        return web.Response(status=202)

    async def _create(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        name = body.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            return _error(
                400,
                "Name must consist of lower case alphanumeric characters or '-', start and end with an "
                "alphanumeric character, and be 1 to 45 characters long",
            )
        if name in self.indexes:
            return _error(409, f"Resource {name} already exists", "ALREADY_EXISTS")
        fields = (body.get("schema") or {}).get("fields") or {}
        dense = [(k, f) for k, f in fields.items() if isinstance(f, dict) and f.get("type") == "dense_vector"]
        if len(dense) != 1:
            return _error(400, "schema must declare exactly one dense_vector field for this fake")
        spec = dense[0][1]
        dimension, metric = spec.get("dimension"), spec.get("metric", "cosine")
        if not isinstance(dimension, int) or not 1 <= dimension <= 20_000:
            return _error(400, "dimension must be an integer between 1 and 20000")
        if metric not in ("cosine", "euclidean", "dotproduct"):
            return _error(400, f"metric must be one of cosine, euclidean, dotproduct, got {metric}")
        deployment = body.get("deployment") or {}
        if deployment.get("deployment_type", "managed") != "managed":
            return _error(400, "this fake serves managed (serverless) indexes only")
        kind: Literal["vectors", "documents"] = "vectors" if set(fields) == {VECTORS_FIELD} else "documents"
        index = await self.add_index(name, dimension, metric=metric, kind=kind)
        return web.json_response(index.model(), status=201)


@asynccontextmanager
async def running_project() -> AsyncIterator[FakePineconeProject]:
    """A fake project's control plane on a loopback port (no indexes yet); stopped with its indexes on exit."""
    project = FakePineconeProject()
    try:
        await project.start()
        yield project
    finally:
        await project.stop()


@asynccontextmanager
async def running_indexes(count: int, dimension: int) -> AsyncIterator[list[FakePineconeIndex]]:
    """Start `count` fake vectors-API indexes on loopback ports (no control plane); stop them on exit."""
    indexes = [FakePineconeIndex(dimension=dimension, name=f"improv-notes-{i}") for i in range(count)]
    try:
        for index in indexes:
            await index.start()
        yield indexes
    finally:
        for index in indexes:
            await index.stop()
