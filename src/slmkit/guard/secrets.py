"""Recognizers for credentials: API keys with known prefixes, JWTs, PEM private keys, and
high-entropy strings next to words like key/token/secret/password.

Hex ids, hashes and UUIDs in log lines are only flagged when a credential word names them
(``token=3f2a…``); on their own they are not secrets.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from slmkit.guard import checks
from slmkit.guard.base import API_KEY, JWT, PRIVATE_KEY, SECRET, Finding, Recognizer

_KNOWN_PREFIXES = "|".join((
    r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}",  # AWS access key id
    r"gh[pousr]_[A-Za-z0-9]{36,255}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{22,255}",  # GitHub fine-grained tokens
    r"xox[abprse]-[A-Za-z0-9\-]{10,250}",  # Slack tokens
    r"sk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_\-]{20,250}",  # OpenAI/Anthropic
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API key
    r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,247}",  # Stripe secret/restricted keys
    r"glpat-[0-9A-Za-z_\-]{20}",  # GitLab
    r"hf_[A-Za-z]{34}",  # Hugging Face
    r"npm_[A-Za-z0-9]{36}",  # npm
    r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",  # SendGrid
))
_SLACK_WEBHOOK = r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"

# Words that name a credential, inside a key name (AWS_SECRET_ACCESS_KEY) or prose.
_CRED_WORD_KR = r"(?:비밀번호|암호|토큰|인증키|비밀키)"
_CRED_WORD = (r"(?:api[_\- ]?key|apikey|access[_\-]?key|key|secret|token|passw(?:or)?d|passwd|pwd"
              r"|credential|auth|bearer|private[_\-]?key|signing[_\-]?key|client[_\-]?key"
              r"|" + _CRED_WORD_KR + ")")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=_.~\-]+")
_PASSWORD_WORD = re.compile(r"(?i)passw(?:or)?d|passwd|pwd|비밀번호|암호")
_PLACEHOLDER_VALUES = re.compile(
    r"(?i)^(?:\*+|x+|\.+|-+|null|none|nil|true|false|yes|no|empty|redacted|hidden|masked|"
    r"changeme|required|optional|string|your[_\-].*|<.*>|\$\{.*\}|\$[A-Z_]+|%\(.*|\{\{.*)$")


def _known(text: str, m: re.Match[str]) -> float | None:
    token = m.group()
    if token.startswith("sk-") and not any(c.isdigit() for c in token):
        return None  # sk-learn-style names, not keys
    return 1.0


def _strong(value: str, *, min_len: int, min_bits: float) -> bool:
    """Looks random: long enough, several character classes, high entropy."""
    if len(value) < min_len:
        return False
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value),
                   any(c.isdigit() for c in value)))
    if classes < 2:
        return False
    return checks.entropy_bits(value) >= min_bits


def _assignment(text: str, m: re.Match[str]) -> float | None:
    """``password=…``, ``"api_key": "…"``, ``AWS_SECRET_ACCESS_KEY=…``."""
    value = m.group("v")
    if _PLACEHOLDER_VALUES.match(value) or value.startswith("<"):
        return None
    if _PASSWORD_WORD.search(m.group("k")):
        return 0.9 if len(value) >= 6 and not value.isdigit() else None
    if not _TOKEN_CHARS.fullmatch(value):
        return None  # "user:1234:profile", paths, URLs: not a token
    return 0.9 if _strong(value, min_len=16, min_bits=3.0) else None


def _nearby(text: str, m: re.Match[str]) -> float | None:
    """A random-looking string shortly after a credential word in prose."""
    return 0.8 if _strong(m.group("v"), min_len=20, min_bits=3.5) else None


_PEM_BEGIN = re.compile(r"-----BEGIN (?P<kind>[A-Z0-9 ]{0,40}?)PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?P<kind>[A-Z0-9 ]{0,40}?)PRIVATE KEY(?: BLOCK)?-----")
PEM_MAX_BODY = 16_000


@dataclass(frozen=True)
class PemBlocks(Recognizer):
    """Whole PEM private-key blocks: a BEGIN line, at most ``PEM_MAX_BODY`` characters, and
    the first END line of the same kind. Every END line is indexed once and each BEGIN line
    looks its END up by bisection, so a text full of unterminated BEGIN lines costs linear
    time (a lazy ``[\\s\\S]{0,16000}?`` regex re-scanned the window from every BEGIN)."""

    def find(self, text: str) -> Iterator[Finding]:
        if "-----BEGIN " not in text or "-----END " not in text:
            return
        ends: dict[str, list[tuple[int, int]]] = {}
        for m in _PEM_END.finditer(text):
            ends.setdefault(m.group("kind"), []).append((m.start(), m.end()))
        done = 0
        for m in self.pattern.finditer(text):
            if m.start() < done:
                continue  # inside the block found before
            found = ends.get(m.group("kind"), ())
            i = bisect.bisect_left(found, (m.end(), -1))
            if i < len(found) and found[i][0] - m.end() <= PEM_MAX_BODY:
                done = found[i][1]
                yield Finding(self.entity, m.start(), done, self.score, self.name)


RECOGNIZERS: tuple[Recognizer, ...] = (
    PemBlocks("pem_private_key", PRIVATE_KEY, _PEM_BEGIN, score=1.0),
    # an unterminated block (cut off, or still streaming): everything base64-like after BEGIN
    Recognizer("pem_private_key_open", PRIVATE_KEY, re.compile(
        r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s:\-,]*+"),
        score=0.99),
    Recognizer("known_prefix", API_KEY, re.compile(
        r"(?<![A-Za-z0-9_\-])(?:" + _KNOWN_PREFIXES + "|" + _SLACK_WEBHOOK
        + r")(?![A-Za-z0-9_\-])"), _known),
    Recognizer("jwt", JWT, re.compile(
        r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
        r"(?![A-Za-z0-9_\-])"), score=0.98),
    # the key is the whole run of key characters before the separator, taken possessively
    # (no backtracking, so linear time); a bounded lookahead first checks that the run holds
    # a credential word, so a "note": "password=…" key does not swallow the real one
    Recognizer("secret_assignment", SECRET, re.compile(
        r"(?i)(?<![A-Za-z0-9_.\-])(?=[A-Za-z0-9_.\-]{0,128}?" + _CRED_WORD + r")"
        r"(?P<k>[A-Za-z0-9_.\-]{0,128}+"
        r"(?:" + _CRED_WORD_KR + r"[A-Za-z0-9_.\-]{0,64}+)?)"
        r"[\"']?\s*+[:=]\s*+(?:bearer\s++|basic\s++)?[\"']?(?P<v>[^\s\"',;&)}\]]{4,512}+)"),
        _assignment),
    Recognizer("secret_nearby", SECRET, re.compile(
        r"(?i)" + _CRED_WORD + r"(?![A-Za-z])[^\n]{0,30}?(?<![A-Za-z0-9+/_=\-])"
        r"(?P<v>[A-Za-z0-9+/_=\-]{20,512}+)(?![A-Za-z0-9+/_=\-])"), _nearby),
)
