"""The training loop: LoRA / QLoRA / full fine-tuning on CPU.

Each optimizer step sees ``grad_accum`` micro-batches of ``batch_size`` examples; the
loss is the mean cross-entropy over the answer tokens of the whole step. The order of
the examples is a pure function of (seed, epoch), so a resumed run continues with exactly
the micro-batches the interrupted one would have seen. Checkpoints
(``OUTPUT/checkpoints/step-N``: weights, optimizer, schedule, step) are written every
``save_every`` steps and at the end; ``resume=True`` continues from the newest one.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from slmkit.adapt import data as D
from slmkit.adapt.lora import ADAPTER_META, LoraSettings, attach, load_base
from slmkit.core.options import opt

SCHEDULES = ("cosine", "linear", "constant")
ProgressFn = Callable[[dict], None]
TRAINING = "training"


@dataclass
class TrainConfig:
    output: str | None = opt(None, "where to write (default ./finetune-<model>-<method>)",
                             metavar="DIR", short="-o")
    method: str = opt("lora", choices=("lora", "qlora", "full"))
    lora: LoraSettings = field(default_factory=LoraSettings, metadata={"nested": LoraSettings})
    epochs: float = opt(1.0, group=TRAINING)
    max_steps: int | None = opt(None, "stop after N optimizer steps (overrides --epochs)",
                                type=int, group=TRAINING)
    lr: float | None = opt(None, "learning rate (default 2e-4 for LoRA/QLoRA, 2e-5 for full)",
                           type=float, group=TRAINING)
    schedule: str = opt("cosine", choices=SCHEDULES, group=TRAINING)
    warmup: float = opt(0.05, metavar="FRACTION", group=TRAINING)  # of the steps
    batch_size: int = opt(4, group=TRAINING)
    grad_accum: int = opt(1, group=TRAINING)
    max_seq_len: int = opt(512, metavar="TOKENS", group=TRAINING)
    seed: int = opt(0, group=TRAINING)
    eval_every: int = opt(0, "validation loss every N steps (default: 5 times per run)",
                          metavar="STEPS", group=TRAINING)
    save_every: int = opt(0, "checkpoint every N steps (default: only at the end)",
                          metavar="STEPS", group=TRAINING)
    keep_checkpoints: int = 2
    resume: bool = opt(False, "continue from the newest checkpoint in --output", group=TRAINING)
    threads: int = opt(0, group=TRAINING)

    def validate(self) -> None:
        if not self.output:
            raise ValueError("TrainConfig.output: give the directory to write into")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"--schedule must be one of {', '.join(SCHEDULES)}")
        for name in ("batch_size", "grad_accum", "max_seq_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("--max-steps must be >= 1")
        if self.epochs <= 0:
            raise ValueError("--epochs must be > 0")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (2e-5 if self.method == "full" else 2e-4)


@dataclass
class TrainResult:
    output: str
    method: str
    steps: int
    train: dict
    eval: dict | None
    history: list[dict]
    seconds: float
    tokens_per_second: float
    peak_rss_mb: float
    trainable_params: int
    total_params: int
    resumed_from: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def finetune(model_path: str, train_path: str, config: TrainConfig, *,
             eval_path: str | None = None, base_name: str | None = None,
             base_sha256: str | None = None, progress: ProgressFn | None = None) -> TrainResult:
    """Fine-tune ``model_path`` on ``train_path``; write the result into ``config.output``."""
    import torch

    config.validate()
    if config.threads:
        torch.set_num_threads(config.threads)
    for path in (train_path, eval_path):  # bad data fails before the model loads
        if path:
            D.read_records(path)
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    base = load_base(model_path, method=config.method, sha256=base_sha256)
    config = replace(config, lora=config.lora.for_architecture(base.info["architecture"]))
    train = D.encode_file(train_path, base.tokenizer, base.fmt, max_seq_len=config.max_seq_len)
    held = (D.encode_file(eval_path, base.tokenizer, base.fmt, max_seq_len=config.max_seq_len)
            if eval_path else None)
    torch.manual_seed(config.seed)
    model = _trainable(base, config)
    params = [p for p in model.parameters() if p.requires_grad]
    total = _total_steps(len(train.examples), config)
    opt = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(config, total))
    start = _resume(out, model, opt, sched, config) if config.resume else 0
    pad = base.tokenizer.pad_token_id if base.tokenizer.pad_token_id is not None else 0
    loop = _Loop(model, opt, sched, pad, config, total, progress)
    history = loop.run(train, held, start, out)
    _save_final(out, model, base, config, base_name, base_sha256, train, held)
    return TrainResult(str(out), config.method, total, train.summary(),
                       held.summary() if held else None, history, loop.seconds,
                       loop.tokens / loop.seconds if loop.seconds else 0.0, peak_rss_mb(),
                       sum(p.numel() for p in params),
                       sum(p.numel() for p in model.parameters()), start)


def _trainable(base, config: TrainConfig):
    if config.method == "full":
        for p in base.model.parameters():
            p.requires_grad_(True)
        return base.model
    return attach(base, config.lora)


def _total_steps(n_examples: int, config: TrainConfig) -> int:
    if config.max_steps:
        return config.max_steps
    per_epoch = math.ceil(n_examples / (config.batch_size * config.grad_accum))
    return max(1, math.ceil(per_epoch * config.epochs))


def _schedule(config: TrainConfig, total: int) -> Callable[[int], float]:
    warm = int(total * config.warmup)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        if config.schedule == "constant":
            return 1.0
        frac = (step - warm) / max(1, total - warm)
        return max(0.0, 1 - frac) if config.schedule == "linear" \
            else 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
    return factor


def micro_batches(n: int, batch: int, seed: int) -> Iterator[list[int]]:
    """Example indices, ``batch`` at a time, epoch after epoch, shuffled per (seed, epoch)."""
    epoch = 0
    while True:
        order = list(range(n))
        random.Random(seed * 1_000_003 + epoch).shuffle(order)
        for i in range(0, n, batch):
            yield order[i:i + batch]
        epoch += 1


class _Loop:
    def __init__(self, model, opt, sched, pad: int, config: TrainConfig, total: int,
                 progress: ProgressFn | None) -> None:
        self.model, self.opt, self.sched, self.pad = model, opt, sched, pad
        self.config, self.total, self.progress = config, total, progress or (lambda e: None)
        self.seconds = 0.0
        self.tokens = 0

    def run(self, train: D.EncodedData, held: D.EncodedData | None, start: int,
            out: Path) -> list[dict]:
        c = self.config
        every = c.eval_every or max(1, self.total // 5)
        batches = micro_batches(len(train.examples), c.batch_size, c.seed)
        for _ in range(start * c.grad_accum):  # a resumed run skips what was seen
            next(batches)
        history: list[dict] = []
        if held is not None and start == 0:
            history.append({"step": 0, "eval_loss": self.eval_loss(held)})
            self.progress({"event": "eval", **history[-1]})
        for step in range(start + 1, self.total + 1):
            t0 = time.perf_counter()
            loss, n_tok = self.step([[train.examples[i] for i in next(batches)]
                                     for _ in range(c.grad_accum)])
            dt = time.perf_counter() - t0
            self.seconds += dt
            self.tokens += n_tok
            row = {"step": step, "loss": loss, "lr": self.sched.get_last_lr()[0],
                   "tokens_per_second": n_tok / dt if dt else 0.0}
            if held is not None and (step % every == 0 or step == self.total):
                row["eval_loss"] = self.eval_loss(held)
            history.append(row)
            self.progress({"event": "step", "total": self.total, **row})
            if c.save_every and step % c.save_every == 0 and step != self.total:
                save_checkpoint(out, self.model, self.opt, self.sched, step, c)
        save_checkpoint(out, self.model, self.opt, self.sched, self.total, c)
        return history

    def step(self, groups: list[list[D.Example]]) -> tuple[float, int]:
        """One optimizer step over ``grad_accum`` micro-batches; (mean loss, tokens fed)."""
        import torch

        self.model.train()
        n_answer = sum(e.n_answer for g in groups for e in g) or 1
        total_loss, fed = 0.0, 0
        for group in groups:
            ids, mask, labels = D.collate(group, self.pad)
            loss = answer_loss(self.model, ids, mask, labels, reduction="sum") / n_answer
            loss.backward()
            total_loss += float(loss.detach())
            fed += int(mask.sum())
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad],
                                       1.0)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        return total_loss, fed

    def eval_loss(self, held: D.EncodedData) -> float:
        return evaluate_loss(self.model, held.examples, self.pad, self.config.batch_size)


def answer_loss(model, ids, mask, labels, *, reduction: str = "mean"):
    """Cross-entropy of next-token predictions on the labelled (answer) positions.

    Only positions that predict a labelled token (in any row) go through the output
    layer (``logits_to_keep``): with a 49k-token vocabulary that is a large share of
    the work for short answers."""
    import torch
    import torch.nn.functional as F

    wanted = (labels[:, 1:] != D.IGNORE).any(dim=0)  # [T-1]: position t predicts t+1
    keep = torch.nonzero(wanted).squeeze(1)  # [K]
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits  # [B, K, V]
    target = labels[:, keep + 1]  # [B, K]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
                           ignore_index=D.IGNORE, reduction=reduction)


def evaluate_loss(model, examples: list[D.Example], pad: int, batch_size: int = 4) -> float:
    """Mean answer-token cross-entropy over ``examples`` (no gradients)."""
    import torch

    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            group = examples[i:i + batch_size]
            ids, mask, labels = D.collate(group, pad)
            total += float(answer_loss(model, ids, mask, labels, reduction="sum"))
            n += sum(e.n_answer for e in group)
    return total / max(n, 1)


# ---- checkpoints --------------------------------------------------------------------------

def _trainable_state(model) -> dict:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in names}


def save_checkpoint(out: Path, model, opt, sched, step: int, config: TrainConfig) -> Path:
    import torch

    root = out / "checkpoints"
    path = root / f"step-{step}"
    tmp = root / f".step-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save({"model": _trainable_state(model), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "step": step}, tmp / "state.pt")
    (tmp / "config.json").write_text(json.dumps(_config_dict(config), indent=2))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    for old in checkpoints(out)[:-config.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def checkpoints(out: Path) -> list[Path]:
    """Checkpoint directories of ``out``, oldest first."""
    root = Path(out) / "checkpoints"
    found = [p for p in root.glob("step-*") if (p / "state.pt").is_file()] if root.is_dir() \
        else []
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _resume(out: Path, model, opt, sched, config: TrainConfig) -> int:
    import torch

    found = checkpoints(out)
    if not found:
        return 0
    state = _load_state(torch, found[-1] / "state.pt")
    saved = json.loads((found[-1] / "config.json").read_text())
    for key in ("method", "batch_size", "grad_accum", "seed"):
        if saved.get(key) != _config_dict(config).get(key):
            raise ValueError(f"cannot resume {found[-1]}: it was trained with {key}="
                             f"{saved.get(key)!r}, this run asks for "
                             f"{_config_dict(config).get(key)!r}")
    model.load_state_dict(state["model"], strict=False)
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    return int(state["step"])


def _load_state(torch, path: Path) -> dict:
    """A checkpoint's tensors and plain data only (``weights_only``): unpickling anything
    else could run code, so such a file is refused, never executed."""
    import pickle

    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise ValueError(f"refusing to resume from {path}: it holds objects other than "
                         f"tensors and plain data, and loading those could run code "
                         f"({str(err).splitlines()[0]})") from None


def _config_dict(config: TrainConfig) -> dict:
    d = asdict(config)
    d["lora"] = asdict(config.lora)
    d["lora"]["targets"] = list(config.lora.targets)
    return d


def _save_final(out: Path, model, base, config: TrainConfig, base_name, base_sha256,
                train, held) -> dict:
    """The trained weights (peft adapter, or a whole HF model for ``full``) and our sidecar."""
    if config.method == "full":
        save_full(out, model, base.hf_dir)
    else:
        model.save_pretrained(str(out))
    meta = {"method": config.method, "base": base_name or str(base.source),
            "base_sha256": base_sha256, "base_hf_dir": str(base.hf_dir),
            "config": _config_dict(config), "train": train.summary(),
            "eval": held.summary() if held else None}
    (out / ADAPTER_META).write_text(json.dumps(meta, indent=2))
    return meta


def save_full(out: Path, model, hf_dir: Path) -> None:
    """Write a whole (merged or fully fine-tuned) model into ``out`` with the tokenizer and
    metadata files of ``hf_dir``."""
    from safetensors.torch import save_file

    from slmkit.convert.constants import SIDECAR

    for name in ("config.json", "tokenizer.json", "tokenizer_config.json",
                 "chat_template.jinja", "generation_config.json", SIDECAR):
        if (hf_dir / name).is_file():
            shutil.copy2(hf_dir / name, out / name)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    from slmkit.arch.base import tied_embeddings

    if tied_embeddings(model.config):
        state.pop("lm_head.weight", None)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
