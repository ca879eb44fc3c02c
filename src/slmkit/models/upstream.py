"""The big model a local one hands work to: an OpenAI-compatible server, a Bedrock model or a
SageMaker endpoint (what ``--upstream`` names in `slm serve --route` and `slm review`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def names_its_model(spec: str | None) -> bool:
    """Whether an upstream spec names its model itself (bedrock:MODEL_ID,
    sagemaker:ENDPOINT), so that an upstream model name is not needed."""
    from slmkit.runtime import split_upstream

    return bool(spec) and split_upstream(spec)[0] != "remote"


@dataclass(frozen=True)
class Upstream:
    """Where the upstream is and how to reach it. ``url``: an OpenAI-compatible base URL,
    ``bedrock:MODEL_ID`` or ``sagemaker:ENDPOINT`` (AWS credentials: the standard chain)."""

    url: str | None = None
    model: str | None = None  # the OpenAI-compatible server's model name
    region: str | None = None  # AWS region for bedrock:/sagemaker:
    key_env: str = "SLM_UPSTREAM_KEY"  # environment variable holding the API key
    key_file: str | None = None
    ctx: int = 0  # its context window, checked before sending (0 = unknown)
    timeout: float = 60.0

    @classmethod
    def from_options(cls, o: Any) -> Upstream:
        """From an object with `slm`'s ``upstream*`` option attributes (an argparse
        namespace, an :class:`slmkit.assemble.ServerConfig`)."""
        return cls(o.upstream, o.upstream_model, o.region, o.upstream_key_env,
                   o.upstream_key_file, o.upstream_ctx, o.upstream_timeout)

    @property
    def backend(self) -> str:
        from slmkit.runtime import split_upstream

        return split_upstream(self.url)[0]

    def open(self, tokenizer: Any = None):
        """The upstream as an Engine (``tokenizer``: the local model's, to count the tokens
        an OpenAI-compatible upstream is sent)."""
        from slmkit.models.load import load
        from slmkit.runtime import split_upstream

        backend, target = split_upstream(self.url)
        if backend != "remote":  # the AWS credential chain
            return load(target, backend=backend, region=self.region, n_ctx=self.ctx,
                        timeout=self.timeout)
        return load(target, backend="remote", model=self.model, api_key_env=self.key_env,
                    api_key_file=self.key_file, n_ctx=self.ctx, timeout=self.timeout,
                    tokenizer=tokenizer)
