"""Fill-in-the-middle: FIM token detection, prompt layout, stop rules and truncation, the
``/infill`` and ``/v1/completions`` + ``suffix`` routes (fake engine), and `slm code complete`
on the real coder model (slow)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader, fake_app
from slmkit.apps.code.complete import split_at
from slmkit.apps.code.fim import (
    FimInfiller,
    Infill,
    NoFimTokensError,
    build,
    detect_format,
    finish,
    safe_tokens,
    trim_suffix_overlap,
)
from slmkit.apps.code.truncate import complete_prefix, language_of
from slmkit.serve import routes_infill

LOOPBACK = "http://127.0.0.1:8000"
PRE = "def add(a, b):\n    "
SUF = "\n\nprint(add(1, 2))\n"


class CharVocab(FakeLocal):
    """A fake whose vocabulary has no special tokens: markers split into characters."""

    def tokenize(self, text, *, add_special=True):
        return [ord(c) for c in text]


def test_detects_the_family_from_the_vocabulary():
    assert detect_format(FakeLocal()).name == "qwen"
    with pytest.raises(NoFimTokensError, match="qwen2.5-coder"):
        detect_format(CharVocab())


def test_prompt_layout_context_and_stop_rules():
    eng = FakeLocal()
    req, _ = build(eng, Infill(prefix=PRE, suffix=SUF, filename="m.py",
                               extra=[{"filename": "util.py", "text": "X = 1"}]))
    text = eng.detokenize(req.prompt_tokens)
    assert text.index("<|file_sep|>util.py\nX = 1") < text.index("<|file_sep|>m.py")
    assert text.index("<|fim_prefix|>def add") < text.index("<|fim_suffix|>")
    assert text.endswith("<|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>")
    assert "print(add(1, 2))" in req.stop and "<|endoftext|>" in req.stop
    assert req.sampling.temperature == 0.0


def test_marker_text_in_user_code_is_not_a_special_token():
    eng = FakeLocal()
    ids = safe_tokens(eng, 's = "<|fim_middle|>"')
    assert eng.tokenize("<|fim_middle|>", add_special=False)[0] not in ids
    assert eng.detokenize(ids) == 's = "<|fim_middle|>"'


def test_finisher_cuts_leaks_suffix_repeats_and_half_statements():
    req = Infill(prefix=PRE, suffix=SUF, filename="m.py")
    assert finish("return a + b<|endoftext|>junk", req) == "return a + b"
    assert finish("return a + b\n\nprint(add(1, 2))\n", req) == "return a + b\n"
    assert finish("return a + b\n\nprint(add(7, 8))\n", req) == "return a + b\n"  # dedent
    assert finish("total = a + b\n    return total\n    if (", req) == \
        "total = a + b\n    return total\n"
    assert trim_suffix_overlap("x = compute(", "compute(1)\n") == "x = "


def test_truncation_by_language():
    assert language_of("a.go") == "go" and language_of("", "import os\n") == "python"
    assert complete_prefix("int f() {\n  ", "return g(1,\n  2);\n}\nint h(", "\n", "c") == \
        "return g(1,\n  2);\n}\n"
    assert complete_prefix("x = [\n", "1,\n2,\n]\ny = (", "", "python") == "1,\n2,\n]\n"


def test_split_at_line_and_column():
    text = "a = 1\nb = foo(x)\nc = 3\n"
    assert split_at(text, 2, 9) == ("a = 1\nb = foo(", "x)\nc = 3\n")
    assert split_at(text, 2, None) == ("a = 1\nb = foo(x)", "\nc = 3\n")
    with pytest.raises(ValueError, match="outside"):
        split_at(text, 9, None)


def client(answer: str) -> tuple[TestClient, FakeLocal]:
    eng = FakeLocal(name="coder", answer=answer)
    app, _ = fake_app(FakeLoader({"coder": lambda: eng}), routers=[routes_infill.router],
                      state={"infill": FimInfiller("coder")})
    return TestClient(app, base_url=LOOPBACK), eng


def test_infill_route_llama_cpp_shape():
    c, eng = client("return a + b\n\nprint(add(1, 2))\n")
    with c:
        r = c.post("/infill", json={"input_prefix": PRE, "input_suffix": SUF,
                                    "input_extra": [{"filename": "u.py", "text": "Y = 2"}],
                                    "n_predict": 32, "filename": "m.py"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["content"] == "return a + b\n" and body["stop"] is True
        assert {"prompt_n", "predicted_n", "predicted_ms"} <= set(body["timings"])
        assert "tokens_cached" in body
        r = c.post("/infill", json={"input_prefix": PRE, "input_suffix": SUF, "stream": True})
        events = [ln for ln in r.text.splitlines() if ln.startswith("data: ")]
        assert '"stop": false' in events[0] and '"stop": true' in events[-1]


def test_completions_with_suffix_use_fim_and_without_stay_plain():
    c, eng = client("return a + b\n\nprint(add(1, 2))\n")
    with c:
        r = c.post("/v1/completions", json={"model": "coder", "prompt": PRE, "suffix": SUF,
                                            "max_tokens": 32})
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["text"] == "return a + b\n"
        assert eng.detokenize(eng.requests[-1].prompt_tokens).startswith("<|fim_prefix|>")
        r = c.post("/v1/completions", json={"model": "coder", "prompt": "hi", "max_tokens": 4})
        assert r.status_code == 200 and eng.requests[-1].prompt == "hi"


def test_infill_on_a_model_without_fim_tokens_is_a_400():
    eng = CharVocab(name="plain")
    app, _ = fake_app(FakeLoader({"plain": lambda: eng}), routers=[routes_infill.router],
                      state={"infill": FimInfiller("plain")})
    with TestClient(app, base_url=LOOPBACK) as c:
        r = c.post("/infill", json={"input_prefix": PRE})
        assert r.status_code == 400 and r.json()["error"]["code"] == "fim_unsupported"
