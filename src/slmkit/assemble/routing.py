"""The routed model ``auto`` of `slm serve --route LOCAL --upstream URL` and the guard's
service: the local engine, a remote one, the guard and the ledger in a ``RoutedEngine``."""

from __future__ import annotations

from slmkit.assemble.config import AUTO, ServerConfig


def guard_service(policy: str):
    """``/v1/guard/*``'s service for a policy spec (``KR_RRN=block,PERSON=keep_local``)."""
    from slmkit.guard import Guard, Policy
    from slmkit.guard.service import GuardService

    return GuardService(Guard(Policy.parse(policy)))


def routing_loader(inner, config: ServerConfig):
    """``inner`` serving the model ``auto`` as well: ``config.route`` (loaded by ``inner``)
    routed to ``config.upstream``."""
    from slmkit.serve.prefixed import AliasLoader

    return AliasLoader(inner, AUTO, config.route, lambda local: routed(local, config),
                       architecture="routed")


def routed(local_engine, c: ServerConfig):
    """``local_engine`` routed to the upstream with ``c``'s thresholds, guard and budget."""
    from slmkit.guard import Guard, Policy
    from slmkit.route import RouteConfig, RoutedEngine
    from slmkit.route.costs import Budget, PriceTable
    from slmkit.route.ledger import Ledger, default_path
    from slmkit.route.prompt_router import load

    upstream = c.upstream
    difficulty = load(c.difficulty) if c.difficulty else None
    # a learned router carries the threshold calibrated on its training outcomes
    max_difficulty = c.max_difficulty if c.max_difficulty is not None else getattr(
        difficulty, "threshold", None)
    overrides = {k: v for k, v in (("min_mean_logprob", c.min_mean_logprob),
                                   ("judge_tokens", c.judge_tokens),
                                   ("max_difficulty", max_difficulty)) if v is not None}
    config = RouteConfig(on_upstream_error=c.on_upstream_error,
                         allow_remote_tag=c.allow_remote_tag, **overrides)
    return RoutedEngine(local_engine, upstream.open(tokenizer=local_engine.tokenize),
                        guard=Guard(Policy.parse(c.guard_policy)), config=config,
                        ledger=Ledger(c.ledger or default_path()),
                        prices=PriceTable.load(c.prices, base=_prices(upstream.backend)),
                        budget=Budget.parse(c.budget),
                        difficulty=difficulty)


def _prices(backend: str) -> dict:
    """Bedrock's price table (with the aws.bedrock_prices override) for a bedrock upstream."""
    if backend != "bedrock":
        return {}
    from slmkit.runtime.bedrock.prices import load_prices

    return load_prices()
