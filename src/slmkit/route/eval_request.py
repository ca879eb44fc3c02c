"""What `slm route eval` takes: a labelled multiple-choice set, the strong (remote) model,
the split and the calibration; each field carries its option's help (``core.options.opt``).
The weak model is any open Engine (the CLI opens ``weak``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slmkit.core.options import opt


@dataclass
class RouteEval:
    """APGR / CPT of the routers on a held-apart split (:func:`slmkit.route.evaluate.run`)."""

    data: str = opt("mmlu", "a choice set: catalog name (`slm eval --list-data`), a JSONL file, "
                            "or one built offline and seeded: arithmetic, facts, mixed, code, "
                            "reading, wordproblems, korean, mmlu_chat", metavar="SET")
    weak: str | None = opt(None, "the local model (default: the catalog default)",
                           metavar="MODEL")
    upstream: str | None = opt(None, "the strong model's OpenAI-compatible base URL",
                               metavar="URL", required=True)
    upstream_model: str | None = opt(None, metavar="NAME", required=True)
    upstream_key_env: str = opt("SLM_UPSTREAM_KEY", "environment variable holding the "
                                                    "upstream's key (if any)", metavar="VAR")
    limit: int | None = opt(None, "first N items only", type=int)
    format: str = opt("chat", "generate: the models answer freely (no choices shown), right "
                              "when the answer matches the correct choice; chat: a letter "
                              "through the chat template; completion: a letter after an "
                              "MMLU-style 'Answer:'", choices=("generate", "chat", "completion"))
    test_share: float = opt(0.5, "held-apart share the numbers are reported on", metavar="X")
    seed: int = opt(0)
    target_pgr: float = opt(0.8, "calibrate thresholds on the training split for this PGR",
                            metavar="X")
    chart: str | None = opt(None, "draw quality vs share escalated", metavar="PNG")
    outcomes: str | None = opt(None, "write the training split's outcomes (for `slm route "
                                     "train`)", metavar="JSONL")
    cache: str | None = opt(None, "reuse and append the models' answers here (resumable runs)",
                            metavar="JSONL")
    difficulty_out: str | None = opt(None, "save the difficulty model fit on the training "
                                           "split", metavar="FILE")
    router_out: str | None = opt(None, "save the vote router fit on the training split (for "
                                       "`slm serve --difficulty`)", metavar="FILE")

    def choice_set(self):
        """(the dataset, its items): resolve before opening any model."""
        from slmkit.route.tasks import choice_set

        return choice_set(self.data, self.format, limit=self.limit, seed=self.seed)

    def run(self, weak, weak_name: str, dataset: tuple | None = None, *,
            progress: Any = None) -> dict:
        """Answer the items with ``weak`` (an Engine named ``weak_name``) and the upstream,
        then compare the routers; ``dataset``: :meth:`choice_set`'s result."""
        from slmkit.models.upstream import Upstream
        from slmkit.route import evaluate as rev

        ds, items = dataset or self.choice_set()
        strong = Upstream(self.upstream, self.upstream_model, key_env=self.upstream_key_env,
                          timeout=120.0)
        with strong.open() as remote:
            report = rev.run(items, weak, remote, names=(weak_name, self.upstream_model),
                             progress=progress, cache=self.cache, test_share=self.test_share,
                             seed=self.seed, target_pgr=self.target_pgr,
                             difficulty_out=self.difficulty_out, outcomes=self.outcomes,
                             chart_path=self.chart, router_out=self.router_out)
        return {**report, "data": ds.name}


@dataclass
class RouteTrain:
    """What `slm route train` takes: past outcomes and the kind of prompt router to fit
    (:mod:`slmkit.route.prompt_router`; ``classifier``: the plain p(hard) classifier)."""

    data: str | None = opt(None, "outcomes, one a line: {\"prompt\", \"weak_ok\", "
                                 "\"strong_ok\"} (or \"hard\", or \"local_correct\"); "
                                 "`slm route eval --outcomes` writes them", metavar="JSONL",
                           required=True)
    output: str | None = opt(None, "where to write the router (default: "
                                   "$SLM_HOME/route/difficulty.npz)", metavar="FILE")
    router: str = opt("vote", "vote: the mean rank of knn and difficulty; knn: similarity-"
                              "weighted past outcomes; difficulty: the n-gram classifier "
                              "(each with a calibrated threshold); classifier: the plain "
                              "p(hard) model", choices=("vote", "knn", "difficulty",
                                                        "classifier"))
    target_pgr: float = opt(0.8, "calibrate the serving threshold for this share of the "
                                 "strong model's gain (on out-of-fold training scores)",
                            metavar="X", type=float)
    neighbours: int = opt(12, "k of the knn router (0: k and the similarity scale chosen "
                              "by leave-one-out on the outcomes)", type=int)
    dimension: int = opt(4096, "hashed feature buckets", type=int)
    features: str = opt("ask-ngrams", "prompt features: ask-ngrams (n-grams of the prompt "
                                      "and of its question apart, plus structure counts) or "
                                      "hashed-ngrams (the prompt's n-grams only)",
                        choices=("ask-ngrams", "hashed-ngrams"))

    def run(self) -> dict:
        """Fit, save; {model (its path), router, and the metrics}."""
        from pathlib import Path

        from slmkit.route import outcomes, prompt_router
        from slmkit.route.difficulty import train_file
        from slmkit.route.ledger import default_path

        out = Path(self.output) if self.output else default_path().parent / "difficulty.npz"
        if self.router == "classifier":
            return {"router": "classifier", **train_file(self.data, out,
                                                         dimension=self.dimension,
                                                         features=self.features)}
        model = prompt_router.train(outcomes.read(self.data), kind=self.router,
                                    target_pgr=self.target_pgr, dimension=self.dimension,
                                    k=self.neighbours, features=self.features)
        model.save(out)
        return {"model": str(out), "router": self.router, "features": model.features,
                "threshold": model.threshold, **model.metrics}
