"""Knowledge distillation on CPU: a teacher's knowledge into a (smaller, pruned) student.

Two methods:

- ``logits`` (same tokenizer): the student matches the teacher's next-token distribution
  on the user's text. Losses: forward KL ``KL(p_T || p_S)`` (mean-seeking, the classic
  Hinton loss), reverse KL ``KL(p_S || p_T)`` (mode-seeking, MiniLLM), or the
  Jensen–Shannon divergence; all at temperature ``T`` (scaled by T²), mixed with the
  ordinary next-token cross-entropy: ``loss = alpha·CE + (1 - alpha)·KD``.
- ``sequence`` (any tokenizers): the teacher answers prompts taken from the data (through
  the llama.cpp engine, much faster than torch), and the student is trained with
  cross-entropy on those answers (loss on answer tokens only), rendered with the student's
  chat template (Kim & Rush's sequence-level KD).

The loop (:func:`train`): AdamW, warm-up then cosine/linear/constant learning rate, gradient
accumulation, gradient clipping, checkpoints every N optimizer steps (weights, optimizer,
schedule, RNG, log) and ``resume`` from the newest one. The data order is a pure function of
(seed, step), so a resumed run takes exactly the steps the uninterrupted run would have.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from slmkit.compress.distill_data import (
    Examples,
    chat_examples,
    prompts_from,
    teacher_answers,
    text_examples,
)
from slmkit.compress.train_io import CompressError
from slmkit.core.options import opt

LOSSES = ("fkl", "rkl", "jsd")
METHODS = ("logits", "sequence")
SCHEDULES = ("cosine", "linear", "constant")
CKPT_DIR = "checkpoints"
StepFn = Callable[[dict], None]
TRAINING = "training"


@dataclass
class DistillConfig:
    method: str = opt("logits", "logits: match the teacher's distributions (same tokenizer); "
                                "sequence: train on the teacher's answers (any tokenizers)",
                      choices=METHODS)
    loss: str = opt("fkl", "forward KL, reverse KL or Jensen-Shannon", choices=LOSSES,
                    group="loss")
    temperature: float = opt(1.0, metavar="T", group="loss")
    alpha: float = opt(0.0, "weight of the cross-entropy term, 1 - alpha for KD", group="loss")
    lr: float = opt(1e-4, group=TRAINING)
    schedule: str = opt("cosine", choices=SCHEDULES, group=TRAINING)
    warmup_steps: int = opt(0, metavar="STEPS", group=TRAINING, flag="warmup")
    weight_decay: float = opt(0.0, group=TRAINING)
    batch_size: int = opt(2, group=TRAINING)
    grad_accum: int = opt(1, group=TRAINING)
    seq_len: int = opt(256, "max sequence length", group=TRAINING)
    max_steps: int = opt(100, group=TRAINING)
    save_every: int = opt(50, "checkpoint every N steps (0: only at the end)", group=TRAINING)
    max_grad_norm: float = 1.0
    seed: int = opt(0, group=TRAINING)
    eval_rows: int = opt(4, "rows at the end of the data held apart for before/after metrics",
                         group=TRAINING)
    threads: int = opt(0, group=TRAINING)  # 0: torch's default
    bf16: bool = opt(False, "autocast to bfloat16 (faster on CPUs with AVX512-BF16/AMX; "
                            "weights and optimizer stay float32)", group=TRAINING)
    max_new_tokens: int = opt(128, group="sequence-level")  # teacher answer length
    max_prompts: int | None = opt(None, type=int, group="sequence-level")

    def check(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"--method must be one of {', '.join(METHODS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"--loss must be one of {', '.join(LOSSES)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"--schedule must be one of {', '.join(SCHEDULES)}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError("--alpha must be between 0 and 1")
        if self.temperature <= 0 or self.max_steps < 1 or self.batch_size < 1:
            raise ValueError("--temperature, --max-steps and --batch-size must be positive")


# ---- losses ---------------------------------------------------------------------------------

def kd_loss(student_logits, teacher_logits, *, kind: str = "fkl", temperature: float = 1.0,
            mask=None):
    """Mean per-token divergence between teacher and student [.., V] logits, × T²."""
    import torch.nn.functional as F

    ls = F.log_softmax(student_logits.float() / temperature, dim=-1)
    lt = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    if kind == "fkl":
        per = (lt.exp() * (lt - ls)).sum(-1)
    elif kind == "rkl":
        per = (ls.exp() * (ls - lt)).sum(-1)
    elif kind == "jsd":
        import torch

        lm = torch.logsumexp(torch.stack([ls, lt]), dim=0) - math.log(2.0)  # log ½(p_s+p_t)
        per = 0.5 * (lt.exp() * (lt - lm)).sum(-1) + 0.5 * (ls.exp() * (ls - lm)).sum(-1)
    else:
        raise ValueError(f"unknown KD loss {kind!r}")
    if mask is not None:
        per = per[mask]
    return per.mean() * temperature ** 2


def ce_loss(logits, labels):
    """Next-token cross-entropy: position t predicts labels[t+1]; -100 ignored."""
    import torch.nn.functional as F

    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                           labels[:, 1:].reshape(-1), ignore_index=-100)


# ---- the loop -------------------------------------------------------------------------------

def batch_indices(n: int, step: int, micro: int, cfg: DistillConfig) -> list[int]:
    """Rows of micro-batch ``micro`` of optimizer step ``step``: a pure function of the
    seed and the position, so a resumed run sees exactly the same data."""
    import torch

    per_step = cfg.batch_size * cfg.grad_accum
    start = step * per_step + micro * cfg.batch_size
    out = []
    for g in range(start, start + cfg.batch_size):
        epoch, pos = divmod(g, n)
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        out.append(int(torch.randperm(n, generator=gen)[pos]))
    return out


def lr_at(step: int, cfg: DistillConfig) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based)."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    frac = min(1.0, (step - cfg.warmup_steps) / span)
    if cfg.schedule == "linear":
        return max(0.0, 1.0 - frac)
    return 0.5 * (1.0 + math.cos(math.pi * frac))


def _autocast(cfg: DistillConfig):
    import contextlib

    import torch

    return (torch.autocast("cpu", dtype=torch.bfloat16) if cfg.bf16
            else contextlib.nullcontext())


def _loss(student, teacher, ids, mask, labels, cfg: DistillConfig):
    import torch

    with _autocast(cfg):
        out = student(input_ids=ids, attention_mask=mask, use_cache=False).logits
    ce = ce_loss(out, labels)
    if cfg.method != "logits" or cfg.alpha >= 1.0:
        return ce, {"ce": float(ce.detach())}
    with torch.no_grad(), _autocast(cfg):
        t_out = teacher(input_ids=ids, attention_mask=mask, use_cache=False).logits
    kd = kd_loss(out, t_out, kind=cfg.loss, temperature=cfg.temperature,
                 mask=mask.bool())
    return cfg.alpha * ce + (1 - cfg.alpha) * kd, {"ce": float(ce.detach()), "kd": float(kd.detach())}


@dataclass
class TrainState:
    step: int = 0
    log: list = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0


def train(student, teacher, data: Examples, cfg: DistillConfig, out_dir: Path, *,
          resume: bool = False, on_step: StepFn | None = None) -> TrainState:
    """Train ``student`` in place for ``cfg.max_steps`` optimizer steps; checkpoints go to
    ``out_dir/checkpoints/step-N``. With ``resume`` the newest checkpoint is loaded first."""
    import torch

    cfg.check()
    torch.manual_seed(cfg.seed)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, cfg))
    state = TrainState()
    if resume:
        state = _load_checkpoint(out_dir, student, opt, sched, cfg) or state
    student.train()
    if teacher is not None:
        teacher.eval()
    n = len(data)
    while state.step < cfg.max_steps:
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        parts, tokens = [], 0
        for micro in range(cfg.grad_accum):
            ids, mask, labels = data.take(batch_indices(n, state.step, micro, cfg))
            loss, info = _loss(student, teacher, ids, mask, labels, cfg)
            (loss / cfg.grad_accum).backward()
            parts.append((float(loss.detach()), info))
            tokens += int(mask.sum())
        if cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.max_grad_norm)
        opt.step()
        sched.step()
        state.step += 1
        dt = time.perf_counter() - t0
        state.tokens += tokens
        state.seconds += dt
        row = {"step": state.step, "loss": sum(p[0] for p in parts) / len(parts),
               "lr": sched.get_last_lr()[0], "tokens_per_second": tokens / dt if dt else 0.0}
        for key in parts[0][1]:
            row[key] = sum(p[1][key] for p in parts) / len(parts)
        state.log.append(row)
        if on_step:
            on_step(row)
        if cfg.save_every and (state.step % cfg.save_every == 0 or state.step == cfg.max_steps):
            _save_checkpoint(out_dir, student, opt, sched, state, cfg)
    student.eval()
    return state


def _ckpt_root(out_dir: Path) -> Path:
    return Path(out_dir) / CKPT_DIR


def latest_checkpoint(out_dir: Path) -> Path | None:
    root = _ckpt_root(out_dir)
    steps = sorted((int(p.name.split("-")[1]), p) for p in root.glob("step-*")
                   if (p / "state.pt").is_file()) if root.is_dir() else []
    return steps[-1][1] if steps else None


def _save_checkpoint(out_dir, student, opt, sched, state: TrainState, cfg) -> Path:
    import torch

    where = _ckpt_root(out_dir) / f"step-{state.step}"
    where.mkdir(parents=True, exist_ok=True)
    tmp = where / "state.pt.tmp"
    torch.save({"model": student.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "step": state.step, "log": state.log,
                "tokens": state.tokens, "seconds": state.seconds,
                "rng": torch.get_rng_state(), "config": asdict(cfg)}, tmp)
    tmp.replace(where / "state.pt")
    return where


_RESUME_KEYS = ("method", "loss", "temperature", "alpha", "lr", "schedule", "warmup_steps",
                "batch_size", "grad_accum", "seq_len", "seed", "bf16")


def _load_checkpoint(out_dir, student, opt, sched, cfg) -> TrainState | None:
    import torch

    where = latest_checkpoint(out_dir)
    if where is None:
        return None
    try:  # tensors and plain data only: unpickling anything else could run code
        blob = torch.load(where / "state.pt", weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise CompressError(f"refusing to resume from {where}: its state.pt holds objects "
                            "other than tensors and plain data, and loading those could run "
                            f"code ({str(err).splitlines()[0]})",
                            hint="delete that checkpoint, or start a new --output") from None
    changed = [k for k in _RESUME_KEYS if blob["config"].get(k) != getattr(cfg, k)]
    if changed:
        raise CompressError(f"cannot resume from {where}: settings changed ({', '.join(changed)})",
                            hint="resume with the same settings, or start a new --output")
    student.load_state_dict(blob["model"])
    opt.load_state_dict(blob["optimizer"])
    sched.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["rng"])
    return TrainState(blob["step"], blob["log"], blob["tokens"], blob["seconds"])


# ---- evaluation -----------------------------------------------------------------------------

def held_apart_metrics(student, teacher, data: Examples, *, batch_size: int = 2) -> dict:
    """Mean per-token KL(teacher || student) at T=1 (when there is a teacher) and the
    student's cross-entropy / perplexity on ``data``."""
    import torch

    kl_sum = ce_sum = 0.0
    n_kl = n_ce = 0
    student.eval()
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            ids, mask, labels = data.take(slice(start, start + batch_size))
            s = student(input_ids=ids, attention_mask=mask, use_cache=False).logits
            lab = labels[:, 1:]
            valid = lab != -100
            ce = torch.nn.functional.cross_entropy(
                s[:, :-1].reshape(-1, s.shape[-1]), lab.reshape(-1), ignore_index=-100,
                reduction="sum")
            ce_sum += float(ce)
            n_ce += int(valid.sum())
            if teacher is not None:
                t = teacher(input_ids=ids, attention_mask=mask, use_cache=False).logits
                m = mask.bool()
                kl_sum += float(kd_loss(s, t, kind="fkl", mask=m)) * int(m.sum())
                n_kl += int(m.sum())
    out = {"ce": ce_sum / max(n_ce, 1), "ppl": math.exp(ce_sum / max(n_ce, 1))}
    if teacher is not None:
        out["kl"] = kl_sum / max(n_kl, 1)
    return out


