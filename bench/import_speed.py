"""Import speed of a PDF: our parse+chunk against pypdf + a generic recursive splitter, then the full offline
import (parse, chunk, embed with the local model).

Run: `.venv/bin/python -m bench import_speed` times the 12-page SRD 5.1 excerpt in tests/data; the recorded
figures use `--pdf FILE` with the publisher's whole 403-page SRD 5.1 PDF (source in docs/benchmarks.md). Add
`--embed-sample 400` to embed a sample and extrapolate (the output says so when it does); `--skip-embed`
measures parsing only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot.memory.chunking import DEFAULT_MAX_CHARS, DEFAULT_OVERLAP_CHARS, chunk_document, document_id_for
from bot.memory.embedders import LocalEmbedder
from bot.memory.parsing import parse_document

REPO = Path(__file__).resolve().parents[1]
PDF = REPO / "tests" / "data" / "srd51" / "srd51-pages-101-112.pdf"


def ours(data: bytes, name: str = PDF.name) -> tuple[float, int, int]:
    """Seconds, pages and chunks for parse_document + chunk_document."""
    started = time.perf_counter()
    doc = parse_document(name, data)
    chunks = chunk_document(doc, document_id_for(data))
    return time.perf_counter() - started, doc.pages or 0, len(chunks)


def generic(data: bytes) -> tuple[float, int, int]:
    """Seconds, pages and chunks for pypdf text extraction + RecursiveCharacterTextSplitter (same sizes)."""
    import io

    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from pypdf import PdfReader

    started = time.perf_counter()
    reader = PdfReader(io.BytesIO(data))
    text = "\n\n".join(page.extract_text() or "" for page in reader.pages)
    splitter = RecursiveCharacterTextSplitter(chunk_size=DEFAULT_MAX_CHARS, chunk_overlap=DEFAULT_OVERLAP_CHARS)
    chunks = splitter.split_text(text)
    return time.perf_counter() - started, len(reader.pages), len(chunks)


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench import_speed", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of our parse+chunk (median reported)")
    parser.add_argument("--skip-generic", action="store_true", help="skip the slow pypdf baseline")
    parser.add_argument("--skip-embed", action="store_true", help="skip the full import with embedding")
    parser.add_argument("--embed-sample", type=int, default=0, help="embed only N chunks and extrapolate")
    parser.add_argument("--pdf", type=Path, default=PDF, help="the PDF to import (default: the SRD excerpt)")
    args = parser.parse_args(list(argv))
    pdf: Path = args.pdf
    data = pdf.read_bytes()
    print(f"file: {pdf.name} ({len(data) / 1024 / 1024:.1f} MB)")

    runs = [ours(data, pdf.name) for _ in range(max(1, args.repeat))]
    ours_seconds = statistics.median(r[0] for r in runs)
    _, pages, chunk_count = runs[0]
    print(
        f"ours (pypdfium2 + heading-aware chunker): {ours_seconds:.2f} s median of {len(runs)}, {pages} pages, {chunk_count} chunks"
    )

    if not args.skip_generic:
        generic_seconds, generic_pages, generic_chunks = generic(data)
        print(
            f"generic (pypdf + RecursiveCharacterTextSplitter): {generic_seconds:.2f} s, {generic_pages} pages, "
            f"{generic_chunks} chunks"
        )
        print(f"speed-up: {generic_seconds / ours_seconds:.1f}x")

    if not args.skip_embed:
        embedder = LocalEmbedder()
        started = time.perf_counter()
        embedder.load()
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        doc = parse_document(pdf.name, data)
        chunks = chunk_document(doc, document_id_for(data))
        parse_seconds = time.perf_counter() - started
        texts = [c.embed_text for c in chunks]
        sample = texts
        if 0 < args.embed_sample < len(texts):
            step = len(texts) / args.embed_sample
            sample = [texts[int(i * step)] for i in range(args.embed_sample)]
        started = time.perf_counter()
        embedder.embed_sync(sample)
        embed_seconds = time.perf_counter() - started
        rate = len(sample) / embed_seconds
        if sample is texts:
            total = load_seconds + parse_seconds + embed_seconds
            print(
                f"full offline import: {total:.0f} s (model load {load_seconds:.1f} s, parse+chunk {parse_seconds:.1f} s, "
                f"embed {len(texts)} chunks {embed_seconds:.0f} s = {rate:.1f} chunks/s)"
            )
        else:
            estimate = len(texts) / rate
            total = load_seconds + parse_seconds + estimate
            print(
                f"full offline import (EXTRAPOLATED from {len(sample)} evenly spaced chunks of {len(texts)}): "
                f"~{total:.0f} s (model load {load_seconds:.1f} s, parse+chunk {parse_seconds:.1f} s, "
                f"embed ~{estimate:.0f} s at {rate:.1f} chunks/s)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
