"""`slm serve --route LOCAL --upstream URL`: the router as model ``auto``, and the guard's
HTTP endpoints. Wiring only: the store loader loads LOCAL, this wraps it with a remote
engine, the guard and the ledger into a ``RoutedEngine``.
"""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, options, upstream

AUTO = "auto"


def configure(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("routing (model 'auto') and the privacy guard")
    options(group, route=Opt(None, "serve model 'auto': LOCAL answers first, hard requests go "
                                   "to --upstream", "LOCAL"))
    upstream(group)
    options(group,
            min_mean_logprob=Opt(None, "escalate when the local answer's mean token logprob "
                                       "is below X (default -1.2)", "X", float),
            judge_tokens=Opt(None, "judge the local answer on its first N tokens (default 32)",
                             type=int),
            difficulty=Opt(None, "a difficulty model from `slm route train`: escalate prompts "
                                 "it rates hard before the local model runs", "FILE"),
            max_difficulty=Opt(None, "escalate when p(hard) >= P (default 0.5)", "P", float),
            on_upstream_error=Opt("local", "when the upstream fails: answer locally or return "
                                           "the error", choices=("local", "error")),
            allow_remote_tag=Opt(False, "let clients force an escalation with '#route:remote' "
                                        "in a prompt (off: any client could spend the "
                                        "upstream budget)"),
            budget=Opt("", "escalation limits, e.g. 'requests=500,tokens=200000,cost=5,"
                           "period=day'", "SPEC"),
            prices=Opt(None, "price table {model: [in, out] USD per 1M}", "JSON"),
            ledger=Opt(None, "cost ledger (default: $SLM_HOME/route/ledger.sqlite)", "FILE"),
            guard_policy=Opt("", "guard actions per type, e.g. KR_RRN=block,PERSON=keep_local "
                                 "(for escalations and /v1/guard/*)", "SPEC"))


def check(args: argparse.Namespace) -> None:
    """Fail before binding when the routing flags do not fit together."""
    routing = [args.upstream, args.upstream_model, args.difficulty]
    if args.route is None and any(routing):
        raise ValueError("--upstream/--upstream-model/--difficulty need --route LOCAL")
    from slmkit.cli.common import names_its_model

    aws = names_its_model(args.upstream)
    if args.route is not None and not (args.upstream and (args.upstream_model or aws)):
        raise ValueError("--route needs --upstream URL and --upstream-model NAME "
                         "(or --upstream bedrock:MODEL_ID)")
    if args.route == AUTO:
        raise ValueError("--route names the local model; 'auto' is the routed model itself")


def guard_service(args: argparse.Namespace):
    from slmkit.guard import Guard, Policy
    from slmkit.guard.service import GuardService

    return GuardService(Guard(Policy.parse(args.guard_policy)))


def routing_loader(inner, args: argparse.Namespace):
    """``inner`` serving the model ``auto`` as well: --route LOCAL (loaded by ``inner``)
    routed to --upstream."""
    from slmkit.serve.prefixed import AliasLoader

    return AliasLoader(inner, AUTO, args.route, lambda local: _routed(local, args),
                       architecture="routed")


def _routed(local_engine, a: argparse.Namespace):
    from slmkit.cli.common import open_upstream
    from slmkit.guard import Guard, Policy
    from slmkit.route import RouteConfig, RoutedEngine
    from slmkit.route.costs import Budget, PriceTable
    from slmkit.route.difficulty import DifficultyModel
    from slmkit.route.ledger import Ledger, default_path
    from slmkit.runtime import split_upstream

    remote = open_upstream(a, tokenizer=local_engine.tokenize)
    backend = split_upstream(a.upstream)[0]
    overrides = {k: v for k, v in (("min_mean_logprob", a.min_mean_logprob),
                                   ("judge_tokens", a.judge_tokens),
                                   ("max_difficulty", a.max_difficulty)) if v is not None}
    config = RouteConfig(on_upstream_error=a.on_upstream_error,
                         allow_remote_tag=a.allow_remote_tag, **overrides)
    return RoutedEngine(local_engine, remote, guard=Guard(Policy.parse(a.guard_policy)),
                        config=config, ledger=Ledger(a.ledger or default_path()),
                        prices=PriceTable.load(a.prices, base=_backend_prices(backend)),
                        budget=Budget.parse(a.budget),
                        difficulty=DifficultyModel.load(a.difficulty) if a.difficulty else None)


def _backend_prices(backend: str) -> dict:
    """Bedrock's price table (with the aws.bedrock_prices override) for a bedrock upstream."""
    if backend != "bedrock":
        return {}
    from slmkit.runtime.bedrock.prices import load_prices

    return load_prices()
