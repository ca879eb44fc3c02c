"""Generated identifiers with known positions, for measuring the guard.

Every value is valid where a checksum exists (Luhn, IBAN mod-97, RRN, BRN) and comes in
the formats people write (spaced, dashed, compact; Korean and English prose).
``random.Random(seed)`` makes every set reproducible.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from slmkit.guard import base as E
from slmkit.guard import checks

FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "Sofia", "Lukas", "Amelie", "Hiroshi", "Yuki", "Olivia", "Noah", "Chloe")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Muller",
        "Schmidt", "Tanaka", "Dubois", "Rossi", "Novak", "Okafor", "Fischer", "Kowalski")
KR_FAMILY = "김이박최정강조윤장임한오서신권황안송"
KR_GIVEN = ("민수", "지은", "서연", "도윤", "하준", "수빈", "영희", "철수", "지훈", "예린", "현우",
            "길동", "유진", "민준", "서윤", "지호")
DOMAINS = ("example.com", "corp.co.kr", "mail.example.org", "naver.com", "gmail.com", "acme.io",
           "uni-berlin.de", "samsung.com")
B64 = string.ascii_letters + string.digits + "+/"
B62 = string.ascii_letters + string.digits


@dataclass
class Sample:
    """A text and the identifiers planted in it, as (entity, start, end)."""

    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)


class Builder:
    """Appends text pieces, remembering where planted values land."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[str, int, int]] = []
        self.pos = 0

    def text(self, s: str) -> Builder:
        self.parts.append(s)
        self.pos += len(s)
        return self

    def value(self, entity: str, s: str) -> Builder:
        self.spans.append((entity, self.pos, self.pos + len(s)))
        return self.text(s)

    def build(self) -> Sample:
        return Sample("".join(self.parts), self.spans)


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice(string.digits) for _ in range(n))


def _chars(r: random.Random, alphabet: str, n: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


# ---- one generator per entity: (rng) -> (context before, value, context after) ---------------
def email(r: random.Random) -> tuple[str, str, str]:
    local = r.choice([f"{r.choice(FIRST).lower()}.{r.choice(LAST).lower()}",
                      f"{r.choice(FIRST)[0].lower()}{r.choice(LAST).lower()}{r.randint(1, 99)}",
                      f"{r.choice(FIRST).lower()}+{r.choice(['news', 'work', 'tag'])}"])
    return r.choice(["write to ", "메일: ", "contact ", "cc: "]), f"{local}@{r.choice(DOMAINS)}", ""


def phone(r: random.Random) -> tuple[str, str, str]:
    kind = r.randrange(6)
    if kind == 0:
        v = f"010-{_digits(r, 4)}-{_digits(r, 4)}"
    elif kind == 1:
        area = r.choice(["02", "031", "051", "070"])
        v = f"{area}-{_digits(r, r.choice([3, 4]))}-{_digits(r, 4)}"
    elif kind == 2:
        v = r.choice([f"+82 10-{_digits(r, 4)}-{_digits(r, 4)}", f"+8210{_digits(r, 8)}"])
    elif kind == 3:
        area, ex = f"{r.randint(2, 9)}{_digits(r, 2)}", f"{r.randint(2, 9)}{_digits(r, 2)}"
        v = r.choice([f"+1 ({area}) {ex}-{_digits(r, 4)}", f"({area}) {ex}-{_digits(r, 4)}",
                      f"{area}-{ex}-{_digits(r, 4)}"])
    elif kind == 4:
        v = r.choice([f"+44 20 {_digits(r, 4)} {_digits(r, 4)}", f"+49 30 {_digits(r, 7)}",
                      f"+33 1 {_digits(r, 2)} {_digits(r, 2)} {_digits(r, 2)} {_digits(r, 2)}",
                      f"+81 3-{_digits(r, 4)}-{_digits(r, 4)}"])
    else:
        v = f"010{_digits(r, 8)}"
    return r.choice(["call ", "연락처 ", "phone: ", "tel. ", "mobile ", "번호는 "]), v, \
        r.choice(["", "로 연락 주세요", " (office)", "."])


def credit_card(r: random.Random) -> tuple[str, str, str]:
    prefix, n = r.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15),
                          ("6011", 16), ("3530", 16), ("4", 13)])
    partial = prefix + _digits(r, n - len(prefix) - 1)
    number = partial + checks.luhn_check_digit(partial)
    sep = r.choice(["", " ", "-"])
    if n == 15:
        v = sep.join((number[:4], number[4:10], number[10:])) if sep else number
    else:
        v = sep.join(number[i:i + 4] for i in range(0, n, 4))
    return r.choice(["card ", "카드번호 ", "paid with ", "CC#"]), v, ""


