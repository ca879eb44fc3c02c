"""Recognizers for structured identifiers: e-mail, phone, payment card, IBAN, bank account,
IP address, credentials in URLs, Korean resident/business registration numbers, passport numbers.

Precision comes from validation rather than from the regex: checksums (Luhn, mod-97,
RRN, BRN), date checks, card issuer ranges, and context words where a format alone is too
common (passport numbers, bank account numbers, bare 10/13-digit Korean numbers). Numbers glued to dots, dashes
or colons (versions, timestamps, OIDs, ports) are excluded by the boundaries.
"""

from __future__ import annotations

import re

from slmkit.guard import checks
from slmkit.guard.base import (
    BANK_ACCOUNT,
    CREDIT_CARD,
    EMAIL,
    IBAN,
    IP_ADDRESS,
    KR_BRN,
    KR_RRN,
    PASSPORT,
    PHONE,
    URL_CREDENTIALS,
    Recognizer,
    near,
    preceded_by,
    words,
)

PHONE_CONTEXT = words("phone", "tel", "mobile", "cell", "call", "fax", "contact", "whatsapp",
                      "전화", "휴대폰", "핸드폰", "연락처", "팩스", "전화번호")
RRN_CONTEXT = words("주민등록번호", "주민번호", "주민", "resident registration", "rrn", "ssn")
BRN_CONTEXT = words("사업자등록번호", "사업자 등록번호", "사업자번호", "사업자",
                    "business registration", "brn", "tax id", "company registration")
# Bank account numbers carry no public checksum (Korean banks write 3-3-6, 4-3-6, 6-2-6,
# 3-6-5, 4-2-7 … groups): the format alone is any number, so a bank word must be near.
# ("우리은행", "카카오뱅크" are covered by 은행/뱅크; bare 우리/하나/국민 are everyday words).
ACCOUNT_CONTEXT = words("계좌", "계좌번호", "입금", "송금", "이체", "예금주", "은행", "뱅크",
                        "농협", "신한", "우체국", "새마을금고", "수협", "신협", "account", "acct",
                        "a/c", "bank", "routing", "deposit", "wire")
KR_PHONE_SHAPE = re.compile(r"(?:01[016789]|02|0[3-6][1-5]|070|050\d)[ .\-]?\d{3,4}[ .\-]?\d{4}")
PASSPORT_CONTEXT = words("passport", "여권", "passport no", "passport number", "travel document",
                         "pasaporte", "reisepass", "passeport")
VERSIONISH = re.compile(
    r"(?i)(?<![A-Za-z])(?:v|version|ver\.?|release|build|firmware|kernel|rev)\s*[:=]?\s*$")
PRODUCT = re.compile(r"[A-Za-z]/$")  # Chrome/120.0.0.0
# software names and package architectures before a dotted version ("python 3.5.2.249")
SOFTWARE = re.compile(
    r"(?i)(?<![A-Za-z])(?:python\d?|node(?:js)?|java|jdk|jre|go|ruby|php|perl|rustc|kernel|linux|"
    r"openssl|gcc|clang|chrome|firefox|android|ios|windows|macos|ubuntu|debian|nginx|apache|"
    r"postgres(?:ql)?|mysql|redis|docker|helm|sdk|agent|driver|bios|amd64|arm64|i386|armhf|"
    r"x86_64|noarch|all)\)?[ \t]*\(?[ \t]*$")
# "image:1.2.3.4" is a tag unless the word before the colon names an address
TAGGED = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*):$")
IP_WORD = re.compile(r"(?i)ip|addr|host|inet|client|server|src|dst|peer|remote|from|gateway|gw|"
                     r"dns|proxy|forward|origin|nat|vip|lb|bind|listen|node")
VERSION_KEY = re.compile(r"(?i)ver|fw|firmware|rev|build|release|tag|pkg|package|sdk|kernel")
KEYED = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*)[\"']?\s*[=:]\s*[\"']?$")
COUNTER_KEY = re.compile(
    r"(?i)(?:^|[_.\-])(?:id|seq|sequence|offset|ts|time|timestamp|tid|pid|uid|gid|trace|span|"
    r"count|num|nonce|epoch|size|bytes|lag|partition|port|version|hash|checksum|crc|tick|"
    r"duration|elapsed|ms|ns|us|sec|total|index|idx|ino|inode|addr)(?:$|[_.\-])")
