"""E-mail test data built in code: a thread of three messages (replies quoting the previous
one, signatures, an attachment) and one unrelated message, as .eml and .mbox bytes."""

from __future__ import annotations

from email.message import EmailMessage


def message(sender: str, subject: str, body: str, date: str, msgid: str,
            reply_to: str | None = None, attachment: tuple[str, bytes] | None = None) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Date"] = sender, "team@example.com", subject, date
    m["Message-ID"] = msgid
    if reply_to:
        m["In-Reply-To"], m["References"] = reply_to, reply_to
    m.set_content(body)
    if attachment:
        m.add_attachment(attachment[1], maintype="application", subtype="pdf",
                         filename=attachment[0])
    return bytes(m)


FIRST = ("Hi all,\n\nThe launch moves to 2024-03-15. Kim will send the revised budget by "
         "Friday.\nThe budget is 1,200 dollars.\n\nBest regards,\nLee Minho\nProduct Lead\n")
SECOND = ("Thanks. Please review the test plan before March 12.\n\n"
          "On Mon, 4 Mar 2024 at 09:00, Lee <lee@example.com> wrote:\n"
          "> The launch moves to 2024-03-15. Kim will send the revised budget by Friday.\n"
          "> The budget is 1,200 dollars.\n-- \nPark\nQA\n")
THIRD = ("네, 3월 14일까지 최종 자료를 제출해 주세요.\n\n"
         "2024년 3월 5일 (화) 오전 10:00, Park <park@example.com>님이 작성:\n"
         "> Thanks. Please review the test plan before March 12.\n\n감사합니다.\n김지수 드림\n")
OTHER = "Lunch on Thursday is at noon in room 4.\n"


def thread_messages() -> list[bytes]:
    return [
        message("Lee <lee@example.com>", "Launch date", FIRST, "Mon, 04 Mar 2024 09:00:00 +0900",
                "<a1@example.com>", attachment=("budget.pdf", b"%PDF-1.4 fake")),
        message("Park <park@example.com>", "Re: Launch date", SECOND,
                "Mon, 04 Mar 2024 11:00:00 +0900", "<a2@example.com>", "<a1@example.com>"),
        message("Kim <kim@example.com>", "RE: Launch date", THIRD,
                "Tue, 05 Mar 2024 10:30:00 +0900", "<a3@example.com>", "<a2@example.com>"),
    ]


def mbox_bytes() -> bytes:
    """The thread (out of date order) and an unrelated message, mbox-framed."""
    msgs = thread_messages()
    msgs = [msgs[1], msgs[0], message("Choi <choi@example.com>", "Lunch", OTHER,
                                      "Wed, 06 Mar 2024 08:00:00 +0900", "<b1@example.com>"),
            msgs[2]]
    out = b""
    for m in msgs:
        out += b"From sender@example.com Mon Mar  4 09:00:00 2024\n" + m.replace(b"\r\n", b"\n")
        out += b"\n"
    return out
