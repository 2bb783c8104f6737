"""Retrieval quality: hit@1/5/10 of BM25, dense and the production pipeline over a folder of campaign prose.

Run: `.venv/bin/python -m bench retrieval` scores the corpus in the repository (`tests/data`: the Cairn setting
Vald as Markdown and text) on the queries about it; `--corpus DIR` scores a larger folder laid out like it
(docs/benchmarks.md says where the 38-file corpus comes from). Only queries with an expected file in the corpus
count. The first run embeds every chunk (minutes on 2 cores for the large corpus); embeddings are cached under
bench/out/ by chunk-text hash, so later runs take seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.memory.chunking import Chunk, chunk_document, document_id_for
from bot.memory.embedders import LocalEmbedder
from bot.memory.parsing import parse_document
from bot.memory.ranking import BM25Index, Candidate, rerank, tokenize

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
OUT = REPO / "bench" / "out"
QUERIES = REPO / "bench" / "retrieval_queries.jsonl"
KS = (1, 5, 10)
DENSE_CANDIDATES = 40

# Prose (Markdown and text) in the data folder: licences, provenance notes and API references are not prose.
EXCLUDED_NAMES = re.compile(
    r"^(SOURCE|NOTICE|README.*|LICEN[CS](E|ING).*|CC-BY-.*|MANIFEST.*)\.(md|txt|tsv)$", re.IGNORECASE
)
EXCLUDED_DIRS = ("discord", "paddle", "queries")


def prose_files(root: Path = DATA) -> list[Path]:
    """Every Markdown and text file of campaign or rules prose under `root`."""
    return [
        path
        for path in sorted(root.rglob("*"))
        if path.suffix in {".md", ".txt"}
        and not EXCLUDED_NAMES.match(path.name)
        and path.relative_to(root).parts[0] not in EXCLUDED_DIRS
        and path.parent != root
    ]


@dataclass(frozen=True)
class Corpus:
    chunks: list[Chunk]
    files: list[str]  # relative path of each chunk's file


def build_corpus(files: Sequence[Path], root: Path = DATA) -> Corpus:
    chunks: list[Chunk] = []
    names: list[str] = []
    for path in files:
        data = path.read_bytes()
        doc = parse_document(path.name, data)
        doc_chunks = chunk_document(doc, document_id_for(data))
        chunks.extend(doc_chunks)
        names.extend([path.relative_to(root).as_posix()] * len(doc_chunks))
    return Corpus(chunks, names)


class EmbeddingCache:
    """Vectors keyed by sha256 of the embedded text, saved as one .npz per embedder id."""

    def __init__(self, embedder_id: str) -> None:
        self.path = OUT / f"embeddings-{re.sub(r'[^A-Za-z0-9]+', '_', embedder_id)}.npz"
        self.vectors: dict[str, npt.NDArray[np.float32]] = {}
        if self.path.exists():
            with np.load(self.path) as archive:
                for key, row in zip(archive["keys"], archive["matrix"], strict=True):
                    self.vectors[str(key)] = row

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def save(self) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self.vectors), dtype="U64")
        matrix = np.stack(list(self.vectors.values())) if self.vectors else np.zeros((0, 384), np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, matrix=matrix)
        tmp.replace(self.path)


def embed_all(
    embedder: LocalEmbedder, texts: Sequence[str], *, log: Callable[[str], None]
) -> tuple[npt.NDArray[np.float32], float, int]:
    """Matrix for `texts` (cached); returns (matrix, seconds spent embedding, texts embedded now)."""
    cache = EmbeddingCache(embedder.id)
    missing = sorted({t for t in texts if cache.key(t) not in cache.vectors}, key=len)
    started = time.perf_counter()
    step = 256
    for start in range(0, len(missing), step):
        batch = missing[start : start + step]
        matrix = embedder.embed_sync(batch)
        for text, row in zip(batch, matrix, strict=True):
            cache.vectors[cache.key(text)] = row
        cache.save()
        done = start + len(batch)
        rate = done / (time.perf_counter() - started)
        log(f"  embedded {done}/{len(missing)} new chunks ({rate:.1f}/s)")
    spent = time.perf_counter() - started
    return np.stack([cache.vectors[cache.key(t)] for t in texts]), spent, len(missing)


_STRAIGHT: dict[str, str | int | None] = {"’": "'", "‘": "'", "“": '"', "”": '"'}
_QUOTES = str.maketrans(_STRAIGHT)


def normalise(text: str) -> str:
    text = text.lower().translate(_QUOTES)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    must_contain: str
    files: frozenset[str]


def load_queries(path: Path = QUERIES) -> list[Query]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            files = frozenset(f["file"] for f in q["expected_files"])
            out.append(Query(q["id"], q["query"], normalise(q["must_contain"]), files))
    return out


def first_hit(query: Query, ranked: Sequence[int], corpus: Corpus) -> int | None:
    """1-based rank of the first chunk that counts as found, else None."""
    for rank, index in enumerate(ranked, start=1):
        if corpus.files[index] in query.files and query.must_contain in normalise(corpus.chunks[index].text):
            return rank
    return None


def hits(ranks: Sequence[int | None]) -> dict[int, int]:
    return {k: sum(1 for r in ranks if r is not None and r <= k) for k in KS}


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench retrieval", description=__doc__)
    parser.add_argument("--embed-only", action="store_true", help="fill the embedding cache and stop")
    parser.add_argument("--candidates", type=int, default=DENSE_CANDIDATES, help="dense candidates to re-rank")
    parser.add_argument("--verbose", action="store_true", help="print each query's ranks")
    parser.add_argument("--corpus", type=Path, default=DATA, help="folder of prose files (default: tests/data)")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="queries as JSON lines")
    args = parser.parse_args(list(argv))
    root: Path = args.corpus.resolve()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    files = prose_files(root)
    started = time.perf_counter()
    corpus = build_corpus(files, root)
    parse_seconds = time.perf_counter() - started
    log(f"{len(files)} files, {len(corpus.chunks)} chunks, parsed and chunked in {parse_seconds:.1f} s")

    embedder = LocalEmbedder()
    matrix, embed_seconds, embedded = embed_all(embedder, [c.embed_text for c in corpus.chunks], log=log)
    if args.embed_only:
        return 0

    present = set(corpus.files)
    queries = [q for q in load_queries(args.queries) if q.files & present]
    if not queries:
        log(f"no query has an expected file under {root}")
        return 1
    bm25 = BM25Index([tokenize(c.embed_text) for c in corpus.chunks])
    query_vectors = embedder.embed_sync([q.text for q in queries])

    rows: dict[str, list[int | None]] = {"BM25": [], "MiniLM dense": [], "MiniLM + rerank (production)": []}
    latencies: list[float] = []
    for query, vector in zip(queries, query_vectors, strict=True):
        rows["BM25"].append(first_hit(query, [i for i, _ in bm25.top(tokenize(query.text), 10)], corpus))
        scores = matrix @ vector
        dense_order = np.argsort(-scores, kind="stable")[: max(args.candidates, 10)]
        rows["MiniLM dense"].append(first_hit(query, [int(i) for i in dense_order[:10]], corpus))
        t0 = time.perf_counter()
        candidates = [
            Candidate(
                text=corpus.chunks[i].text,
                heading_path=corpus.chunks[i].heading_path,
                score=float(scores[i]),
                payload=int(i),
            )
            for i in dense_order[: args.candidates]
        ]
        ranked = [int(c.payload) for c in rerank(query.text, candidates, 10)]
        latencies.append(time.perf_counter() - t0)
        rows["MiniLM + rerank (production)"].append(first_hit(query, ranked, corpus))
        if args.verbose:
            log(f"{query.id}: " + "  ".join(f"{name}={ranks[-1]}" for name, ranks in rows.items()))

    print(f"corpus: {root}, {len(files)} prose files, {len(corpus.chunks)} chunks; {len(queries)} queries")
    print(f"rerank over {args.candidates} dense candidates: {1000 * float(np.median(latencies)):.1f} ms median")
    if embedded:
        print(f"embedded {embedded} chunks in {embed_seconds:.0f} s ({embedded / embed_seconds:.1f} chunks/s)")
    print()
    print("| retriever | hit@1 | hit@5 | hit@10 |")
    print("|---|---|---|---|")
    for name, ranks in rows.items():
        h = hits(ranks)
        print(f"| {name} | {h[1]} | {h[5]} | {h[10]} |")
    missed = [q.id for q, r in zip(queries, rows["MiniLM + rerank (production)"], strict=True) if r is None or r > 5]
    print(f"\nproduction misses at 5: {', '.join(missed) or 'none'}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "retrieval.json").write_text(
        json.dumps({name: dict(zip([q.id for q in queries], ranks, strict=True)) for name, ranks in rows.items()})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