def same_tokenizer(a, b) -> bool:
    return a.get_vocab() == b.get_vocab()


# ---- the whole verb -------------------------------------------------------------------------

def distill(teacher: str, student: str, data: str, out_dir: str, *,
            config: DistillConfig | None = None, resume: bool = False,
            gguf_type: str = "f16", on_step: StepFn | None = None,
            on_status: Callable[[str], None] | None = None, extra: dict | None = None,
            n_threads: int = 0) -> dict:
    """Distill ``teacher`` into ``student`` (paths: GGUF files or HF directories) on
    ``data``; writes ``out_dir/final/{hf,model-<type>.gguf}`` and returns the report."""
    from slmkit.compress import train_io

    cfg = config or DistillConfig()
    cfg.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = on_status or (lambda _msg: None)
    say("loading the student …")
    st = train_io.load_float(student, scratch_root=out)
    te = None
    try:
        digest = train_io.file_digest(_data_path(data))
        if cfg.method == "logits":
            say("loading the teacher …")
            te = train_io.load_float(teacher, scratch_root=out)
            if not same_tokenizer(te.tokenizer, st.tokenizer):
                raise CompressError("teacher and student tokenizers differ: logit "
                                    "distillation needs the same vocabulary",
                                    hint="use --method sequence for cross-tokenizer pairs")
            text, _ = train_io.read_text(data)
            examples = text_examples(st.tokenizer, text, cfg.seq_len)
        else:
            examples = _sequence_examples(teacher, data, st, cfg, out, say, n_threads)
        train_set, held = examples.split(min(cfg.eval_rows, len(examples) - 1))
        t_model = te.model if te is not None else None
        say("measuring the student before training …")
        before = held_apart_metrics(st.model, t_model, held)
        state = train(st.model, t_model, train_set, cfg, out, resume=resume, on_step=on_step)
        after = held_apart_metrics(st.model, t_model, held)
        tag = f"distill:{cfg.method}" + (f"-{cfg.loss}-T{cfg.temperature:g}-a{cfg.alpha:g}"
                                         if cfg.method == "logits" else "")
        lineage = {"method": tag, "teacher": str(teacher), "student": str(student),
                   "data_sha256": digest, "config": asdict(cfg), "steps": state.step,
                   **(extra or {})}
        say("saving …")
        hf, gguf_path = train_io.export(st.model, st.source_dir, out / "final",
                                        gguf_type=gguf_type, extra=lineage)
    finally:
        st.close()
        if te is not None:
            te.close()
    return {"method_tag": tag, "config": asdict(cfg), "steps": state.step,
            "train_rows": len(train_set), "held_apart_rows": len(held),
            "tokens_trained": state.tokens, "train_seconds": round(state.seconds, 2),
            "tokens_per_second": round(state.tokens / state.seconds, 1) if state.seconds else 0,
            "before": before, "after": after, "final_loss": state.log[-1]["loss"] if state.log
            else None, "data_sha256": digest, "hf_dir": str(hf), "gguf": str(gguf_path),
            "gguf_type": gguf_type}


