"""The fixed first-contact prompt set (issue 14) and its automatic correctness checks.

Each prompt has a check ``(answer) -> (ok, why)``: expected substrings or a regex for facts
and arithmetic, the answer's function executed on test cases in a child interpreter (with a
timeout) for code, and for summaries: shorter than the input, mentions the key facts, and not
a copy of the input (few of the answer's character 12-grams appear in the input).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

Check = Callable[[str], "tuple[bool, str]"]

CODE_TIMEOUT_S = 5.0
COPY_NGRAM = 12
MAX_COPIED_SHARE = 0.5  # more than half the answer's 12-grams found in the input …
COPY_LENGTH = 0.6  # … in an answer over 60% of the input's length = a copy (shorter
# extractive summaries — the input's key sentences, trimmed — pass)
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@dataclass(frozen=True)
class Prompt:
    """One prompt: an id, its kind (facts, arithmetic, code, korean, summary), the text,
    a token budget and the check."""

    id: str
    kind: str
    text: str
    check: Check
    max_tokens: int = 48


def has(*patterns: str, flags: int = re.I) -> Check:
    """Every regex in ``patterns`` occurs in the answer."""
    def check(answer: str) -> tuple[bool, str]:
        missing = [p for p in patterns if not re.search(p, answer, flags)]
        return (not missing, f"missing {missing}" if missing else "ok")
    return check


def extract_code(answer: str) -> str:
    """The first fenced code block of ``answer`` (any language tag), else the whole text."""
    m = re.search(r"```[\w+-]*\n(.*?)(?:```|$)", answer, re.S)
    return m.group(1) if m else answer


def runs_python(function: str, cases: list[tuple[str, str]]) -> Check:
    """The answer's code defines ``function`` and ``function(args) == expected`` for every
    case, run in a child interpreter with a timeout."""
    def check(answer: str) -> tuple[bool, str]:
        code = extract_code(answer)
        if f"def {function}" not in code:
            return False, f"no def {function}"
        tests = "\n".join(f"assert {function}({a}) == {e}, {a!r}" for a, e in cases)
        program = f"{code}\n\n{tests}\nprint('PASS')\n"
        try:
            out = subprocess.run([sys.executable, "-I", "-c", program], capture_output=True,
                                 text=True, timeout=CODE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return False, "timeout"
        if "PASS" in out.stdout:
            return True, "ok"
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return False, last[:80]
    return check


def copied_share(answer: str, source: str, n: int = COPY_NGRAM) -> float:
    """Share of the answer's character ``n``-grams (whitespace collapsed) found in source."""
    a, s = (" ".join(t.split()) for t in (answer, source))
    grams = [a[i:i + n] for i in range(max(0, len(a) - n + 1))]
    if not grams:
        return 0.0
    seen = {s[i:i + n] for i in range(max(0, len(s) - n + 1))}
    return sum(g in seen for g in grams) / len(grams)


def summary_of(source: str, *key_patterns: str, korean: bool = False) -> Check:
    """A summary: non-empty, shorter than the source, not a copy of it (long and mostly
    the input's own 12-grams), mentions the keys, and (``korean``) written in Korean."""
    def check(answer: str) -> tuple[bool, str]:
        text = answer.strip()
        if len(text) < 10:
            return False, "empty"
        if len(text) >= 0.9 * len(source):
            return False, "not shorter than the input"
        share = copied_share(text, source)
        if share > MAX_COPIED_SHARE and len(text) > COPY_LENGTH * len(source):
            return False, f"copy ({share:.0%} of 12-grams from the input)"
        if korean and len(HANGUL.findall(text)) < 0.3 * len(re.sub(r"\W", "", text)):
            return False, "not Korean"
        return has(*key_patterns)(text)
    return check


def covered_share(answer: str, source: str, n: int = COPY_NGRAM) -> float:
    """Share of the answer's characters in verbatim ``n``+ character runs of ``source``
    (the summarizer's own measure: ``slmkit.apps.summarize.checks.covered_share``)."""
    from slmkit.apps.summarize.checks import covered_share as share

    return share(answer, source, n)


