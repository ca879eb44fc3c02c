"""File formats → text, shared by rag and the apps (standard library at import time; PDF,
DOCX and HTML parsers are imported when a file of that type is read).

- :mod:`slmkit.formats.loaders`: text, Markdown, HTML, PDF, DOCX, JSON, JSONL, CSV, code →
  :class:`~slmkit.formats.loaders.Section`\\ s that keep their page or first line.
- :mod:`slmkit.formats.mail`: ``.eml`` / ``.mbox`` → threads of cleaned messages.
"""
