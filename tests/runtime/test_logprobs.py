import numpy as np

from slmkit.runtime.logprobs import token_and_top


def test_token_and_top_match_a_full_log_softmax():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(5000) * 4).astype(np.float32)
    full = x.astype(np.float64) - np.log(np.exp(x.astype(np.float64)).sum())
    value, top = token_and_top(x, 42, 3)
    assert abs(value - full[42]) < 1e-4
    assert [i for i, _ in top] == list(np.argsort(-full)[:3])
    assert all(abs(lp - full[i]) < 1e-4 for i, lp in top)
