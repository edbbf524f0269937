"""Benchmark: document parsing speed per type, and its share of a sync against embedding.

Builds one document of every type the hosted service parses with the test corpus builder
(python-docx, openpyxl, python-pptx, Pillow, then LibreOffice headless for the rest; see
tests/document_corpus.py), sized by --pages (Word/PDF/EPUB pages) and --rows (spreadsheet
rows). For each type it prints the parse time (best of --repeat), files/s and pages/s (PDF
pages, slides; sheets for spreadsheets), then chunks the parsed text as the sync does and
embeds the chunks with the local MiniLM model, and prints the share of parse in
parse + chunk + embed. Baseline in the same process: pypdf's plain text extraction of the
same PDF (the parser before the registry).

    .venv/bin/python bench/parse.py --pages 30 --rows 2000
"""

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync_pipelines.core.chunking import chunk_document
from sync_pipelines.core.chunking.budgets import default_chunking_options
from sync_pipelines.core.embedding import MiniLMEmbeddingFunction, find_model_dir
from sync_pipelines.core.parsing import parse_object
from sync_pipelines.core.types import ParsedDocument
from sync_pipelines.settings import get_settings
from tests.document_corpus import build_corpus

MODEL = "all-MiniLM-L6-v2"


def best_of(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    """The fastest of ``repeat`` runs of ``work`` and its last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def units(doc: ParsedDocument) -> int:
    """Pages, slides or sheets of a parsed document (1 without locations)."""
    return max(1, len({(loc.page, loc.sheet) for loc in doc.locations}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=30, help="pages of the Word/PDF documents")
    parser.add_argument("--rows", type=int, default=2000, help="rows of the first sheet")
    parser.add_argument("--repeat", type=int, default=3, help="parses per type (best counts)")
    args = parser.parse_args()

    function = MiniLMEmbeddingFunction(find_model_dir(get_settings().resolved_model_dir))
    function.embed(["warm up the model"])
    options = default_chunking_options(MODEL)
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        started = time.perf_counter()
        corpus = build_corpus(Path(tmp), pages=args.pages, rows=args.rows)
        print(f"corpus built in {time.perf_counter() - started:.1f} s (LibreOffice conversions)")
        print(
            f"{'type':6} {'KiB':>7} {'units':>5} {'parse s':>8} {'files/s':>8} {'units/s':>8} "
            f"{'chunks':>6} {'embed s':>8} {'parse share':>11}"
        )
        totals = {"parse": 0.0, "chunk": 0.0, "embed": 0.0}
        for suffix, path in sorted(corpus.items()):
            data = path.read_bytes()
            key = path.name
            parse_s, parsed = best_of(args.repeat, lambda k=key, d=data: parse_object(k, d))
            assert isinstance(parsed, ParsedDocument)
            started = time.perf_counter()
            chunks = chunk_document(parsed, options)
            chunk_s = time.perf_counter() - started
            started = time.perf_counter()
            function.embed([chunk.embedded_text for chunk in chunks] or [""])
            embed_s = time.perf_counter() - started
            totals["parse"] += parse_s
            totals["chunk"] += chunk_s
            totals["embed"] += embed_s
            n = units(parsed)
            share = parse_s / (parse_s + chunk_s + embed_s)
            print(
                f"{suffix:6} {len(data) / 1024:7.0f} {n:5d} {parse_s:8.3f} {1 / parse_s:8.1f} "
                f"{n / parse_s:8.1f} {len(chunks):6d} {embed_s:8.3f} {share:11.0%}"
            )
        whole = sum(totals.values())
        print(
            f"all types: parse {totals['parse']:.2f} s, chunk {totals['chunk']:.2f} s, "
            f"embed {totals['embed']:.2f} s; parse share {totals['parse'] / whole:.0%}"
        )
        pdf = corpus[".pdf"].read_bytes()
        from pypdf import PdfReader

        def plain() -> str:
            return "\n\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)

        ours, parsed = best_of(args.repeat, lambda: parse_object("r.pdf", pdf))
        theirs, _ = best_of(args.repeat, plain)
        assert isinstance(parsed, ParsedDocument)
        pages = units(parsed)
        print(
            f"PDF, {pages} pages: structured (pypdfium2 + tables) {pages / ours:.0f} pages/s, "
            f"baseline pypdf plain text {pages / theirs:.0f} pages/s, ratio {theirs / ours:.2f}x"
        )


if __name__ == "__main__":
    main()
