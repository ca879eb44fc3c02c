"""`slm serve --route LOCAL --upstream URL`: the router as model ``auto``, and the guard's
HTTP endpoints. Wiring only: the store loader loads LOCAL, this wraps it with a remote
engine, the guard and the ledger into a ``RoutedEngine``.
"""

from __future__ import annotations

import argparse

AUTO = "auto"


def configure(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("routing (model 'auto') and the privacy guard")
    g.add_argument("--route", metavar="LOCAL",
                   help="serve model 'auto': LOCAL answers first, hard requests go to --upstream")
    g.add_argument("--upstream", metavar="URL", help="OpenAI-compatible base URL of the big model")
    g.add_argument("--upstream-model", metavar="NAME", help="the upstream's model name")
    g.add_argument("--upstream-key-env", default="SLM_UPSTREAM_KEY", metavar="VAR",
                   help="environment variable with the upstream's API key (default "
                        "SLM_UPSTREAM_KEY)")
    g.add_argument("--upstream-key-file", metavar="FILE", help="file with the upstream's API key")
    g.add_argument("--upstream-ctx", type=int, default=0, metavar="N",
                   help="the upstream's context window, checked before sending (0 = unknown)")
    g.add_argument("--upstream-timeout", type=float, default=60.0, metavar="SECONDS")
    g.add_argument("--min-mean-logprob", type=float, default=None, metavar="X",
                   help="escalate when the local answer's mean token logprob is below X "
                        "(default -1.2)")
    g.add_argument("--judge-tokens", type=int, default=None, metavar="N",
                   help="judge the local answer on its first N tokens (default 32)")
    g.add_argument("--difficulty", metavar="FILE",
                   help="a difficulty model from `slm route train`: escalate prompts it rates "
                        "hard before the local model runs")
    g.add_argument("--max-difficulty", type=float, default=None, metavar="P",
                   help="escalate when p(hard) >= P (default 0.5)")
    g.add_argument("--on-upstream-error", choices=["local", "error"], default="local",
                   help="when the upstream fails: answer locally (default) or return the error")
    g.add_argument("--allow-remote-tag", action="store_true",
                   help="let clients force an escalation with '#route:remote' in a prompt "
                        "(off by default: any client could spend the upstream budget)")
    g.add_argument("--budget", default="", metavar="SPEC",
                   help="escalation limits, e.g. 'requests=500,tokens=200000,cost=5,period=day'")
    g.add_argument("--prices", metavar="JSON", help="price table {model: [in, out] USD per 1M}")
    g.add_argument("--ledger", metavar="FILE",
                   help="cost ledger (default: $SLM_HOME/route/ledger.sqlite)")
    g.add_argument("--guard-policy", default="", metavar="SPEC",
                   help="guard actions per type, e.g. KR_RRN=block,PERSON=keep_local "
                        "(for escalations and /v1/guard/*)")


def check(args: argparse.Namespace) -> None:
    """Fail before binding when the routing flags do not fit together."""
    routing = [args.upstream, args.upstream_model, args.difficulty]
    if args.route is None and any(routing):
        raise ValueError("--upstream/--upstream-model/--difficulty need --route LOCAL")
    if args.route is not None and not (args.upstream and args.upstream_model):
        raise ValueError("--route needs --upstream URL and --upstream-model NAME")
    if args.route == AUTO:
        raise ValueError("--route names the local model; 'auto' is the routed model itself")


def parse_budget(spec: str):
    from slmkit.route.costs import Budget

    fields = {"requests": "max_requests", "tokens": "max_tokens", "cost": "max_cost"}
    kw: dict = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in (*fields, "period"):
            raise ValueError(f"--budget: {part!r} is not requests=N, tokens=N, cost=X or "
                             "period=hour|day|week|month")
        if key == "period":
            kw["period"] = value.strip()
        else:
            kw[fields[key]] = float(value) if key == "cost" else int(value)
    return Budget(**kw)


def guard_service(args: argparse.Namespace):
    from slmkit.guard import Guard, Policy
    from slmkit.guard.service import GuardService

    return GuardService(Guard(Policy.parse(args.guard_policy)))


class RoutingLoader:
    """Wraps the server's loader: ``auto`` is LOCAL (loaded by the inner loader) routed to
    the upstream; every other name goes to the inner loader unchanged."""

    def __init__(self, inner, args: argparse.Namespace) -> None:
        self.inner, self.args = inner, args
        self._local_spec = None

    def resolve(self, name: str, *, from_cli: bool = False):
        from slmkit.serve.registry import ModelSpec

        if name != AUTO:
            return self.inner.resolve(name, from_cli=from_cli)
        self._local_spec = self.inner.resolve(self.args.route, from_cli=from_cli)
        return ModelSpec(AUTO, self._local_spec.memory_bytes)

    def load(self, spec):
        if spec.name != AUTO:
            return self.inner.load(spec)
        if self._local_spec is None:
            self.resolve(AUTO)
        local = self.inner.load(self._local_spec)
        try:
            engine = self._routed(local.engine)
        except BaseException:
            local.engine.close()
            raise
        local.engine = engine
        return local

    def _routed(self, local_engine):
        from slmkit.models.load import load
        from slmkit.route import RouteConfig, RoutedEngine
        from slmkit.route.costs import PriceTable
        from slmkit.route.difficulty import DifficultyModel
        from slmkit.route.ledger import Ledger, default_path

        a = self.args
        remote = load(a.upstream, backend="remote", model=a.upstream_model,
                      api_key_env=a.upstream_key_env, api_key_file=a.upstream_key_file,
                      n_ctx=a.upstream_ctx, timeout=a.upstream_timeout,
                      tokenizer=local_engine.tokenize)
        overrides = {k: v for k, v in (("min_mean_logprob", a.min_mean_logprob),
                                       ("judge_tokens", a.judge_tokens),
                                       ("max_difficulty", a.max_difficulty)) if v is not None}
        config = RouteConfig(on_upstream_error=a.on_upstream_error,
                             allow_remote_tag=a.allow_remote_tag, **overrides)
        from slmkit.guard import Guard, Policy

        return RoutedEngine(local_engine, remote, guard=Guard(Policy.parse(a.guard_policy)),
                            config=config, ledger=Ledger(a.ledger or default_path()),
                            prices=PriceTable.load(a.prices), budget=parse_budget(a.budget),
                            difficulty=DifficultyModel.load(a.difficulty) if a.difficulty
                            else None)

    def available(self):
        from dataclasses import replace

        out = list(self.inner.available())
        if self.args.route:
            base = next((m for m in out if m.name == self.args.route), None)
            info = replace(base.info, name=AUTO, architecture="routed") \
                if base is not None and base.info is not None else None
            from slmkit.serve.registry import Available

            out.append(Available(AUTO, base.size_bytes if base else 0, None,
                                 base.modified if base else 0.0, info))
        return out
