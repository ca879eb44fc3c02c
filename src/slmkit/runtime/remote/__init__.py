"""The remote backend: any OpenAI-compatible upstream as a ``core.Engine``.

    engine = load_engine("http://gpu-box:8000", backend="remote", model="qwen2.5-7b",
                         api_key_env="GATEWAY_KEY", n_ctx=32768)
"""

from slmkit.runtime.remote.engine import RemoteEngine, RemoteStream, resolve_api_key
from slmkit.runtime.remote.transport import RETRYABLE_STATUS, RetryPolicy, UpstreamError

__all__ = ["RETRYABLE_STATUS", "RemoteEngine", "RemoteStream", "RetryPolicy", "UpstreamError",
           "load", "resolve_api_key"]


def load(path: str, *, model: str = "", n_ctx: int = 0, n_threads: int = 0,
         verbose: bool = False, **options) -> RemoteEngine:
    """``load_engine(url, backend="remote", model=...)``: ``path`` is the upstream's base URL.
    Local-only options (``n_threads``, ``verbose``) are accepted and ignored; ``n_ctx`` is
    the upstream's context window when known (0 = unknown). ``retries``/``backoff`` build
    the :class:`RetryPolicy` unless ``retry`` is given."""
    if "retry" not in options and ("retries" in options or "backoff" in options):
        options["retry"] = RetryPolicy(max_retries=options.pop("retries", 2),
                                       backoff=options.pop("backoff", 0.5))
    return RemoteEngine(path, model=model, n_ctx=n_ctx, **options)
