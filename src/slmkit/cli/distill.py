"""`slm distill --teacher T --student S --data FILE`: logit distillation (same tokenizer) or
sequence-level distillation (teacher-generated answers, any tokenizers), on CPU.

Checkpoints go to ``--output`` every ``--save-every`` steps and ``--resume`` continues from
the newest one. The result (``--output``/final) is registered in the store as ``--name``
(GGUF) and ``--name``-hf, with the student as parent; ``--no-register`` leaves it there.
"""

from __future__ import annotations

import argparse

from slmkit.cli.args import NO_PULL_HELP, Opt, json_option, options


def configure(p: argparse.ArgumentParser) -> None:
    options(p, teacher=Opt(None, "teacher: stored name, .gguf or HF dir", required=True),
            student=Opt(None, "student: stored name, .gguf or HF dir", required=True),
            data=Opt(None, "text (logits) or prompts, one per line / `prompt` field (sequence); "
                           "or a named dataset", "FILE", required=True),
            method=Opt("logits", "logits: match the teacher's distributions (same tokenizer); "
                                 "sequence: train on the teacher's answers (any tokenizers)",
                       choices=("logits", "sequence")))
    options(p.add_argument_group("loss"),
            loss=Opt("fkl", "forward KL, reverse KL or Jensen-Shannon",
                     choices=("fkl", "rkl", "jsd")),
            temperature=Opt(1.0, metavar="T"),
            alpha=Opt(0.0, "weight of the cross-entropy term, 1 - alpha for KD"))
    options(p.add_argument_group("training"), lr=1e-4,
            schedule=("cosine", "linear", "constant"), warmup=Opt(0, metavar="STEPS"),
            weight_decay=0.0, batch_size=2, grad_accum=1,
            seq_len=Opt(256, "max sequence length"), max_steps=100,
            save_every=Opt(50, "checkpoint every N steps (0: only at the end)"), seed=0,
            eval_rows=Opt(4, "rows at the end of the data held apart for before/after metrics"),
            threads=0, bf16=Opt(False, "autocast to bfloat16 (faster on CPUs with "
                                       "AVX512-BF16/AMX; weights and optimizer stay float32)"))
    options(p.add_argument_group("sequence-level"), max_new_tokens=128,
            max_prompts=Opt(None, type=int))
    options(p.add_argument_group("output"),
            output=Opt(None, "checkpoints and final model (default ./distill-<name>)", "DIR",
                       short="-o"),
            resume=Opt(False, "continue from the newest checkpoint"),
            type=Opt("f16", "GGUF type of the result", choices=("f32", "f16", "q8_0")),
            name=Opt(None, "store name (default <student>-distilled)"),
            no_register=Opt(False, "do not add it to the store"),
            no_pull=Opt(False, NO_PULL_HELP))
    json_option(p)


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
    from slmkit.cli.output import TrainingBar, emit, quiet
    from slmkit.compress import summaries
    from slmkit.compress.distill import distill_to_store
    from slmkit.models.store import Store

    cfg = _config(args)
    with TrainingBar("distill", total=cfg.max_steps, enabled=not quiet(args)) as bar:
        report = distill_to_store(Store(), args.teacher, args.student, args.data, config=cfg,
                                  name=args.name, output=args.output,
                                  register=not args.no_register, resume=args.resume,
                                  gguf_type=args.type, n_threads=args.threads, on_step=bar,
                                  on_status=bar.status, pull_missing=not args.no_pull)
    return emit(args, report, summaries.distilled(report))
