"""Person names: titles and context words by default (English and Korean), NER only when a
model for it is installed.

A capitalised word alone is never a name here (log lines are full of them); it takes a
title ("Dr. Kim"), a label ("name: Jane Doe", "성명: 홍길동"), a phrase ("my name is …",
"Dear …"), its own e-mail address next to it ("Jane Miller <jane.miller@x.com>") or a
Korean honorific after a surname-led word ("김민수 님").
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator

from slmkit.guard.base import PERSON, Finding, Recognizer

_WORD = r"(?:[A-Z][a-z]+(?:['’\-][A-Z]?[a-z]+)?|[A-Z]\.)"
_NAME = _WORD + r"(?:[ \t]+" + _WORD + r"){0,2}"
_TITLES = r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Madam|Mme|Mlle|Herr|Frau|Rev|Capt)"
_LABELS = (r"(?:full[ _]name|first[ _]name|last[ _]name|surname|name|patient|customer|"
           r"employee|applicant|cardholder|account holder|beneficiary|contact person|"
           r"signed by|assigned to|prepared by|requested by|attn)")
_PHRASES = r"(?:my name is|his name is|her name is|their name is|dear|regards,|sincerely,)"

# The most common Korean surnames (over 95% of the population).
KR_SURNAMES = ("김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우"
               "구민진지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉")
_KR_HONORIFICS = (r"(?:씨|님|선생님|교수님|박사님|대표님|사장님|회장님|이사님|본부장님|부장님|"
                  r"차장님|과장님|팀장님|대리님|주임님|실장님|원장님|변호사님|기자님|고객님|환자분|씨께)")
_KR_LABELS = (r"(?:이름|성명|성함|담당자|작성자|신청인|신청자|환자명|고객명|예금주|"
              r"대표자|수신인|보호자)")
# words that start with a surname syllable and take 님/씨 but are not names
_KR_NOT_NAMES = frozenset((
    "고객", "사장", "선생", "교수", "회원", "여러분", "손님", "부모", "이사", "원장", "주인",
    "도사", "신부", "수녀", "형", "누나", "언니", "오빠", "조카", "사모", "장인", "장모", "기사",
    "공주", "왕자", "하느", "하나", "부처", "주님", "성도", "목사", "전도사", "이분", "저분",
))

TITLE_RE = re.compile(r"(?<![A-Za-z])" + _TITLES + r"\.?[ \t]+(?P<v>" + _NAME + r")")
LABEL_RE = re.compile(r"(?i:(?<![A-Za-z])" + _LABELS + r")[ \t]*[:=][ \t]*(?P<v>" + _NAME + r")")
PHRASE_RE = re.compile(r"(?i:(?<![A-Za-z])" + _PHRASES + r")[ \t]+(?P<v>" + _NAME + r")")
KR_HONORIFIC_RE = re.compile(
    r"(?<![가-힣])(?P<v>[" + KR_SURNAMES + r"][가-힣]{1,2})[ \t]?" + _KR_HONORIFICS)
KR_LABEL_RE = re.compile(
    _KR_LABELS + r"[ \t]*[:：=]?[ \t]*(?P<v>[" + KR_SURNAMES + r"][가-힣]{1,2})")

_KR_NOT_NAMES_RE = re.compile("|".join(sorted(_KR_NOT_NAMES, key=len, reverse=True)))

# Labels that are usually followed by something else in logs ("name: Redis").
_NOT_NAMES = frozenset(("The", "This", "That", "None", "Null", "True", "False", "Unknown",
                        "Error", "Warning", "Info", "Debug", "Default", "Admin", "User"))


def _latin(text: str, m: re.Match[str]) -> float | None:
    first = m.group("v").split()[0]
    return None if first in _NOT_NAMES else 0.85


def _latin_full(text: str, m: re.Match[str]) -> float | None:
    """After a label, a single word is too often a service or a product ("name: Redis")."""
    return _latin(text, m) if len(m.group("v").split()) > 1 else None


# A name written next to its own e-mail address: "Jane Miller <jane.miller@x.com>" (a
# display name), "Jane Miller, jmiller@x.com", "Jane Miller (jane@x.com)".
NEXT_TO_EMAIL_RE = re.compile(
    r"(?<![A-Za-z])(?P<v>" + _NAME + r")(?:[ \t]*<|[ \t]*\(|,[ \t]*|[ \t]+)"
    r"(?P<local>[A-Za-z0-9._%+-]{2,64})@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# mailboxes of roles, not people: a matching "Support Team" is not a name
_ROLE_MAILBOXES = frozenset((
    "admin", "billing", "contact", "contracts", "hello", "help", "helpdesk", "hr", "info",
    "jobs", "legal", "mail", "marketing", "news", "noreply", "notices", "office", "orders",
    "press", "privacy", "sales", "security", "service", "support", "team", "webmaster"))


def _next_to_email(text: str, m: re.Match[str]) -> tuple[float, int, int] | None:
    """The words of the name that its e-mail's local part repeats (``jane.miller`` for
    "Jane Miller", ``jmiller`` for "J. Miller"), from the first such word (or the initial
    just before it); None when no word of three letters or more is in the local part."""
    local = m.group("local").lower()
    if re.split(r"[._%+-]", local)[0] in _ROLE_MAILBOXES:
        return None
    words = list(re.finditer(r"\S+", m.group("v")))
    hits = [i for i, w in enumerate(words)
            if len(w.group()) >= 3 and w.group().lower().strip("'’-") in local]
    if not hits or words[hits[0]].group() in _NOT_NAMES:
        return None
    first = hits[0] - 1 if hits[0] > 0 and words[hits[0] - 1].group().endswith(".") else hits[0]
    base = m.start("v")
    return 0.85, base + words[first].start(), base + words[-1].end()


def _korean(text: str, m: re.Match[str]) -> float | None:
    if _KR_NOT_NAMES_RE.match(m.group("v")):
        return None
    return 0.85


RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("person_title", PERSON, TITLE_RE, _latin),
    Recognizer("person_label", PERSON, LABEL_RE, _latin_full),
    Recognizer("person_phrase", PERSON, PHRASE_RE, _latin),
    Recognizer("person_email", PERSON, NEXT_TO_EMAIL_RE, _next_to_email),
    Recognizer("person_kr_honorific", PERSON, KR_HONORIFIC_RE, _korean),
    Recognizer("person_kr_label", PERSON, KR_LABEL_RE, _korean),
)

SPACY_MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf",
                "xx_ent_wiki_sm", "ko_core_news_sm", "ko_core_news_md", "ko_core_news_lg")


def installed_ner_model() -> str | None:
    """The first spaCy NER model installed next to presidio-analyzer, or None."""
    if importlib.util.find_spec("presidio_analyzer") is None:
        return None
    return next((m for m in SPACY_MODELS if importlib.util.find_spec(m) is not None), None)


class NerNames:
    """PERSON findings from Presidio's analyzer over an installed spaCy model (lazy)."""

    def __init__(self, model: str, *, min_score: float = 0.6) -> None:
        self.model, self.min_score = model, min_score
        self._analyzer = None
        self._lang = model.split("_", 1)[0] if not model.startswith("xx") else "en"

    def _load(self):
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        config = {"nlp_engine_name": "spacy",
                  "models": [{"lang_code": self._lang, "model_name": self.model}]}
        engine = NlpEngineProvider(nlp_configuration=config).create_engine()
        return AnalyzerEngine(nlp_engine=engine, supported_languages=[self._lang])

    def find(self, text: str) -> Iterator[Finding]:
        """PERSON entities the NER model sees with at least ``min_score``."""
        if self._analyzer is None:
            self._analyzer = self._load()
        for r in self._analyzer.analyze(text, language=self._lang, entities=["PERSON"]):
            if r.score >= self.min_score:
                yield Finding(PERSON, r.start, r.end, min(r.score, 0.8), "ner:" + self.model)