CARD_WORD = re.compile(r"(?i)card|cc|pan|credit|visa|master|amex|카드")
HANGUL = re.compile(r"[가-힣]")


def _email(text: str, m: re.Match[str]) -> float | None:
    local, _, domain = m.group().rpartition("@")
    if ".." in local or local.endswith(".") or domain.startswith("-"):
        return None
    return 0.95


def _phone_international(text: str, m: re.Match[str]) -> float | None:
    n = len(checks.digits_of(m.group()))
    return 0.9 if 8 <= n <= 15 else None


def _phone_kr(text: str, m: re.Match[str]) -> float | None:
    raw = m.group()
    separated = not raw.isdigit()
    if raw.startswith("01"):
        return 0.9 if separated or near(text, m.start(), m.end(), PHONE_CONTEXT) else 0.7
    # landline: separators, or a context word, or Korean text around it
    if separated or near(text, m.start(), m.end(), PHONE_CONTEXT):
        return 0.85
    return None


DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def _phone_context(text: str, m: re.Match[str]) -> float | None:
    if DATE.fullmatch(m.group()):
        return None
    n = len(checks.digits_of(m.group()))
    if 7 <= n <= 15 and near(text, m.start(), m.end(), PHONE_CONTEXT, before=25):
        return 0.75
    return None


def _card(text: str, m: re.Match[str]) -> float | None:
    raw = m.group()
    number = checks.digits_of(raw)
    if not (13 <= len(number) <= 19 and checks.card_brand_ok(number) and checks.luhn_ok(number)):
        return None
    groups = [len(g) for g in re.split(r"[ -]", raw)]
    if len(groups) > 1 and not _card_grouping_ok(groups):
        return None
    if len(groups) == 1:  # "seq=36311056760241", "tid: 4012…": a counter, not a card
        key = KEYED.search(text[max(0, m.start() - 32):m.start()])
        if key and COUNTER_KEY.search(key.group(1)) and not CARD_WORD.search(key.group(1)):
            return None
    return 0.95


def _card_grouping_ok(groups: list[int]) -> bool:
    if groups in ([4, 6, 5], [4, 6, 4]):  # Amex, Diners
        return True
    return all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4


def _iban(text: str, m: re.Match[str]) -> tuple[float, int, int] | None:
    """Valid as matched, or after dropping trailing groups that were a following word
    ("… 9848 IBAN", "… 6618 CC")."""
    value = m.group()
    while len(value) >= 15:
        if checks.iban_ok(value.replace(" ", "")):
            return 1.0, m.start(), m.start() + len(value)
        cut = value.rfind(" ")
        if cut < 0:
            return None
        value = value[:cut]
    return None


def _ipv4(text: str, m: re.Match[str]) -> float | None:
    parts = m.group().split(".")
    if any(len(p) > 1 and p[0] == "0" for p in parts) or any(int(p) > 255 for p in parts):
        return None
    if _version_context(text, m.start()):
        return None
    if not checks.ip_ok(m.group()):
        return None
    return 0.9


def _version_context(text: str, start: int) -> bool:
    """A dotted quad that is a version: "version 1.2.3.4", "Chrome/120.0.0.0",
    "python 3.5.2.249", "libssl3:amd64 (7.6.5.110)", "nginx:6.5.5.150", "fw=2.4.1.18"."""
    if any(preceded_by(text, start, p, 24) for p in (VERSIONISH, PRODUCT, SOFTWARE)):
        return True
    before = text[max(0, start - 32):start]
    tag = TAGGED.search(before)
    if tag:
        return not IP_WORD.search(tag.group(1))
    key = KEYED.search(before)
    return bool(key) and VERSION_KEY.search(key.group(1)) is not None


def _ipv6(text: str, m: re.Match[str]) -> float | None:
    value = m.group()
    if value.count(":") < 2 or not checks.ip_ok(value):
        return None
    return 0.9


def _rrn(text: str, m: re.Match[str]) -> float | None:
    digits = m.group("a") + m.group("b")
    if not checks.rrn_date_ok(digits):
        return None
    context = near(text, m.start(), m.end(), RRN_CONTEXT) or near(
        text, m.start(), m.end(), HANGUL, before=20, after=20)
    if checks.rrn_checksum_ok(digits):
        return 1.0 if m.group("sep") == "-" or context else None
    # numbers issued since October 2020 carry no check digit: written form + context
    return 0.8 if m.group("sep") and context else None


