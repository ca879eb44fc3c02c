"""The Bedrock backend: a model on Amazon Bedrock (Converse API) as a ``core.Engine``.

    engine = load_engine("anthropic.claude-3-5-haiku-20241022-v1:0", backend="bedrock",
                         region="us-east-1")
"""

from slmkit.runtime.bedrock.engine import BedrockEngine, BedrockStream
from slmkit.runtime.bedrock.prices import BEDROCK_PRICES, load_prices, model_key

__all__ = ["BEDROCK_PRICES", "BedrockEngine", "BedrockStream", "load", "load_prices",
           "model_key"]


def load(path: str, *, n_ctx: int = 0, n_threads: int = 0, verbose: bool = False,
         **options) -> BedrockEngine:
    """``load_engine(model_id, backend="bedrock", region=...)``: ``path`` is the model id
    (a ``bedrock:`` prefix is dropped). Local-only options are accepted and ignored."""
    model_id = path[len("bedrock:"):] if path.startswith("bedrock:") else path
    options.pop("tokenizer", None)
    return BedrockEngine(model_id, n_ctx=n_ctx, **options)
