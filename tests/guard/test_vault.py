"""Pseudonymization: consistent placeholders, exact round trips (property-style, seeded),
thread safety, streaming unmask with placeholders split anywhere, persistence."""

from __future__ import annotations

import random
import threading

from slmkit.guard import PLACEHOLDER_RE, Guard, Vault
from slmkit.guard.synthetic import pii_samples

GUARD = Guard()
PIECES = ("jane@corp.com", "010-1234-5678", "<EMAIL_1>", "<EMAIL_2", "EMAIL_1>", "<", ">",
          "4111 1111 1111 1111", "주민등록번호 900101-1234568", " ", "\n", "Dr. Jane Smith",
          "<PHONE_12>", "<LITERAL_1>", "AKIAIOSFODNN7EXAMPLE", "x", "한글", "<<>>", "_1>")


def random_text(r: random.Random) -> str:
    return "".join(r.choice(PIECES) for _ in range(r.randint(0, 12)))


def test_same_value_same_placeholder_across_messages():
    vault = Vault()
    a = GUARD.protect("mail jane@corp.com", vault).text
    b = GUARD.protect("again jane@corp.com and bob@corp.com", vault).text
    assert a == "mail <EMAIL_1>" and b == "again <EMAIL_1> and <EMAIL_2>"
    assert vault.value("<EMAIL_2>") == "bob@corp.com" and len(vault) == 2


def test_round_trip_is_exact_on_generated_texts():
    vault = Vault()
    for sample in pii_samples(300, seed=3):
        masked = GUARD.protect(sample.text, vault).text
        for _, start, end in sample.spans:
            assert sample.text[start:end] not in masked
        assert vault.unmask(masked) == sample.text


def test_round_trip_with_placeholder_lookalikes_in_the_input():
    r = random.Random(11)
    for _ in range(2000):
        vault = Vault()
        text = random_text(r)
        masked = GUARD.protect(text, vault).text
        assert vault.unmask(masked) == text, text
        # every placeholder in masked text was issued by this vault
        assert all(m.group() in vault for m in PLACEHOLDER_RE.finditer(masked))


def test_stream_unmask_with_every_split():
    vault = Vault()
    text = "Dear Jane Smith, call 010-1234-5678 or mail jane@corp.com <3"
    masked = GUARD.protect(text, vault).text
    expected = vault.unmask(masked)
    for cut in range(len(masked) + 1):
        assert "".join(vault.unmask_stream([masked[:cut], masked[cut:]])) == expected
    r = random.Random(5)
    for _ in range(200):
        cuts = sorted(r.sample(range(len(masked)), 6))
        pieces = [masked[i:j] for i, j in zip([0] + cuts, cuts + [len(masked)])]
        assert "".join(vault.unmask_stream(pieces)) == expected


def test_stream_unmask_releases_text_that_is_not_a_placeholder():
    vault = Vault()
    stream = vault.unmask_stream(iter(["a < b and c <d", "e> and <EMAIL_9> end"]))
    assert "".join(stream) == "a < b and c <de> and <EMAIL_9> end"


def test_vault_is_thread_safe():
    vault = Vault()
    values = [f"user{i}@corp.com" for i in range(50)]

    def work(seed: int) -> None:
        r = random.Random(seed)
        for _ in range(200):
            v = r.choice(values)
            assert vault.value(vault.placeholder("EMAIL", v)) == v

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    issued = {vault.placeholder("EMAIL", v) for v in values}
    assert len(issued) == 50 and issued == {f"<EMAIL_{i}>" for i in range(1, 51)}


def test_save_and_load_keep_placeholders_and_counters(tmp_path):
    vault = Vault("conv-1")
    masked = GUARD.protect("jane@corp.com 010-1234-5678", vault).text
    path = tmp_path / "v.json"
    vault.save(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    again = Vault.load(path)
    assert again.id == "conv-1" and again.unmask(masked) == "jane@corp.com 010-1234-5678"
    assert again.placeholder("EMAIL", "new@corp.com") == "<EMAIL_2>"
    assert again.placeholder("EMAIL", "jane@corp.com") == "<EMAIL_1>"
