"""RAG results for people, on a rich console: an ingest summary, ranked chunks, an answer
with its sources, the collections table. `slm rag` prints these; JSON comes from each
result's ``to_dict``."""

from __future__ import annotations

from rich.markup import escape

SNIPPET_CHARS = 300


def print_ingest(out, err, r) -> None:
    """The ingest summary on ``out``; skipped files and unsupported types on ``err``."""
    out.print(r.summary(), highlight=False)
    for f in r.failed:
        err.print(f"[yellow]skipped[/] {escape(f['path'])}: {escape(f['reason'])}",
                  highlight=False, soft_wrap=True)
    if r.skipped:
        err.print(f"[dim]{len(r.skipped)} files of unsupported types ignored[/]")


def print_hits(out, hits) -> None:
    """Each hit: rank, locator, fused score and cosine, source, then its text on one line."""
    if not hits:
        out.print("no matching chunks")
    for i, h in enumerate(hits, 1):
        out.print(f"[bold]{i}. {h.locator()}[/]  score {h.score:.4f} · cosine "
                  f"{h.similarity:.3f}  [dim]{h.source}[/]", highlight=False)
        one = " ".join(h.text.split())
        out.print("   " + (one[:SNIPPET_CHARS] + "…" if len(one) > SNIPPET_CHARS else one),
                  highlight=False, markup=False)


def print_answer(out, ans) -> None:
    """The answer text, dropped citations, then its sources (or why it is not grounded)."""
    out.print(ans.text, highlight=False, markup=False)
    if ans.rejected:
        wrong = ", ".join(f"[{n}]" for n in ans.rejected)
        out.print(f"\n[dim]the model cited {escape(wrong)}, which does not support the "
                  "answer: dropped[/]", highlight=False)
    if ans.citations():
        how = "" if ans.cited_by_model else " (attributed by word overlap, checked)"
        out.print(f"\n[dim]sources{how}:[/]", highlight=False)
        for c in ans.citations():
            out.print(f"  \\[{c['n']}] {escape(c['locator'])}  [dim]{escape(c['source'])}[/]",
                      highlight=False)
    elif not ans.grounded and ans.generate_seconds:
        out.print("[dim](not grounded: no source supports this answer)[/]")
    elif not ans.grounded:
        out.print(f"[dim](best match cosine {ans.top_similarity:.2f} is under the threshold)[/]")


def collection_rows(rows: list[dict]) -> list[tuple]:
    """``RagService.list()`` rows as (collection, documents, chunks, embedder, size)."""
    return [(r["name"], r.get("documents", "?"), r.get("chunks", "?"),
             r.get("embedder") or r.get("error", ""), f"{r.get('bytes', 0) / 1e6:.1f} MB")
            for r in rows]
