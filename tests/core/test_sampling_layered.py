"""SamplingParams.layered: the one precedence rule (given > model defaults > fields)."""

from slmkit.core.types import SamplingParams


def test_given_then_defaults_then_field_defaults():
    p = SamplingParams.layered({"temperature": 0.0, "top_k": None, "other": 1},
                               {"temperature": 0.7, "top_k": 20, "system": "x"}, seed=3)
    assert p.temperature == 0.0 and p.top_k == 20 and p.seed == 3
    assert p.top_p == SamplingParams().top_p and p.repeat_last_n == 64


def test_nothing_given_is_the_plain_defaults():
    assert SamplingParams.layered({}, {}) == SamplingParams()