def hangul_share(text: str) -> float:
    """Share of the letters (and digits) of ``text`` that are Hangul syllables."""
    letters = re.sub(r"[\W_]", "", text)
    return len(HANGUL.findall(letters)) / len(letters) if letters else 0.0


def repeated_share(text: str, n: int = 8) -> float:
    """Share of the character ``n``-grams of ``text`` (whitespace collapsed) that repeat an
    earlier one: a looping answer ("직원 여러분께 알립니다. 직원 여러분께 알립니다. …")."""
    t = " ".join(text.split())
    grams = [t[i:i + n] for i in range(max(0, len(t) - n + 1))]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


LOOPING = 0.3  # over 30% repeated 8-grams: the answer loops
ECHO_COVERED = 0.7  # >70% of the answer copied verbatim from the input …
ECHO_LENGTH = 0.6  # … and at least 60% of the input's length: the input given back


def summary_metrics(answer: str, source: str, keys: tuple[str, ...], max_lines: int) -> dict:
    """What issue 14 counts for a summary: copied verbatim (>70% of its characters in runs
    of 12+ input characters), an echo (copied and >= 60% of the input's length), in Korean
    (>= 50% Hangul letters), within the ask (at most ``max_lines`` non-empty lines and
    shorter than 60% of the input), the key facts present, looping (over 30% of its
    8-grams repeated), and ``ok`` = all good."""
    text = answer.strip()
    covered = covered_share(text, source)
    lines = len([line for line in text.splitlines() if line.strip()])
    out = {"covered": round(covered, 3), "length_ratio": round(len(text) / len(source), 3),
           "lines": lines, "copied": covered > ECHO_COVERED,
           "echo": covered > ECHO_COVERED and len(text) >= ECHO_LENGTH * len(source),
           "korean": hangul_share(text) >= 0.5,
           "within_ask": 0 < lines <= max_lines and len(text) < ECHO_LENGTH * len(source),
           "key_fact": all(re.search(k, text) for k in keys),
           "loops": repeated_share(text) > LOOPING}
    out["ok"] = (not out["echo"] and not out["loops"] and out["korean"] and out["within_ask"]
                 and out["key_fact"])
    return out


KO_EMAILS_FILE = Path(__file__).resolve().parent / "data" / "ko-emails" / "emails.json"


def ko_emails() -> list[dict]:
    """The ten Korean e-mails (``id``, ``text``, ``keys``: regexes of the key fact) of
    benchmarks/data/ko-emails, written for this benchmark."""
    return json.loads(KO_EMAILS_FILE.read_text(encoding="utf-8"))["emails"]


EMAIL_EN = (
    "Hi team, the quarterly review meeting has moved from Tuesday to Thursday at 3 pm in "
    "room 4B, because the finance numbers will only be final on Wednesday. Please send "
    "your slides to Maria by Wednesday noon, keep them under ten slides, and include the "
    "hiring plan for next quarter. Remote attendees will get a video link in the calendar "
    "invite. Thanks, Daniel")

EMAIL_KO_1 = (
    "안녕하세요 팀원 여러분, 이번 주 화요일에 예정되었던 분기 실적 회의가 목요일 오후 3시로 "
    "변경되었습니다. 재무 자료가 수요일에야 확정되기 때문입니다. 회의 장소는 본관 4층 "
    "대회의실입니다. 발표 자료는 수요일 정오까지 김민지 대리에게 보내 주시고, 다음 분기 채용 "
    "계획을 꼭 포함해 주세요. 원격 참석자에게는 화상 회의 링크를 따로 보내 드리겠습니다. "
    "감사합니다. 박준호 드림")

EMAIL_KO_2 = (
    "고객님, 주문하신 노트북의 배송이 물류 센터 사정으로 3일 지연될 예정입니다. 원래 도착 "
    "예정일은 5월 10일이었으나 5월 13일에 도착할 것으로 예상됩니다. 불편을 드려 죄송하며, "
    "사과의 의미로 다음 주문에 사용할 수 있는 1만 원 할인 쿠폰을 발급해 드렸습니다. 주문을 "
    "취소하고 싶으시면 고객센터로 연락해 주시면 전액 환불해 드립니다. 감사합니다.")

