"""Online log template mining: Drain (He et al., ICWS 2017) with an exact-match cache.

The algorithm is Drain as drain3 implements it — a fixed-depth prefix tree keyed by token
count and the first ``depth - 2`` tokens (tokens with digits go down a wildcard branch), then
the most similar cluster in the leaf (similar tokens / length, ties to the cluster with more
wildcards) above ``sim_th``, whose template is generalised position by position. Two things
make it fast on one core:

- masking runs per token with a cache (``masking.Masker``), so a repeated token costs a lookup;
- an exact-match cache maps a masked line seen before to its cluster. A cluster's template
  only ever gains wildcards, so a line that joined a cluster still matches it, and merging it
  again changes nothing — the cache returns what the tree search would, without searching.

State (settings + clusters) round-trips through ``to_dict``/``from_dict`` so a stream resumes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from operator import eq
from typing import Any

from slmkit.apps.logs.masking import DEFAULT_MASKS, WILDCARD, Masker

STATE_VERSION = 1
EXAMPLES = 4  # distinct lines kept per cluster (for template correction)


@dataclass
class Cluster:
    """One template: its id, tokens (``<*>`` for variables) and how many lines joined it.

    Change ``tokens`` through ``generalise`` (it keeps the cached template string true)."""

    id: int
    tokens: list[str]
    size: int = 0
    path: tuple[str, ...] = ()  # the tokens that placed it in the tree (kept for resuming)
    examples: list[str] = field(default_factory=list)  # its first distinct lines
    _template: str | None = field(default=None, repr=False, compare=False)

    @property
    def template(self) -> str:
        """The template as one string."""
        t = self._template
        if t is None:
            t = self._template = " ".join(self.tokens)
        return t

    def generalise(self, tokens: list[str]) -> None:
        """Turn every position where ``tokens`` differs into a wildcard."""
        tmpl = self.tokens
        for i, tok in enumerate(tokens):
            if tmpl[i] != tok and tmpl[i] != WILDCARD:
                tmpl[i] = WILDCARD
                self._template = None

    @property
    def event_id(self) -> str:
        """The stable public id, ``T<n>``."""
        return f"T{self.id}"


class _Node:
    __slots__ = ("children", "clusters")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.clusters: list[Cluster] = []


def _has_digit(tok: str) -> bool:
    return not tok.isalpha() and any(c.isdigit() for c in tok)


class Drain:
    """An online template miner. ``add(line)`` returns the line's cluster and parameters."""

    def __init__(self, sim_th: float = 0.4, depth: int = 4, max_children: int = 100,
                 masks: tuple[str, ...] | list[str] = DEFAULT_MASKS,
                 cache_size: int = 100_000) -> None:
        if depth < 3:
            raise ValueError("Drain depth must be at least 3 (length layer + one token layer "
                             "+ leaf)")
        if not 0.0 <= sim_th <= 1.0:
            raise ValueError(f"sim_th must be within [0, 1], got {sim_th}")
        self.sim_th = sim_th
        self.depth = depth
        self.max_children = max_children
        self.masker = Masker(masks)
        self.clusters: dict[int, Cluster] = {}
        self._root: dict[int, _Node] = {}
        self._exact: dict[str, Cluster] = {}
        self._cache_size = cache_size
        self._param_rx: dict[str, re.Pattern] = {}
        self.lines = 0

    # -- mining ----------------------------------------------------------------------------
    def add(self, content: str) -> tuple[Cluster, list[str]]:
        """Mine one line (its content, header removed): (cluster, parameter values)."""
        raw, masked = self.masker.tokens(content)
        self.lines += 1
        key = " ".join(masked)
        cluster = self._exact.get(key)
        if cluster is None:
            cluster = self._match_or_create(masked)
            if len(self._exact) >= self._cache_size:
                self._exact.clear()
            self._exact[key] = cluster
        cluster.size += 1
        examples = cluster.examples
        if len(examples) < EXAMPLES and content not in examples:
            examples.append(content)
        return cluster, self.params(cluster, raw, content)

    def _match_or_create(self, tokens: list[str]) -> Cluster:
        leaf = self._leaf(tokens, create=False)
        best = self._best(leaf.clusters, tokens) if leaf is not None else None
        if best is None:
            best = Cluster(id=len(self.clusters) + 1, tokens=list(tokens), path=tuple(tokens))
            self.clusters[best.id] = best
            self._insert(best)
            return best
        best.generalise(tokens)
        return best

    def _best(self, candidates: list[Cluster], tokens: list[str]) -> Cluster | None:
        best, best_sim, best_params = None, -1.0, -1
        n = len(tokens) or 1
        # A wildcard in the template counts as a parameter, never as a same token: with the
        # line's own wildcards made unequal to everything, equal positions are same tokens.
        probe = [None if t == WILDCARD else t for t in tokens] if WILDCARD in tokens else tokens
        for c in candidates:
            same = sum(map(eq, c.tokens, probe))
            params = c.tokens.count(WILDCARD)
            sim = same / n
            if sim > best_sim or (sim == best_sim and params > best_params):
                best, best_sim, best_params = c, sim, params
        if best is not None and (best_sim >= self.sim_th or not tokens):
            return best
        return None

    def _leaf(self, tokens: list[str], create: bool) -> _Node | None:
        """The leaf for a token sequence (drain3's tree search), or None when absent."""
        node = self._root.get(len(tokens))
        if node is None:
            return None
        for tok in tokens[: min(self.depth - 2, max(len(tokens) - 1, 0))]:
            nxt = node.children.get(tok)
            if nxt is None:
                nxt = node.children.get(WILDCARD)
            if nxt is None:
                return None
            node = nxt
        return node

    def _insert(self, cluster: Cluster) -> None:
        """Add a new cluster to the tree (drain3's add_seq_to_prefix_tree)."""
        tokens = cluster.path or tuple(cluster.tokens)
        node = self._root.setdefault(len(tokens), _Node())
        for tok in tokens[: min(self.depth - 2, max(len(tokens) - 1, 0))]:
            kids = node.children
            if tok in kids:
                node = kids[tok]
                continue
            if _has_digit(tok):
                node = kids.setdefault(WILDCARD, _Node())
            elif WILDCARD in kids:
                if len(kids) < self.max_children:
                    node = kids[tok] = _Node()
                else:
                    node = kids[WILDCARD]
            elif len(kids) + 1 < self.max_children:
                node = kids[tok] = _Node()
            elif len(kids) + 1 == self.max_children:
                node = kids[WILDCARD] = _Node()
            else:
                node = kids[WILDCARD]
        node.clusters.append(cluster)

    # -- parameters ------------------------------------------------------------------------
    def params(self, cluster: Cluster, raw: list[str], content: str) -> list[str]:
        """The values behind the template's wildcards, from the original line."""
        tmpl = cluster.tokens
        if len(raw) == len(tmpl):
            out = []
            for t, tok in zip(tmpl, raw):
                if t == WILDCARD:
                    out.append(tok)
                elif WILDCARD in t:
                    out.extend(self._match(t, tok) or [tok])
            return out
        return self._match(cluster.template, content) or []

    def _match(self, template: str, text: str) -> list[str] | None:
        rx = self._param_rx.get(template)
        if rx is None:
            parts = [re.escape(p) for p in template.split(WILDCARD)]
            pattern = "(.*?)".join(parts)
            pattern = re.sub(r"(\\ )+", r"\\s+", pattern)
            if len(self._param_rx) > 10_000:
                self._param_rx.clear()
            rx = self._param_rx[template] = re.compile(pattern + r"\s*$", re.DOTALL)
        m = rx.match(text.strip())
        return list(m.groups()) if m else None

    # -- state -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Settings and clusters as plain JSON-able data (``from_dict`` restores them)."""
        return {
            "version": STATE_VERSION, "sim_th": self.sim_th, "depth": self.depth,
            "max_children": self.max_children, "masks": list(self.masker.patterns),
            "lines": self.lines,
            "clusters": [{"id": c.id, "tokens": c.tokens, "size": c.size,
                          "path": list(c.path[: self.depth - 2]), "examples": c.examples}
                         for c in self.clusters.values()],
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Drain:
        """A miner restored from ``to_dict``'s data: clusters, ids and counts carry on."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"log parser state version {state.get('version')!r} is not "
                             f"{STATE_VERSION}; delete the state file to start afresh")
        drain = cls(sim_th=state["sim_th"], depth=state["depth"],
                    max_children=state["max_children"], masks=state["masks"])
        drain.lines = state.get("lines", 0)
        for c in sorted(state["clusters"], key=lambda c: c["id"]):
            path = tuple(c.get("path", ())) + tuple(c["tokens"][len(c.get("path", ())):])
            cluster = Cluster(id=c["id"], tokens=list(c["tokens"]), size=c["size"], path=path,
                              examples=list(c.get("examples", ())))
            drain.clusters[cluster.id] = cluster
            drain._insert(cluster)
        return drain
