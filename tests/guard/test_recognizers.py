"""Each recognizer on values it must find, and on look-alikes it must leave alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmkit.guard import Scanner, checks, scan

SCANNER = Scanner(ner=False)

POSITIVES = [
    ("mail john.doe@example.com now", "EMAIL", "john.doe@example.com"),
    ("메일은 kim.minsu@corp.co.kr으로", "EMAIL", "kim.minsu@corp.co.kr"),
    ("call +1 (415) 555-2671 today", "PHONE", "+1 (415) 555-2671"),
    ("+44 20 7946 0958 office", "PHONE", "+44 20 7946 0958"),
    ("010-1234-5678로 연락 주세요", "PHONE", "010-1234-5678"),
    ("대표번호 02-345-6789", "PHONE", "02-345-6789"),
    ("휴대폰 01012345678", "PHONE", "01012345678"),
    ("US line 415-555-2671.", "PHONE", "415-555-2671"),
    ("card 4111 1111 1111 1111 exp", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("amex 3782-822463-10005", "CREDIT_CARD", "3782-822463-10005"),
    ("card=5555555555554444", "CREDIT_CARD", "5555555555554444"),
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN", "DE89 3704 0044 0532 0130 00"),
    ("to GB82WEST12345698765432 IBAN", "IBAN", "GB82WEST12345698765432"),
    ("client 203.0.113.42 failed", "IP_ADDRESS", "203.0.113.42"),
    ("from [2001:db8::8a2e:370:7334]:443", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
    ("inet addr:192.168.1.20 Bcast", "IP_ADDRESS", "192.168.1.20"),
    ("db postgres://admin:s3cr3t!@db.internal:5432/app", "URL_CREDENTIALS", "admin:s3cr3t!"),
    ("AKIAIOSFODNN7EXAMPLE in env", "API_KEY", "AKIAIOSFODNN7EXAMPLE"),
    ("ghp_" + "A1b2" * 9, "API_KEY", "ghp_" + "A1b2" * 9),
    ("slack xoxb-123456789012-abcdefABCDEF", "API_KEY", "xoxb-123456789012-abcdefABCDEF"),
    ("OPENAI sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", "API_KEY", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t"),
    ("AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "API_KEY",
     "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "SECRET",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("password: hunter2!", "SECRET", "hunter2!"),
    ('{"client_secret": "q8Zr3Lm0Xv7Tn2Pw5Ks9Hd4F"}', "SECRET", "q8Zr3Lm0Xv7Tn2Pw5Ks9Hd4F"),
    ("my api key is q8Zr3Lm0Xv7Tn2Pw5Ks9Hd4F ok", "SECRET", "q8Zr3Lm0Xv7Tn2Pw5Ks9Hd4F"),
    ("주민등록번호 900101-1234568", "KR_RRN", "900101-1234568"),
    ("사업자등록번호 124-81-00998", "KR_BRN", "124-81-00998"),
    ("passport no. M12345678", "PASSPORT", "M12345678"),
    ("여권번호 M123A4567", "PASSPORT", "M123A4567"),
    ("입금 계좌: 신한은행 110-123-456789 (예금주)", "BANK_ACCOUNT", "110-123-456789"),
    ("계좌번호 1002123456789로 보내 주세요", "BANK_ACCOUNT", "1002123456789"),
    ("카카오뱅크 3333-01-1234567 입니다", "BANK_ACCOUNT", "3333-01-1234567"),
    ("123456-01-234567 (국민은행)", "BANK_ACCOUNT", "123456-01-234567"),
    ("Please wire to account 123456789012.", "BANK_ACCOUNT", "123456789012"),
    ("Supplier account for payments: 40-12-76 31926819.", "BANK_ACCOUNT", "40-12-76 31926819"),
    ("Dr. Jane Smith called", "PERSON", "Jane Smith"),
    ("name: Alice Brown", "PERSON", "Alice Brown"),
    ("김민수 님께 전달", "PERSON", "김민수"),
    ("성명: 홍길동", "PERSON", "홍길동"),
    # a name next to its own e-mail address (display names, signatures, notice clauses)
    ("Contact for notices: Jane Miller, jane.miller@northwind.com, +1 212 555 0142.", "PERSON",
     "Jane Miller"),
    ("From: Kim Lee <kim.lee@example.com>", "PERSON", "Kim Lee"),
    ("J. Miller <jmiller@example.org> wrote:", "PERSON", "J. Miller"),
    ("Maria Garcia-Lopez (maria.garcia@example.es)", "PERSON", "Maria Garcia-Lopez"),
]


@pytest.mark.parametrize("text,entity,value", POSITIVES)
def test_finds(text, entity, value):
    got = [(f.entity, f.value(text)) for f in SCANNER.scan(text)]
    assert (entity, value) in got, got


def test_jwt_and_pem_private_key():
    jwt = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
           "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + "A" * 64 + "\n-----END RSA PRIVATE KEY-----"
    text = f"Authorization: Bearer {jwt}\nkey:\n{pem}\nend"
    got = {f.entity: f.value(text) for f in SCANNER.scan(text)}
    assert got["JWT"] == jwt and got["PRIVATE_KEY"] == pem


def test_unterminated_private_key_is_still_masked():
    text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    (f,) = SCANNER.scan(text)
    assert f.entity == "PRIVATE_KEY" and f.end == len(text)


NEGATIVES = [
    "card 4111 1111 1111 1112",  # Luhn fails
    "IBAN DE89 3704 0044 0532 0130 01",  # mod-97 fails
    "900101-1234567 in a ledger",  # RRN checksum fails, no context
    "123-45-67890",  # BRN checksum fails
    "version 1.2.3.4", "Chrome/120.0.0.0 Safari/537.36", "python 3.5.2.249", "nginx:6.5.5.150",
    "listening on 0.0.0.0:8080 and [::]:8443 and 127.0.0.1", "at 12:34:56 mac 00:1a:2b:3c:4d:5e",
    "M12345678 shipped",  # passport-like, no context
    "commit 3f2a9c1e8b7d4f60a1b2c3d4e5f60718aabbccdd", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
    "ts=1712031234567 seq=36311056760241 tid=361864013328390",
    "2024-01-15T12:34:56.789+09:00 pid=12345 port 8080 took 123 ms",
    "고객님 안녕하세요", "sk-learn-is-not-a-key-at-all-really", "cache_key=user:1234:profile",
    "password authentication failed for user postgres", "token_count=512 max_tokens=4096",
    "The Error was raised by name: Redis",
    "주문번호 20240315123456 확인", "order 1234567890123 shipped",  # account-shaped, no bank word
    "계좌 개설은 2024-03-15 12:00에",  # bank word, but a date
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_leaves_alone(text):
    assert SCANNER.scan(text) == [], [(f.entity, f.value(text)) for f in SCANNER.scan(text)]


@pytest.mark.parametrize("text", [
    "Support Team <support@acme.com>", "Acme Corp, sales@acme.com",
    "ERROR Worker failed, retry@host.com", "The report, the.report@example.com",
    "Release Notes <notices@example.com>", "Quarterly Review, jane.doe@example.com",
])
def test_an_address_that_does_not_repeat_the_words_names_no_one(text):
    assert [f for f in SCANNER.scan(text) if f.entity == "PERSON"] == []


def test_held_apart_log_lines_have_no_findings():
    path = Path(__file__).parent / "data" / "log_lines.txt"
    lines = [x for x in path.read_text("utf-8").splitlines() if x and not x.startswith("#")]
    flagged = [(line, [f.entity for f in scan(line)]) for line in lines if scan(line)]
    assert len(lines) > 50 and flagged == []


def test_checksums():
    assert checks.luhn_ok("4111111111111111") and not checks.luhn_ok("4111111111111112")
    assert checks.iban_ok("GB82WEST12345698765432") and not checks.iban_ok("GB82WEST12345698765433")
    assert checks.brn_ok("1248100998")
    assert checks.rrn_checksum_ok("9001011234568") and not checks.rrn_checksum_ok("9001011234567")
    first12 = "850315234567"
    assert checks.rrn_checksum_ok(first12 + checks.rrn_check_digit(first12))
    assert checks.iban_ok("DE" + checks.iban_check_digits("DE", "370400440532013000")
                          + "370400440532013000")


def test_findings_do_not_overlap_and_are_sorted():
    text = "https://bob:pw1234@mail.example.com and bob@example.com 4111111111111111"
    found = SCANNER.scan(text)
    assert [f.entity for f in found] == ["URL_CREDENTIALS", "EMAIL", "CREDIT_CARD"]
    assert all(a.end <= b.start for a, b in zip(found, found[1:]))


def test_entity_filter_and_unknown_type():
    text = "jane@example.com 010-1234-5678"
    assert [f.entity for f in Scanner(entities=["PHONE"], ner=False).scan(text)] == ["PHONE"]
    with pytest.raises(ValueError, match="unknown entity"):
        Scanner(entities=["SHOE_SIZE"])


def test_ner_names_plug_in_when_a_model_is_installed(monkeypatch):
    from types import SimpleNamespace

    from slmkit.guard import names

    class FakeAnalyzer:
        def analyze(self, text, language, entities):
            i = text.index("Alice Martin")
            return [SimpleNamespace(start=i, end=i + 12, score=0.85, entity_type="PERSON")]

    monkeypatch.setattr(names, "installed_ner_model", lambda: "en_core_web_sm")
    monkeypatch.setattr(names.NerNames, "_load", lambda self: FakeAnalyzer())
    text = "the report from Alice Martin arrived"
    (f,) = Scanner().scan(text)
    assert (f.entity, f.value(text)) == ("PERSON", "Alice Martin")
    assert f.recognizer == "ner:en_core_web_sm"
    assert Scanner(ner=False).scan(text) == []


@pytest.mark.parametrize("text,value", [
    ('{"note": "password=Rk4Yb9IHymLNA"}', "Rk4Yb9IHymLNA"),
    ('"account": "AWS_SECRET_ACCESS_KEY=NnF8YNHilE6EggZ95CMS5ZeQYEEG3XMFVrLyym"',
     "NnF8YNHilE6EggZ95CMS5ZeQYEEG3XMFVrLyym"),
    ('"note": "비밀번호: 3jIi7DTUA"', "3jIi7DTUA"),
])
def test_assignment_inside_a_json_value_is_found(text, value):
    """A key without a credential word ("note") must not swallow the assignment after it."""
    assert ("SECRET", value) in [(f.entity, f.value(text)) for f in SCANNER.scan(text)]
