"""Reading documents for the apps: formats, e-mail threads (quotes and signatures stripped,
attachments listed), locations of quotes, and clear errors for files that cannot be used."""

from __future__ import annotations

from helpers.mail_files import mbox_bytes, thread_messages
from helpers.rag_files import write_all_formats
from slmkit.apps.documents import DocumentError, from_bytes, from_text, iter_documents
from slmkit.formats.mail import parse_message, strip_quoted, strip_signature


def test_eml_body_is_cleaned_and_attachments_listed():
    first = parse_message(thread_messages()[0])
    assert "Kim will send the revised budget by Friday." in first.body
    assert "Best regards" not in first.body and "Product Lead" not in first.body
    assert [(a.name, a.content_type) for a in first.attachments] == [("budget.pdf",
                                                                       "application/pdf")]
    second = parse_message(thread_messages()[1])
    assert second.body == "Thanks. Please review the test plan before March 12."
    assert second.removed["quoted"] >= 3 and second.removed["signature"] == 0
    third = parse_message(thread_messages()[2])
    assert third.body == "네, 3월 14일까지 최종 자료를 제출해 주세요."


def test_mbox_thread_is_one_document_in_date_order():
    docs = from_bytes("inbox.mbox", mbox_bytes())
    assert [d.meta["messages"] for d in docs] == [3, 1]
    thread = docs[0]
    assert thread.kind == "email" and thread.meta["subject"] == "Launch date"
    bodies = [p.text for p in thread.parts]
    assert bodies[0].startswith("From: Lee <lee@example.com>")
    assert "최종 자료" in bodies[2] and "> Thanks" not in thread.text
    assert thread.attachments == [{"name": "budget.pdf", "type": "application/pdf",
                                   "bytes": 13, "message": 1}]
    loc = thread.find("Please review the test plan")
    assert loc["part"] == "message 2" and loc["line"] == 2


def test_quote_markers_need_text_before_them():
    assert strip_quoted("On Monday, Kim wrote:\nhello")[0] == "On Monday, Kim wrote:\nhello"
    long_tail = "Body\nThanks,\n" + "a long paragraph that goes on " * 4
    assert strip_signature(long_tail)[1] == 0  # not a signature: long text follows
    assert strip_signature("Body\n-- \nName\nTitle")[0] == "Body"


def test_locations_are_lines_and_pages(tmp_path):
    doc = from_text("notes.txt", "title\n\nfirst fact here.\nsecond   fact\nthere")
    assert doc.find("first fact here.")["line"] == 3
    assert doc.find("Second fact there")["line"] == 4  # whitespace and case ignored
    assert doc.find("a claim the text never made") is None
    facts = write_all_formats(tmp_path)
    docs = {f.name: ds[0] for f, ds in iter_documents([str(tmp_path)])}
    assert set(docs) == set(facts)  # every format reads
    pdf = docs["report.pdf"]
    assert pdf.find(facts["report.pdf"])["page"] == 2
    for name in ("memo.docx", "page.html", "guide.md"):
        assert docs[name].find(facts[name]) is not None, name


def test_unusable_files_are_named_and_the_rest_read(tmp_path):
    (tmp_path / "good.md").write_text("# Title\n\nSome text.\n")
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 10)
    seen = {f.name: r for f, r in iter_documents([str(tmp_path)])}
    assert not isinstance(seen["good.md"], DocumentError)
    assert "empty" in seen["empty.txt"].reason and "empty.txt" in str(seen["empty.txt"])
    assert isinstance(seen["broken.pdf"], DocumentError)
    assert "binary" in seen["binary.txt"].reason
    [(_, err)] = list(iter_documents([str(tmp_path / "no-such-file.txt")]))
    assert isinstance(err, DocumentError) and "no-such-file.txt" in str(err)


def test_encrypted_pdf_is_named_with_a_hint(tmp_path):
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(100, 100)
    w.encrypt("secret")
    path = tmp_path / "locked.pdf"
    with open(path, "wb") as f:
        w.write(f)
    [(name, err)] = list(iter_documents([str(path)]))
    assert isinstance(err, DocumentError) and "encrypted" in err.reason and err.hint
