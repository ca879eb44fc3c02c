"""`slm agent --repo DIR|URL --key PUB`: keep this device on its channel's bundle."""

from __future__ import annotations

from slmkit.cli.args import config_from, config_options


def configure(p) -> None:
    from slmkit.edge.agent_request import AgentRequest

    config_options(p, AgentRequest)


def run(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.edge.agent import Agent
    from slmkit.edge.agent_request import AgentRequest

    request = config_from(args, AgentRequest)
    agent = Agent(request.config())
    if request.status:
        return print_json(agent.status())

    def report(outcome) -> None:
        if args.json:
            print_json(vars(outcome))
        else:
            reason = f": {outcome.reason}" if outcome.reason else ""
            print(f"{outcome.action} {outcome.version or ''}{reason}".strip(), flush=True)

    outcome = request.run(agent, report)
    return 1 if args.once and outcome.action in ("refused", "error") else 0