def distill_to_store(store, teacher: str, student: str, data: str, *,
                     config: DistillConfig | None = None, name: str | None = None,
                     output: str | Path | None = None, register: bool = True,
                     resume: bool = False, gguf_type: str = "f16", n_threads: int = 0,
                     on_step: StepFn | None = None,
                     on_status: Callable[[str], None] | None = None,
                     pull_missing: bool = True) -> dict:
    """Distill the stored (or path) ``teacher`` into ``student`` (:func:`distill`), keeping
    checkpoints and the final model in ``output`` (default ``./distill-<name>``), and
    register the result as ``name`` (default ``<student>-distilled``, GGUF) and
    ``name-hf`` with the student as parent (:func:`train_io.derive_pair`; an existing
    model of that name is replaced) unless ``register`` is false. Returns the report."""
    from slmkit.compress.train_io import derive_pair
    from slmkit.models.store import validate_name

    cfg = config or DistillConfig()
    cfg.check()
    if n_threads or cfg.threads:
        import torch

        torch.set_num_threads(n_threads or cfg.threads)
    t_ref = store.resolve(teacher, pull_missing=pull_missing)
    s_ref = store.resolve(student, pull_missing=pull_missing)
    base = re.sub(r"[^a-z0-9._:+-]+", "-", s_ref.name.lower()).strip("-") or "student"
    name = name or f"{base}-distilled"
    if register:
        validate_name(name)
    out = Path(output or f"distill-{name}").expanduser()
    report = distill(t_ref.path, s_ref.path, data, str(out), config=cfg, resume=resume,
                     gguf_type=gguf_type, on_step=on_step, on_status=on_status,
                     n_threads=n_threads,
                     extra={"teacher_name": t_ref.name, "student_name": s_ref.name})
    report.update({"teacher": t_ref.name, "student": s_ref.name, "output": str(out),
                   "registered": register})
    if not register:
        return report
    method = f"{report['method_tag']} teacher={t_ref.name} data=sha256:" \
             f"{report['data_sha256'][:16]}"
    params = {"teacher": t_ref.name, "data": data, "data_sha256": report["data_sha256"],
              "config": asdict(cfg), "gguf_type": gguf_type}
    with derive_pair(store, name, parent=s_ref.name, method=method, params=params,
                     overwrite=True) as pair:  # copies: --output stays whole
        shutil.copy2(report["gguf"], pair.dir / Path(report["gguf"]).name)
        shutil.copytree(report["hf_dir"], pair.dir / "hf")
    return {**report, "name": name, "hf_name": f"{name}-hf", "stored_gguf": pair.gguf.path}


