"""Training data: parsing, validation errors with line numbers, label masking."""

from __future__ import annotations

import pytest

from helpers.tiny_adapters import write_jsonl
from slmkit.adapt import data as D


@pytest.fixture(scope="module")
def fmt_tok(tiny):
    from slmkit.adapt.lora import load_base

    base = load_base(tiny["hf"])
    return base.fmt, base.tokenizer


def test_errors_name_every_bad_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [
        {"prompt": "ok", "completion": "fine"},
        "{not json",
        {"prompt": "no completion here"},
        {"messages": [{"role": "user", "content": "hi"}]},
        {"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"prompt": "", "completion": "x"},
    ])
    with pytest.raises(D.DataError) as err:
        D.read_records(path)
    text = str(err.value)
    assert "5 bad record(s)" in text
    for needle in ("line 2: not valid JSON", "line 3: missing field(s) 'completion'",
                   "line 4: the last message must be", "line 5: messages[0] has unknown role",
                   "line 6: 'prompt' must be a non-empty string"):
        assert needle in text
    assert "line 1" not in text


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    with pytest.raises(D.DataError, match="holds no examples"):
        D.read_records(path)


def test_labels_cover_the_answers_only(fmt_tok, tmp_path):
    fmt, tok = fmt_tok
    path = write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "user", "content": "Once upon a time"},
                      {"role": "assistant", "content": "there was a river."},
                      {"role": "user", "content": "The quick brown fox"},
                      {"role": "assistant", "content": "jumps over the lazy dog."}]},
        {"prompt": "Paris is", "completion": "the capital of France.", "system": "Be brief."},
    ])
    data = D.encode_file(path, tok, fmt, max_seq_len=512)
    chat, instr = data.examples
    learned = tok.decode([t for t in chat.labels if t != D.IGNORE])
    assert learned == "there was a river.<|im_end|>\njumps over the lazy dog.<|im_end|>\n"
    assert tok.decode(chat.input_ids) == fmt.render(D.read_records(path)[0].messages, False)
    assert tok.decode([t for t in instr.labels if t != D.IGNORE]) == \
        "the capital of France.<|im_end|>\n"
    assert "Be brief." in tok.decode(instr.input_ids)
    assert data.n_answer_tokens == chat.n_answer + instr.n_answer


def test_over_long_examples_are_counted_with_lines(fmt_tok, tmp_path):
    fmt, tok = fmt_tok
    rows = [{"prompt": "Paris", "completion": "France."},
            {"prompt": "The quick brown fox " * 30, "completion": "jumps."},
            {"prompt": "Once", "completion": "upon a time."}]
    data = D.encode_file(write_jsonl(tmp_path / "long.jsonl", rows), tok, fmt, max_seq_len=40)
    assert [e.line for e in data.examples] == [1, 3]
    assert [ln for ln, _ in data.too_long] == [2]
    assert "skipped 1 of 3" in data.warning() and "line 2" in data.warning()
    assert data.summary()["skipped_too_long"] == 1
    with pytest.raises(D.DataError, match="all 3 examples are longer"):
        D.encode_file(tmp_path / "long.jsonl", tok, fmt, max_seq_len=3)
