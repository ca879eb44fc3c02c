"""The SageMaker backend: a real-time SageMaker endpoint as a ``core.Engine``.

    engine = load_engine("my-endpoint", backend="sagemaker", region="eu-central-1")
"""

from slmkit.runtime.sagemaker.engine import SageMakerEngine, SageMakerStream

__all__ = ["SageMakerEngine", "SageMakerStream", "load"]


def load(path: str, *, n_ctx: int = 0, n_threads: int = 0, verbose: bool = False,
         **options) -> SageMakerEngine:
    """``load_engine(endpoint, backend="sagemaker", region=...)``: ``path`` is the endpoint
    name (a ``sagemaker:`` prefix is dropped). Local-only options are ignored."""
    endpoint = path[len("sagemaker:"):] if path.startswith("sagemaker:") else path
    options.pop("tokenizer", None)
    return SageMakerEngine(endpoint, n_ctx=n_ctx, **options)
