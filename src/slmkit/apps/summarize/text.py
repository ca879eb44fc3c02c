"""Summaries and evaluation scores as the plain text `slm summarize` prints."""

from __future__ import annotations


def summary_text(r: dict) -> str:
    """One document's result (``summarize``'s dict): the summary, how the document was
    split, action items, key facts with their lines, flags and attachments."""
    split = r["split"]
    how = split["strategy"] if split["pieces"] == 1 else (
        f"{split['strategy']} over {split['pieces']} pieces by {', '.join(split['levels'])}"
        + (" (a sentence was cut)" if split.get("cut_in_sentence") else ""))
    out = [f"== {r['document']} ({r['language']}, {how}) ==\n{r['summary']}\n"]
    if r["action_items"]:
        out.append("Action items:")
        for a in r["action_items"]:
            who = ", ".join(f"{k}: {a[k]}" for k in ("owner", "due") if a[k])
            out.append(f"  - {a['task']}" + (f"  [{who}]" if who else "")
                       + f"  (line {a['location']['line']})")
    if r["key_facts"]:
        out.append("Key facts:")
        for f in r["key_facts"]:
            out.append(f"  - {f['fact']}  <- line {f['location']['line']}: \"{f['source']}\"")
    for f in r["flags"]:
        out.append(f"  ! {f['kind']}: {f['text']} ({f['note']})")
    if r["attachments"]:
        out.append("Attachments: " + ", ".join(f"{a['name']} ({a['type']}, {a['bytes']} B)"
                                               for a in r["attachments"]))
    return "\n".join(out) + "\n"


def scores_text(data: str, n_articles: int, means: dict[str, dict]) -> str:
    """``evaluate.mean`` per system as a table (ROUGE over Kiwi morphemes)."""
    out = [f"{n_articles} articles from {data} (ROUGE F over Kiwi morphemes for Korean, "
           "words for English)",
           f"{'system':32} {'R-1':>6} {'R-2':>6} {'R-L':>6} {'gold rec':>8} {'chars':>6} "
           f"{'bad num':>7} {'s/doc':>6}"]
    for name, m in means.items():
        out.append(f"{name:32} {m['rouge1']:6.3f} {m['rouge2']:6.3f} {m['rougeL']:6.3f} "
                   f"{m['gold_recall']:8.2f} {m['chars']:6.0f} "
                   f"{m['unsupported_numbers']:7.2f} {m['seconds']:6.2f}")
    return "\n".join(out)
