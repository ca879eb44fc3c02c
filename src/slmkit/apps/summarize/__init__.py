"""Summarize documents offline: text, Markdown, HTML, PDF, DOCX and e-mail (threads),
Korean and English, with action items, key facts tied to source spans, and faithfulness
flags. ``summarize(document, engine, SummaryOptions(...))``; ``SummarizeApp`` for HTTP."""

from slmkit.apps.summarize.pipeline import PieceCache, SummaryOptions, summarize

__all__ = ["PieceCache", "SummaryOptions", "summarize"]