def iban(r: random.Random) -> tuple[str, str, str]:
    country = r.choice(["DE", "GB", "FR", "ES", "IT", "NL", "CH", "BE", "PL", "AT"])
    n = checks.IBAN_LENGTHS[country] - 4
    bban = ("".join(r.choice(string.ascii_uppercase) for _ in range(4)) + _digits(r, n - 4)
            if country in ("GB", "NL") else _digits(r, n))
    compact = country + checks.iban_check_digits(country, bban) + bban
    v = r.choice([compact, " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))])
    return r.choice(["IBAN ", "transfer to ", "계좌 "]), v, ""


KR_ACCOUNT_GROUPS = ((3, 3, 6), (4, 3, 6), (6, 2, 6), (3, 6, 5), (4, 2, 7), (3, 4, 4, 2))


def bank_account(r: random.Random) -> tuple[str, str, str]:
    groups = r.choice(KR_ACCOUNT_GROUPS)
    parts = [_digits(r, n) for n in groups]
    v = r.choice(["-".join(parts), "".join(parts)])
    before = r.choice(["계좌번호 ", "입금 계좌: 신한은행 ", "우리은행 ", "account no. ",
                       "wire to acct "])
    return before, v, r.choice(["", " (예금주 확인)", "로 입금"])


def ip_address(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.6:
        v = ".".join(str(x) for x in (r.choice([10, 172, 192, 52, 8, 203]), r.randint(0, 255),
                                      r.randint(0, 255), r.randint(1, 254)))
    else:
        groups = [f"{r.randint(0, 0xffff):x}" for _ in range(8)]
        v = r.choice([":".join(groups), f"2001:db8::{groups[0]}:{groups[1]}",
                      f"fe80::{groups[2]}:{groups[3]}"])
    before = r.choice(["from ", "client ", "접속 IP ", "host="])
    after = r.choice(["", ":443", " failed"])
    if ":" in v and after == ":443":
        before, after = before + "[", "]:443"  # RFC 3986: an IPv6 address with a port is bracketed
    return before, v, after


def url_credentials(r: random.Random) -> tuple[str, str, str]:
    scheme = r.choice(["postgres", "https", "mysql", "redis", "amqp", "ftp"])
    user = r.choice(["admin", "app", r.choice(FIRST).lower(), "svc_backup"])
    pw = _chars(r, B62 + "!$%*", r.randint(8, 20))
    return f"{scheme}://", f"{user}:{pw}", f"@db{r.randint(1, 9)}.internal:5432/app"


def api_key(r: random.Random) -> tuple[str, str, str]:
    v = r.choice([
        "AKIA" + _chars(r, string.ascii_uppercase + "234567", 16),
        "ghp_" + _chars(r, B62, 36),
        "github_pat_" + _chars(r, B62, 22) + "_" + _chars(r, B62, 59),
        "xoxb-" + _digits(r, 12) + "-" + _digits(r, 12) + "-" + _chars(r, B62, 24),
        "sk-proj-" + _chars(r, B62, 48), "sk-" + _chars(r, B62, 48),
        "AIza" + _chars(r, B62 + "_-", 35), "sk_live_" + _chars(r, B62, 24),
    ])
    return r.choice(["key ", "use ", "export KEY=", "토큰 "]), v, ""


def jwt(r: random.Random) -> tuple[str, str, str]:
    def seg(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    v = ".".join((seg({"alg": "HS256", "typ": "JWT"}),
                  seg({"sub": _digits(r, 8), "iat": r.randint(10**9, 2 * 10**9)}),
                  _chars(r, B62 + "_-", 43)))
    return r.choice(["Authorization: Bearer ", "jwt ", "session "]), v, ""


def private_key(r: random.Random) -> tuple[str, str, str]:
    kind = r.choice(["", "RSA ", "EC ", "OPENSSH "])
    body = "\n".join(_chars(r, B64, 64) for _ in range(r.randint(3, 8)))
    pem = f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"
    return "key file:\n", pem, "\n"


def secret(r: random.Random) -> tuple[str, str, str]:
    v = _chars(r, B62, r.randint(24, 40))
    before = r.choice(["api_key=", "AWS_SECRET_ACCESS_KEY=", '"client_secret": "', "token: ",
                       "my api key is ", "비밀번호: ", "password="])
    if "비밀번호" in before or "password" in before:
        v = _chars(r, B62 + "!@#", r.randint(8, 14))
    return before, v, '"' if before.endswith('"') else ""


def kr_rrn(r: random.Random) -> tuple[str, str, str]:
    first = f"{r.randint(0, 99):02d}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
    first12 = first + str(r.choice([1, 2, 3, 4])) + _digits(r, 5)
    number = first12 + checks.rrn_check_digit(first12)
    if r.random() < 0.8:
        before = r.choice(["주민등록번호 ", "RRN ", "주민번호: ", "id "])
        return before, f"{number[:6]}-{number[6:]}", ""
    return r.choice(["주민등록번호 ", "주민번호: "]), number, ""


def kr_brn(r: random.Random) -> tuple[str, str, str]:
    first9 = _digits(r, 9)
    n = first9 + checks.brn_check_digit(first9)
    if r.random() < 0.8:
        return r.choice(["사업자등록번호 ", "BRN ", "등록번호: "]), f"{n[:3]}-{n[3:5]}-{n[5:]}", ""
    return r.choice(["사업자등록번호 ", "사업자번호: "]), n, ""


def passport(r: random.Random) -> tuple[str, str, str]:
    v = r.choice([f"M{_digits(r, 8)}", f"M{_digits(r, 3)}{r.choice('ABCDEFGHJK')}{_digits(r, 4)}",
                  f"{r.choice(string.ascii_uppercase)}{_digits(r, 8)}",
                  f"{_chars(r, string.ascii_uppercase, 2)}{_digits(r, 7)}"])
    return r.choice(["passport no. ", "여권번호 ", "Passport: ", "passport number "]), v, ""


def person(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.5:
        name = f"{r.choice(FIRST)} {r.choice(LAST)}"
        return r.choice(["Dr. ", "Mr. ", "Ms. ", "name: ", "My name is ", "Dear "]), name, \
            r.choice([",", " called", ""])
    name = r.choice(KR_FAMILY) + r.choice(KR_GIVEN)
    if r.random() < 0.5:
        return r.choice(["성명: ", "담당자 ", "이름: "]), name, r.choice(["", "입니다"])
    return "", name, r.choice([" 님", "님께서", " 고객님", "씨가"])


GENERATORS: dict[str, Callable[[random.Random], tuple[str, str, str]]] = {
    E.EMAIL: email, E.PHONE: phone, E.CREDIT_CARD: credit_card, E.IBAN: iban,
    E.BANK_ACCOUNT: bank_account,
    E.IP_ADDRESS: ip_address, E.URL_CREDENTIALS: url_credentials, E.API_KEY: api_key,
    E.JWT: jwt, E.PRIVATE_KEY: private_key, E.SECRET: secret, E.KR_RRN: kr_rrn,
    E.KR_BRN: kr_brn, E.PASSPORT: passport, E.PERSON: person,
}
FILLERS = ("Please update the record. ", "고객 정보를 확인해 주세요. ", "See the ticket below. ",
           "The meeting moved to Tuesday. ", "요청하신 내용입니다. ", "", "Thanks! ",
           "Order 4417 shipped on 2024-03-02. ", "회의는 3시에 시작합니다. ")


def pii_samples(n: int = 1000, seed: int = 0) -> list[Sample]:
    """``n`` texts, each with 1–3 planted identifiers of random types in filler prose."""
    r = random.Random(seed)
    types = list(GENERATORS)
    out = []
    for i in range(n):
        b = Builder().text(r.choice(FILLERS))
        for entity in [types[i % len(types)]] + r.sample(types, r.randint(0, 2)):
            before, value, after = GENERATORS[entity](r)
            b.text(before).value(entity, value).text(after).text(" " + r.choice(FILLERS))
        out.append(b.build())
    return out