EMAIL_KO_3 = (
    "관리자님께, 오늘 밤 11시부터 내일 새벽 2시까지 데이터베이스 서버 점검이 있습니다. "
    "점검 시간 동안 사내 결재 시스템과 메일 서비스를 사용할 수 없습니다. 급한 결재는 오늘 "
    "오후 6시 전에 처리해 주시기 바랍니다. 점검이 늦어지면 전산팀에서 문자로 알려 드리겠습니다. "
    "문의는 내선 2045번으로 해 주세요.")

PROMPTS: tuple[Prompt, ...] = (
    Prompt("capital-france", "facts", "What is the capital of France?", has(r"\bParis\b")),
    Prompt("largest-planet", "facts", "What is the largest planet in our solar system?",
           has(r"\bJupiter\b")),
    Prompt("romeo-juliet", "facts", "Who wrote Romeo and Juliet?", has(r"Shakespeare")),
    Prompt("add-12-7", "arithmetic", "What is 12 + 7?", has(r"(?<![\d.])19(?!\d|\.\d)")),
    Prompt("times-6-8", "arithmetic", "What is 6 times 8?", has(r"(?<![\d.])48(?!\d|\.\d)")),
    Prompt("reverse-string", "code", "Reverse a string in Python",
           has(r"\[\s*::\s*-1\s*\]|reversed\("), max_tokens=80),
    Prompt("reverse-function", "code", "Write a Python function that reverses a string.",
           has(r"def \w+\(", r"\[\s*::\s*-1\s*\]|reversed\("), max_tokens=120),
    Prompt("reverse-named", "code",
           "Write a Python function reverse(s) that returns the string s reversed.",
           runs_python("reverse", [("'abc'", "'cba'"), ("''", "''"), ("'한국어'", "'어국한'")]),
           max_tokens=256),
    Prompt("is-prime", "code",
           "Write a Python function is_prime(n) that returns True if n is a prime number.",
           runs_python("is_prime", [("2", "True"), ("15", "False"), ("17", "True"),
                                    ("1", "False"), ("97", "True")]), max_tokens=256),
    Prompt("factorial", "code", "Write a Python function factorial(n) that returns n!.",
           runs_python("factorial", [("0", "1"), ("5", "120"), ("10", "3628800")]),
           max_tokens=256),
    Prompt("ko-capital", "korean", "대한민국의 수도는 어디인가요?", has("서울"), max_tokens=64),
    Prompt("ko-arith", "korean", "3 더하기 4는 얼마인가요?", has(r"(?<![\d.])7(?!\d|\.\d)|일곱|칠"), max_tokens=64),
    Prompt("summary-en", "summary", f"Summarize this e-mail in one sentence:\n\n{EMAIL_EN}",
           summary_of(EMAIL_EN, r"Thursday"), max_tokens=96),
    Prompt("summary-ko-meeting", "summary", f"다음 이메일을 세 줄로 요약해줘:\n\n{EMAIL_KO_1}",
           summary_of(EMAIL_KO_1, "목요일", korean=True), max_tokens=160),
    Prompt("summary-ko-delivery", "summary", f"다음 이메일을 세 줄로 요약해줘:\n\n{EMAIL_KO_2}",
           summary_of(EMAIL_KO_2, r"지연|늦", korean=True), max_tokens=160),
    Prompt("summary-ko-maintenance", "summary",
           f"다음 이메일을 세 줄로 요약해줘:\n\n{EMAIL_KO_3}",
           summary_of(EMAIL_KO_3, "점검", korean=True), max_tokens=160),
)

# The README tour's examples (model None = the default model)
TOUR = ("capital-france", "reverse-named")


def by_id(prompt_id: str) -> Prompt:
    """The prompt with this id (KeyError names the known ids)."""
    for p in PROMPTS:
        if p.id == prompt_id:
            return p
    raise KeyError(f"unknown prompt {prompt_id!r}; known: {[p.id for p in PROMPTS]}")
