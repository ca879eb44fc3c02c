"""E-mail → text: ``.eml`` (one message) and ``.mbox`` (many), standard library only.

Each message keeps its headers (from, to, cc, date, subject), its attachments (name, type,
size; listed, never read) and its body with quoted replies and signatures removed — what the
writer of *this* message said. Messages of one conversation (``References`` /
``In-Reply-To``, else the subject without ``Re:``/``Fwd:``/``회신:``) form a :class:`Thread`,
ordered by date, so a thread is read as one document.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field

# A line that starts the quoted original of a reply (everything from it on is dropped).
REPLY_MARKERS = [
    re.compile(r"^\s*On\b.{0,200}\bwrote:\s*$", re.I),
    re.compile(r"^\s*-{2,}\s*(Original Message|Forwarded message|원본 메시지|전달된 메시지)\s*-{2,}",
               re.I),
    re.compile(r"^\s*\d{4}년\s*\d{1,2}월\s*\d{1,2}일.{0,120}(작성|wrote)\s*:?\s*$"),
    re.compile(r"^.{0,120}님이 작성(했습니다|함)?\s*:\s*$"),
    re.compile(r"^\s*(From|보낸 사람)\s*:.+$"),  # Outlook's header block of the original
]
# A line that starts a signature (it and what follows are dropped when short).
SIGNATURE_MARKERS = [
    re.compile(r"^-- ?$"),
    re.compile(r"^\s*(Sent from my|Get Outlook for)\b", re.I),
    re.compile(r"^\s*(Best( regards)?|Kind regards|Regards|Cheers|Thanks|Thank you|Sincerely)"
               r"\s*,?\s*$", re.I),
    re.compile(r"^\s*(감사합니다|고맙습니다|수고하세요)[.!]?\s*$"),
]
MAX_SIGNATURE_LINES = 6
SUBJECT_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv|회신|답장|전달)\s*(\[\d+\])?\s*:\s*)+", re.I)


@dataclass
class Attachment:
    name: str
    content_type: str
    size: int


@dataclass
class Message:
    """One message: headers, cleaned body, attachments, and what cleaning removed."""

    sender: str = ""
    to: str = ""
    cc: str = ""
    date: str = ""
    subject: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    body: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)  # "quoted"/"signature" → lines
    timestamp: float = 0.0

    def header_line(self) -> str:
        """``From: … | To: … | Date: … | Subject: …`` (only the headers present)."""
        parts = [f"{k}: {v}" for k, v in (("From", self.sender), ("To", self.to),
                                          ("Cc", self.cc), ("Date", self.date),
                                          ("Subject", self.subject)) if v]
        return " | ".join(parts)


@dataclass
class Thread:
    subject: str
    messages: list[Message]

    @property
    def attachments(self) -> list[Attachment]:
        return [a for m in self.messages for a in m.attachments]


def strip_quoted(body: str) -> tuple[str, int]:
    """The body without the quoted original: ``>`` lines and everything after a reply
    marker ("On … wrote:", "-----Original Message-----", "… 님이 작성:"). Returns the text
    and how many lines were removed."""
    lines = body.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if any(p.match(line) for p in REPLY_MARKERS) and any(k.strip() for k in kept):
            return "\n".join(kept).rstrip(), len(lines) - len(kept)
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).rstrip(), len(lines) - len(kept)


def strip_signature(body: str) -> tuple[str, int]:
    """The body without a trailing signature block: from a marker ("-- ", "Best regards,",
    "감사합니다.", "Sent from my …") within the last lines, when at most
    ``MAX_SIGNATURE_LINES`` short lines follow it."""
    lines = body.rstrip().split("\n")
    for i in range(max(0, len(lines) - MAX_SIGNATURE_LINES - 1), len(lines)):
        tail = lines[i + 1:]
        if (any(p.match(lines[i]) for p in SIGNATURE_MARKERS) and i > 0
                and all(len(t) <= 80 for t in tail)):
            return "\n".join(lines[:i]).rstrip(), len(lines) - i
    return "\n".join(lines), 0


def _text_of(msg) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = part.get_content()
    if part.get_content_type() == "text/html":
        text = re.sub(r"(?is)<(script|style).*?</\1>", "", text)
        text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>", "\n", text)
        text = re.sub(r"<[^>]+>", "", text)
        import html

        text = html.unescape(text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _attachments(msg) -> list[Attachment]:
    out = []
    for part in msg.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        out.append(Attachment(part.get_filename() or "(unnamed)", part.get_content_type(),
                              len(payload)))
    return out


def parse_message(data: bytes) -> Message:
    """One RFC 5322 message → a cleaned :class:`Message`."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    body, quoted = strip_quoted(_text_of(msg))
    body, signature = strip_signature(body)
    date = str(msg.get("date", "") or "")
    try:
        stamp = email.utils.parsedate_to_datetime(date).timestamp() if date else 0.0
    except (TypeError, ValueError):
        stamp = 0.0
    refs = str(msg.get("references", "") or "").split()
    return Message(
        sender=str(msg.get("from", "") or ""), to=str(msg.get("to", "") or ""),
        cc=str(msg.get("cc", "") or ""), date=date, subject=str(msg.get("subject", "") or ""),
        message_id=str(msg.get("message-id", "") or "").strip(),
        in_reply_to=str(msg.get("in-reply-to", "") or "").strip(), references=refs,
        body=body.strip("\n"), attachments=_attachments(msg),
        removed={"quoted": quoted, "signature": signature}, timestamp=stamp)


def split_mbox(data: bytes) -> list[bytes]:
    """The raw messages of an mbox file (``From `` separator lines; ``>From`` unescaped)."""
    messages, current = [], []
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From ") and (not current or current[-1].strip() == b""):
            if any(x.strip() for x in current):
                messages.append(b"".join(current))
            current = []
            continue
        current.append(line[1:] if re.match(rb"^>+From ", line) else line)
    if any(x.strip() for x in current):
        messages.append(b"".join(current))
    return messages


def threads(messages: list[Message]) -> list[Thread]:
    """Messages grouped into conversations (reply chains, else the same base subject),
    each ordered by date; threads in order of their first message."""
    root_of: dict[str, int] = {}
    groups: list[list[Message]] = []
    by_subject: dict[str, int] = {}
    for m in messages:
        linked = [root_of[r] for r in [m.in_reply_to, *m.references] if r in root_of]
        base = SUBJECT_PREFIX.sub("", m.subject).strip().lower()
        gid = linked[0] if linked else by_subject.get(base) if base else None
        if gid is None:
            gid = len(groups)
            groups.append([])
        groups[gid].append(m)
        if m.message_id:
            root_of[m.message_id] = gid
        if base:
            by_subject.setdefault(base, gid)
    out = []
    for group in groups:
        group.sort(key=lambda m: m.timestamp)
        out.append(Thread(SUBJECT_PREFIX.sub("", group[0].subject).strip(), group))
    return out


def load_mail(data: bytes, *, mbox: bool) -> list[Thread]:
    """The threads of an ``.eml`` (``mbox=False``) or ``.mbox`` file's bytes."""
    raws = split_mbox(data) if mbox else [data]
    return threads([parse_message(raw) for raw in raws])