def _brn(text: str, m: re.Match[str]) -> float | None:
    if not checks.brn_ok(checks.digits_of(m.group())):
        return None
    if m.group().count("-") == 2 or near(text, m.start(), m.end(), BRN_CONTEXT):
        return 0.95
    return None


def _bank_account(text: str, m: re.Match[str]) -> float | None:
    """10–16 digits, grouped or not, with a bank word within 30 characters before (or 12
    after: "… (신한은행)"); dates and phone-shaped numbers without bank words never get here."""
    if not 10 <= len(checks.digits_of(m.group())) <= 16:
        return None
    # a phone-shaped number is an account only when the bank word labels it directly
    before = 12 if KR_PHONE_SHAPE.fullmatch(m.group()) else 30
    if near(text, m.start(), m.end(), ACCOUNT_CONTEXT, before=before, after=12):
        return 0.9
    return None


def _passport(text: str, m: re.Match[str]) -> float | None:
    return 0.85 if near(text, m.start(), m.end(), PASSPORT_CONTEXT, before=40) else None


# ASCII boundaries: no letter, digit or joiner (., -, _, +, :) glued to the value.
_B = r"(?<![A-Za-z0-9_.+\-:])"
_E = r"(?![A-Za-z0-9_\-:]|\.\d)"

RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("email", EMAIL, re.compile(
        r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9_\-])"),
        _email),
    Recognizer("phone_intl", PHONE, re.compile(
        r"(?<![A-Za-z0-9_+])\+[1-9]\d{0,3}(?:[ .\-]?\(?\d{1,5}+\)?){1,5}+" + _E),
        _phone_international),
    Recognizer("phone_kr", PHONE, re.compile(
        _B + r"(?:01[016789]|02|0[3-6][1-5]|070|050\d)[ .\-)]?\d{3,4}[ .\-]?\d{4}" + _E),
        _phone_kr),
    Recognizer("phone_nanp", PHONE, re.compile(
        r"(?<![A-Za-z0-9_.+\-:(])(?:\([2-9]\d{2}\)\s?[2-9]\d{2}[.\-\s]\d{4}"
        r"|[2-9]\d{2}(?P<s>[.\-])[2-9]\d{2}(?P=s)\d{4})" + _E), score=0.85),
    Recognizer("phone_context", PHONE, re.compile(
        _B + r"\(?\d{2,5}\)?(?:[ .\-]\d{2,5}){1,4}" + _E), _phone_context),
    Recognizer("credit_card", CREDIT_CARD, re.compile(
        _B + r"\d{4}(?:[ \-]?\d{2,6}){1,3}(?:[ \-]?\d{1,4})?" + _E), _card),
    Recognizer("iban", IBAN, re.compile(
        r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"),
        _iban),
    Recognizer("bank_account", BANK_ACCOUNT, re.compile(
        r"(?<![A-Za-z0-9_.+\-:])(?:\d{2,6}(?:[ \-]\d{2,8}){1,4}|\d{10,16})" + _E), _bank_account),
    Recognizer("ipv4", IP_ADDRESS, re.compile(
        r"(?<![A-Za-z0-9_.\-])(?:\d{1,3}\.){3}\d{1,3}(?![A-Za-z0-9_\-]|\.\d)"), _ipv4),
    Recognizer("ipv6", IP_ADDRESS, re.compile(
        r"(?<![A-Za-z0-9_:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
        r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[A-Za-z0-9]+)?(?![A-Za-z0-9_:]|\.\d)"),
        _ipv6),
    Recognizer("url_credentials", URL_CREDENTIALS, re.compile(
        r"[A-Za-z][A-Za-z0-9+.\-]{1,15}://(?P<v>[^\s:/?#@]{0,128}:[^\s/?#@]{1,256})@[^\s/?#@]"),
        score=1.0),
    Recognizer("kr_rrn", KR_RRN, re.compile(
        r"(?<![0-9\-])(?P<a>\d{6})(?P<sep>[ \-]?)(?P<b>[1-8]\d{6})(?![0-9\-])"), _rrn),
    Recognizer("kr_brn", KR_BRN, re.compile(
        r"(?<![0-9\-])\d{3}-?\d{2}-?\d{5}(?![0-9\-])"), _brn),
    Recognizer("passport", PASSPORT, re.compile(
        r"(?<![A-Za-z0-9])(?:[A-Z]{1,2}\d{7,8}|[MSRGDT]\d{3}[A-Z]\d{4})(?![A-Za-z0-9])"),
        _passport),
)
