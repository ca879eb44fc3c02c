import pytest

from slmkit.core.errors import ChecksumError, ContextOverflowError, ModelNotFoundError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, SamplingParams, Usage, collect


def test_request_needs_exactly_one_prompt_form():
    with pytest.raises(ValueError, match="exactly one"):
        GenerateRequest().validate()
    with pytest.raises(ValueError, match="exactly one"):
        GenerateRequest(prompt="a", prompt_tokens=[1]).validate()
    GenerateRequest(prompt="a").validate()


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_tokens=-1), "max_tokens"),
    (dict(logprobs=21), "logprobs"),
    (dict(stop=("",)), "stop"),
    (dict(sampling=SamplingParams(top_p=0)), "top_p"),
    (dict(sampling=SamplingParams(min_p=1.0)), "min_p"),
    (dict(sampling=SamplingParams(top_k=-1)), "top_k"),
])
def test_request_validation_names_the_bad_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GenerateRequest(prompt="x", **kwargs).validate()


def test_chat_message_rejects_unknown_role():
    with pytest.raises(ValueError, match="role"):
        ChatMessage("robot", "hi")


def test_collect_joins_a_stream():
    usage = Usage(prompt_tokens=3, completion_tokens=2)
    done = collect([Chunk("Hel", (1,)), Chunk("lo", (2,)), Chunk("", finish_reason="stop",
                                                                    usage=usage)])
    assert done.text == "Hello" and done.token_ids == [1, 2]
    assert done.finish_reason == "stop" and done.usage.total_tokens == 5


def test_usage_rates():
    u = Usage(prompt_tokens=100, cached_tokens=20, completion_tokens=11,
              prompt_seconds=0.5, decode_seconds=0.1)
    assert u.prompt_tokens_per_second == pytest.approx(160)
    assert u.decode_tokens_per_second == pytest.approx(100)
    assert Usage().decode_tokens_per_second == 0.0


def test_errors_carry_numbers_and_hints():
    err = ContextOverflowError(5000, 4096)
    assert "5000" in str(err) and "4096" in str(err) and err.hint
    err = ChecksumError("/x/model.gguf", "aa" * 32, "bb" * 32)
    assert "aa" * 32 in str(err) and "bb" * 32 in str(err) and "/x/model.gguf" in str(err)
    err = ModelNotFoundError("qwen", suggestions=["qwen2.5-0.5b-instruct"])
    assert "qwen2.5-0.5b-instruct" in str(err) and "slm pull qwen" in str(err)
    assert err.to_dict()["error"] == "model_not_found"
