"""Action items found in the source itself (no model): sentences that ask for or promise
work ("please send …", "Kim will …", "…까지 제출해 주세요"), with the owner and the due date
when the sentence states them, and the sentence's location. Being extracted, every item is
verbatim source text."""

from __future__ import annotations

import re

from slmkit.apps.documents import Document
from slmkit.apps.text import dates, sentences

CUE_EN = re.compile(
    r"\b(please|kindly|need(s|ed)? to|must|should|action( items?)?:|todo|to-do|"
    r"(will|to) (send|prepare|review|update|share|schedule|call|draft|submit|fix|check|"
    r"confirm|deliver|finish|book|follow up)|follow up|deadline|due (by|on))\b", re.I)
CUE_KO = re.compile(r"(해\s?주세요|해\s?주시기|주시기 바랍니다|바랍니다|부탁(드립니다|합니다|드려요)|"
                    r"해야\s?(합니다|함|한다|해요)|하기로 (했|하였)|마감|제출|회신|검토해|준비해|"
                    r"보내\s?주|요청(드립|합)니다|할 것)")
OWNER_EN = [re.compile(r"@(?P<o>[\w.-]+)"),
            re.compile(r"^\s*(?:[-*•]\s*)?(?P<o>[A-Z][a-z]+(?: [A-Z][a-z]+)?)\s*:"),
            re.compile(r"\b(?P<o>[A-Z][a-z]+(?: [A-Z][a-z]+)?),? (?:will|to|should|must|needs? "
                       r"to|please)\b"),
            re.compile(r"^\s*(?:Please|Kindly),?\s+(?P<o>[A-Z][a-z]+),")]
OWNER_KO = [re.compile(r"(?P<o>[가-힣]{2,4}\s?(?:님|씨|팀장|과장|대리|부장|차장|팀))"
                       r"(?:께서|께|은|는|이|가|에게)?\s")]
NOT_OWNER = {"Please", "Kindly", "The", "This", "We", "You", "I", "It", "They", "Our", "Action",
             "Note", "Subject", "From", "To", "Date", "Cc", "Thanks", "Hi", "Hello", "Dear"}
DUE_EN = re.compile(r"\b(?:by|before|until|no later than|due(?: on| by)?)\s+(?P<d>(?:the )?"
                    r"(?:EOD|COB|end of (?:the )?(?:day|week|month|quarter)|tomorrow|today|"
                    r"tonight|next week|this week|(?:next |this )?(?:mon|tues|wednes|thurs|fri|"
                    r"satur|sun)day)|[A-Z][a-z]+ \d{1,2}(?:st|nd|rd|th)?|\d{4}-\d{2}-\d{2}|"
                    r"\d{1,2}/\d{1,2})", re.I)
DUE_KO = re.compile(r"(?P<d>(?:오늘|내일|모레|이번\s?주|다음\s?주|금주|차주|이달|다음\s?달)\s*"
                    r"(?:[월화수목금토일]요일)?|(?:\d{4}년\s*)?\d{1,2}월\s*\d{1,2}일"
                    r"(?:\s*\([월화수목금토일]\))?)\s*(?:까지|중으로|중에|전까지|마감)")
HEADER = re.compile(r"^(From|To|Cc|Date|Subject): ")


def owner_of(sentence: str) -> str | None:
    """Who the sentence gives the task to, when it says."""
    for p in OWNER_KO:
        m = p.search(sentence)
        if m:
            return m.group("o").strip()
    for p in OWNER_EN:
        m = p.search(sentence)
        if m and m.group("o").split()[0] not in NOT_OWNER:
            return m.group("o")
    return None


def due_of(sentence: str) -> str | None:
    """The deadline the sentence states, when it does."""
    for p in (DUE_KO, DUE_EN):
        m = p.search(sentence)
        if m:
            return m.group("d").strip()
    found = dates(sentence)
    return found[0] if found else None


def action_items(doc: Document, limit: int = 30) -> list[dict]:
    """``[{"task", "owner", "due", "location"}]`` in document order (at most ``limit``)."""
    out = []
    for s in sentences(doc.text):
        text = s.text
        if HEADER.match(text) or len(text) < 8:
            continue
        if not (CUE_EN.search(text) or CUE_KO.search(text)):
            continue
        out.append({"task": text, "owner": owner_of(text), "due": due_of(text),
                    "location": doc.location(s.start, s.end)})
        if len(out) >= limit:
            break
    return out
