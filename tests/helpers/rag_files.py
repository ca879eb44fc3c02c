"""Documents of every format the RAG loaders read, built in a folder (no fixtures on disk):
a hand-written two-page PDF, a .docx through python-docx, HTML, JSON, JSONL, CSV, code."""

from __future__ import annotations

import json
from pathlib import Path


def minimal_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page (xref offsets computed)."""
    objs: list[bytes] = []
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    font_id = 3 + 2 * n
    for i, text in enumerate(pages):
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode()
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents "
                    f"{4 + 2 * i} 0 R /Resources << /Font << /F1 {font_id} 0 R >> >> >>"
                    .encode())
        objs.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream
                    + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return bytes(out)


def write_docx(path: Path, paragraphs: list[str], table: list[list[str]] | None = None) -> None:
    import docx

    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                t.cell(r, c).text = cell
    d.save(str(path))


# file name -> a fact only that file holds (what a query must find)
FACTS = {
    "notes.txt": "The staging database password rotates every 45 days.",
    "guide.md": "Valve V-220 must be closed before draining tank T-9.",
    "page.html": "The cafeteria on level 3 opens at 7:30 on weekdays.",
    "report.pdf": "Quarterly revenue for the Busan plant rose by 12 percent.",
    "memo.docx": "The Daejeon office moves to the Yuseong building in March.",
    "config.json": "max_retries for the billing worker is 17",
    "events.jsonl": "ticket SUP-5521 reports a broken badge reader",
    "parts.csv": "gasket GK-3301 fits pump model HX-40",
    "util.py": "def compute_checksum_crc32(payload): return the CRC-32 of the payload",
}


def write_all_formats(folder: Path) -> dict[str, str]:
    """One file per supported format in ``folder``; returns FACTS."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text(f"Ops notes\n\n{FACTS['notes.txt']}\n")
    (folder / "guide.md").write_text(f"# Draining guide\n\nStep one.\n\n{FACTS['guide.md']}\n")
    (folder / "page.html").write_text(
        "<html><head><style>p{color:red}</style><script>var secret='do-not-index';</script>"
        f"</head><body><h1>Campus</h1><p>{FACTS['page.html']}</p></body></html>")
    (folder / "report.pdf").write_bytes(minimal_pdf(
        ["Annual report, page one: introduction.", FACTS["report.pdf"]]))
    write_docx(folder / "memo.docx", ["Office memo", FACTS["memo.docx"]],
               table=[["room", "floor"], ["R-101", "1"]])
    (folder / "config.json").write_text(json.dumps(
        {"billing": {"worker": {"max_retries": 17, "queue": "billing-q"}}, "note":
         FACTS["config.json"]}))
    (folder / "events.jsonl").write_text(
        json.dumps({"id": 1, "text": "all quiet"}) + "\n"
        + json.dumps({"id": 2, "text": FACTS["events.jsonl"]}) + "\n")
    (folder / "parts.csv").write_text("part,description\nGK-1000,plain washer\n"
                                      f"GK-3301,{FACTS['parts.csv']}\n")
    (folder / "util.py").write_text(
        f'def compute_checksum_crc32(payload):\n    """{FACTS["util.py"]}"""\n'
        "    import zlib\n    return zlib.crc32(payload)\n")
    return FACTS
