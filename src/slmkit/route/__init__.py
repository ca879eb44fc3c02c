"""Local-first routing: answer with the small local model, escalate hard requests to a big
remote one on measured signals, mask what leaves the site, and keep a cost ledger.

    engine = RoutedEngine(local, remote, guard=Guard(), ledger=Ledger(default_path()))
    out = collect(engine.generate(request))
    out.usage.decision.to_dict()   # {"route": "local", "reason": "confident: ...", ...}
"""

from slmkit.route.costs import EXAMPLE_PRICES, Budget, PriceTable
from slmkit.route.decide import FALLBACK, LOCAL, REMOTE, Decision, RouteConfig, confidence, judge
from slmkit.route.engine import Masker, RoutedEngine
from slmkit.route.ledger import Entry, Ledger, default_path
from slmkit.route.report import summarize
from slmkit.route.stream import RoutedStream

__all__ = [
    "EXAMPLE_PRICES", "FALLBACK", "LOCAL", "REMOTE", "Budget", "Decision", "Entry", "Ledger",
    "Masker", "PriceTable", "RouteConfig", "RoutedEngine", "RoutedStream",
    "confidence", "default_path", "judge", "summarize",
]
