"""`slm distill --teacher T --student S --data FILE`: logit distillation (same tokenizer) or
sequence-level distillation (teacher-generated answers, any tokenizers), on CPU.

Checkpoints go to ``--output`` every ``--save-every`` steps and ``--resume`` continues from
the newest one. The result (``--output``/final) is registered in the store as ``--name``
(GGUF) and ``--name``-hf, with the student as parent; ``--no-register`` leaves it there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from slmkit.cli.output import TrainingBar, add_json_flag


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--teacher", required=True, help="teacher: stored name, .gguf or HF dir")
    p.add_argument("--student", required=True, help="student: stored name, .gguf or HF dir")
    p.add_argument("--data", required=True, metavar="FILE",
                   help="text (logits) or prompts, one per line / `prompt` field (sequence); "
                        "or a named dataset")
    p.add_argument("--method", choices=("logits", "sequence"), default="logits",
                   help="logits: match the teacher's distributions (same tokenizer); "
                        "sequence: train on the teacher's answers (any tokenizers)")
    k = p.add_argument_group("loss")
    k.add_argument("--loss", choices=("fkl", "rkl", "jsd"), default="fkl",
                   help="forward KL, reverse KL or Jensen-Shannon (default fkl)")
    k.add_argument("--temperature", type=float, default=1.0, metavar="T")
    k.add_argument("--alpha", type=float, default=0.0,
                   help="weight of the cross-entropy term, 1 - alpha for KD (default 0)")
    t = p.add_argument_group("training")
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--schedule", choices=("cosine", "linear", "constant"), default="cosine")
    t.add_argument("--warmup", type=int, default=0, metavar="STEPS")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--batch-size", type=int, default=2)
    t.add_argument("--grad-accum", type=int, default=1, metavar="N")
    t.add_argument("--seq-len", type=int, default=256, metavar="N", help="max sequence length")
    t.add_argument("--max-steps", type=int, default=100, metavar="N")
    t.add_argument("--save-every", type=int, default=50, metavar="N",
                   help="checkpoint every N steps (0: only at the end)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--eval-rows", type=int, default=4, metavar="N",
                   help="rows at the end of the data held apart for before/after metrics")
    t.add_argument("--threads", type=int, default=0, metavar="N")
    t.add_argument("--bf16", action="store_true",
                   help="autocast to bfloat16 (faster on CPUs with AVX512-BF16/AMX; the "
                        "weights and optimizer stay float32)")
    q = p.add_argument_group("sequence-level")
    q.add_argument("--max-new-tokens", type=int, default=128, metavar="N")
    q.add_argument("--max-prompts", type=int, default=None, metavar="N")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", metavar="DIR",
                   help="checkpoints and final model (default ./distill-<name>)")
    o.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    o.add_argument("--type", default="f16", choices=("f32", "f16", "q8_0"),
                   help="GGUF type of the result (default f16)")
    o.add_argument("--name", help="store name (default <student>-distilled)")
    o.add_argument("--no-register", action="store_true", help="do not add it to the store")
    o.add_argument("--no-pull", action="store_true")
    add_json_flag(p)


def _config(args):
    from slmkit.compress.distill import DistillConfig

    return DistillConfig(method=args.method, loss=args.loss, temperature=args.temperature,
                         alpha=args.alpha, lr=args.lr, schedule=args.schedule,
                         warmup_steps=args.warmup, weight_decay=args.weight_decay,
                         batch_size=args.batch_size, grad_accum=args.grad_accum,
                         seq_len=args.seq_len, max_steps=args.max_steps,
                         save_every=args.save_every, seed=args.seed, eval_rows=args.eval_rows,
                         max_new_tokens=args.max_new_tokens, max_prompts=args.max_prompts,
                         bf16=args.bf16)


def run(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.compress.distill import distill_to_store
    from slmkit.models.store import Store

    cfg = _config(args)
    quiet = args.json or not sys.stderr.isatty()
    with TrainingBar("distill", total=cfg.max_steps, enabled=not quiet) as bar:
        report = distill_to_store(Store(), args.teacher, args.student, args.data, config=cfg,
                                  name=args.name, output=args.output,
                                  register=not args.no_register, resume=args.resume,
                                  gguf_type=args.type, n_threads=args.threads, on_step=bar,
                                  on_status=bar.status, pull_missing=not args.no_pull)
    if args.json:
        return print_json(report)
    b, a = report["before"], report["after"]
    kl = f"KL(teacher‖student) {b['kl']:.4f} → {a['kl']:.4f}; " if "kl" in b else ""
    print(f"{report['student']} ← {report['teacher']} ({report['method_tag']}, "
          f"{report['steps']} steps, {report['tokens_per_second']:.0f} tok/s): held-apart "
          f"{kl}PPL {b['ppl']:.2f} → {a['ppl']:.2f}")
    stored = f"; stored as {report['name']} (+ {report['hf_name']})" if "name" in report else ""
    print(f"saved to {Path(report['output']) / 'final'}{stored}")
    return 0