def _data_path(spec: str) -> Path:
    from slmkit.evaluate import datasets

    return datasets.resolve(spec, kind="text").path


def _sequence_examples(teacher: str, data: str, st, cfg: DistillConfig, out: Path, say,
                       n_threads: int) -> Examples:
    """Teacher answers (cached in ``out/teacher-answers.jsonl`` so a resume reuses them)."""
    cache = out / "teacher-answers.jsonl"
    if cache.is_file():
        pairs = [tuple(json.loads(line)) for line in cache.read_text().splitlines() if line]
    else:
        prompts = prompts_from(data, limit=cfg.max_prompts)
        gguf = _as_gguf(teacher, out)
        say(f"teacher answering {len(prompts)} prompts (llama.cpp) …")
        pairs = teacher_answers(str(gguf), prompts, max_new_tokens=cfg.max_new_tokens,
                                n_threads=n_threads)
        cache.write_text("".join(json.dumps(list(p), ensure_ascii=False) + "\n" for p in pairs))
    if len(pairs) < 2:
        raise CompressError("the teacher produced fewer than 2 answers",
                            hint="give more prompts in --data")
    return chat_examples(st.tokenizer, pairs, cfg.seq_len)


def _as_gguf(path: str, out: Path) -> Path:
    p = Path(path)
    if not p.is_dir():
        return p
    from slmkit.convert import hf_to_gguf

    target = out / "teacher-f16.gguf"
    if not target.is_file():
        hf_to_gguf(p, target, out_type="f16", overwrite=True)
    return target
