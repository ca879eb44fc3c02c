"""Golden prompts: a bundle's acceptance test, run against a live server.

``golden.jsonl`` holds one prompt a line::

    {"prompt": "What is 2+2?", "expect": "4"}             substring (case-insensitive)
    {"prompt": "Name a colour.", "regex": "(?i)red|blue"}  regular expression
    {"prompt": "Reply in JSON …", "schema": {...}}         JSON Schema of the whole answer

each optionally with ``max_tokens``, and with ``"rag": "COLLECTION"`` to ask the model
``rag:COLLECTION`` (a collection the bundle carries) instead of the bare model. A bundle passes when the share of prompts passing is
at least ``min_pass_rate`` and the decode speed is at least ``min_tok_s``: streamed
answers timed from their first token to their last (prompt processing excluded; each
streamed chunk is one token).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from slmkit.edge.errors import BundleError

CHECKS = ("expect", "regex", "schema")
SPEED_PROMPT = "Count from 1 to 100, separated by commas."
SPEED_TOKENS = 24


@dataclass
class GoldenResult:
    """What one acceptance run measured; ``reason`` is empty when it passed."""

    passed: int = 0
    total: int = 0
    tok_s: float = 0.0
    failures: list[str] = field(default_factory=list)
    reason: str = ""
    fidelity: dict | None = None  # KLD/ΔPPL against the reference, when the bundle has one

    @property
    def ok(self) -> bool:
        return not self.reason

    def to_dict(self) -> dict:
        return {"passed": self.passed, "total": self.total, "tok_s": round(self.tok_s, 1),
                "failures": self.failures[:5], "reason": self.reason,
                **({"fidelity": self.fidelity} if self.fidelity else {})}


def load(path: str | Path) -> list[dict]:
    """The prompts of a golden file, each checked to have a prompt and one check."""
    prompts = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as err:
            raise BundleError(f"{path}:{n}: not JSON: {err}") from err
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
            raise BundleError(f"{path}:{n}: needs a \"prompt\" string")
        if sum(k in item for k in CHECKS) != 1:
            raise BundleError(f"{path}:{n}: give exactly one of {', '.join(CHECKS)}")
        if "regex" in item:
            re.compile(item["regex"])
        if "rag" in item and not isinstance(item["rag"], str):
            raise BundleError(f"{path}:{n}: \"rag\" names a collection (a string)")
        prompts.append(item)
    if not prompts:
        raise BundleError(f"{path} holds no golden prompts")
    return prompts


def answer_passes(item: dict, text: str) -> bool:
    """Does ``text`` satisfy the prompt's check?"""
    if "expect" in item:
        return str(item["expect"]).lower() in text.lower()
    if "regex" in item:
        return re.search(item["regex"], text) is not None
    return _matches_schema(item["schema"], text)


def _matches_schema(schema: dict, text: str) -> bool:
    import jsonschema

    match = re.search(r"\{.*\}|\[.*\]", text, re.S)
    try:
        jsonschema.validate(json.loads(match.group(0) if match else text), schema)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def run(base_url: str, model: str, prompts: list[dict], acceptance: dict,
        timeout: float = 120.0) -> GoldenResult:
    """Ask every prompt of the server at ``base_url`` (OpenAI chat API, greedy, streamed)
    and judge the answers against ``acceptance`` (``min_pass_rate``, ``min_tok_s``,
    ``max_tokens``). The decode speed comes from the golden answers' own token timing; one
    extra request of :data:`SPEED_TOKENS` tokens is made only when a speed is required
    and the answers were too short to time."""
    result = GoldenResult(total=len(prompts))
    timing = [0, 0.0]  # decode tokens after each answer's first, and their seconds
    for item in prompts:
        max_tokens = int(item.get("max_tokens") or acceptance.get("max_tokens") or 48)
        target = f"rag:{item['rag']}" if item.get("rag") else model
        text = _stream(base_url, target, item["prompt"], max_tokens, timeout, timing)
        if answer_passes(item, text):
            result.passed += 1
        else:
            result.failures.append(f"{item['prompt'][:40]!r} → {text[:60]!r}")
    need_speed = float(acceptance.get("min_tok_s", 0.0))
    if need_speed > 0 and timing[0] < SPEED_TOKENS // 2:
        _stream(base_url, model, SPEED_PROMPT, SPEED_TOKENS, timeout, timing)
    result.tok_s = timing[0] / timing[1] if timing[1] > 0 else 0.0
    rate = result.passed / result.total
    need_rate = float(acceptance.get("min_pass_rate", 1.0))
    if rate < need_rate:
        result.reason = (f"golden prompts: {result.passed}/{result.total} passed, the bundle "
                         f"needs {need_rate:.0%} (first failure: {result.failures[0]})")
    elif result.tok_s < need_speed:
        result.reason = (f"speed check: {result.tok_s:.1f} tokens/s, the bundle needs "
                         f"{need_speed:g}")
    return result


def _stream(base_url: str, model: str, prompt: str, max_tokens: int, timeout: float,
            timing: list) -> str:
    """One streamed greedy answer; adds its decode tokens (chunks after the first: one
    token each) and their seconds (first chunk to last) to ``timing``."""
    payload = {"model": model, "messages": [{"role": "user", "content": prompt}],
               "max_tokens": max_tokens, "temperature": 0, "seed": 0, "stream": True}
    req = urllib.request.Request(f"{base_url}/v1/chat/completions",
                                 data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    parts, stamps = [], []
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        for raw in resp:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            content = json.loads(line[6:])["choices"][0].get("delta", {}).get("content")
            if content:
                parts.append(content)
                stamps.append(time.perf_counter())
    if len(stamps) >= 2:
        timing[0] += len(stamps) - 1
        timing[1] += stamps[-1] - stamps[0]
    return "".join(parts)
