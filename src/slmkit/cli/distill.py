"""`slm distill --teacher T --student S --data FILE`: logit or sequence-level distillation."""

from __future__ import annotations

from slmkit.cli.args import NO_PULL_HELP, Opt, config_from, config_options, json_option, options


def configure(p) -> None:
    from slmkit.compress.distill import DistillConfig

    options(p, teacher=Opt(None, "teacher: stored name, .gguf or HF dir", required=True),
            student=Opt(None, "student: stored name, .gguf or HF dir", required=True),
            data=Opt(None, "text (logits) or prompts, one per line / `prompt` field (sequence); "
                           "or a named dataset", "FILE", required=True))
    config_options(p, DistillConfig)
    options(p.add_argument_group("output"),
            output=Opt(None, "checkpoints and final model (default ./distill-<name>)", "DIR",
                       short="-o"),
            resume=Opt(False, "continue from the newest checkpoint"),
            type=Opt("f16", "GGUF type of the result", choices=("f32", "f16", "q8_0")),
            name=Opt(None, "store name (default <student>-distilled)"),
            no_register=Opt(False, "do not add it to the store"),
            no_pull=Opt(False, NO_PULL_HELP))
    json_option(p)


def run(args) -> int:
    from slmkit.cli.output import TrainingBar, emit, quiet
    from slmkit.compress import summaries
    from slmkit.compress.distill import DistillConfig, distill_to_store
    from slmkit.models.store import Store

    cfg = config_from(args, DistillConfig)
    with TrainingBar("distill", total=cfg.max_steps, enabled=not quiet(args)) as bar:
        report = distill_to_store(Store(), args.teacher, args.student, args.data, config=cfg,
                                  name=args.name, output=args.output,
                                  register=not args.no_register, resume=args.resume,
                                  gguf_type=args.type, on_step=bar, on_status=bar.status,
                                  pull_missing=not args.no_pull)
    return emit(args, report, summaries.distilled(report))
