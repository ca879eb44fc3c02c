"""`slm` entry point: finds the verb, imports only that verb's module, runs it.

Each verb module defines ``configure(parser)`` (adds its arguments) and ``run(args) -> int``.
Verb modules import heavy libraries inside ``run`` so that ``slm --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# verb -> (module, one-line help). Explicit and lazy: nothing here is imported up front.
VERBS: dict[str, tuple[str, str]] = {
    "run": ("slmkit.cli.run", "generate an answer to one prompt (streams)"),
    "chat": ("slmkit.cli.chat", "interactive chat with a model"),
    "pull": ("slmkit.cli.declared", "fetch a model into the local store"),
    "list": ("slmkit.cli.declared", "list models in the local store"),
    "show": ("slmkit.cli.declared", "show a model's details (architecture, quantization, …)"),
    "rm": ("slmkit.cli.declared", "remove a model from the local store"),
    "verify": ("slmkit.cli.declared", "re-hash a stored model against its manifest"),
    "catalog": ("slmkit.cli.declared", "known small models, memory estimates, what fits here"),
    "serve": ("slmkit.cli.serve", "OpenAI- and Ollama-compatible HTTP server"),
    "eval": ("slmkit.cli.eval", "perplexity, KL-divergence and multiple-choice accuracy"),
    "bench": ("slmkit.cli.bench", "load time, prompt/decode speed, TTFT and memory"),
    "recommend": ("slmkit.cli.declared", "measure the stored models here, pick one for a task"),
    "convert": ("slmkit.cli.convert", "convert GGUF ⇄ Hugging Face safetensors"),
    "guard": ("slmkit.cli.guard", "find, mask and unmask personal data and secrets in text"),
    "route": ("slmkit.cli.route", "local-first routing to a big LLM: train, report, eval"),
    "quantize": ("slmkit.cli.quantize", "quantize a model to a GGUF type (optionally calibrated)"),
    "optimize": ("slmkit.cli.declared", "find the smallest model that keeps its quality budget"),
    "prune": ("slmkit.cli.prune", "unstructured or structured pruning, calibrated on your data"),
    "distill": ("slmkit.cli.distill", "distill a teacher into a student (logits or sequences)"),
    "finetune": ("slmkit.cli.finetune", "LoRA / QLoRA / full fine-tuning on CPU"),
    "merge": ("slmkit.cli.merge", "merge an adapter into its base, or export it as GGUF"),
    "rag": ("slmkit.cli.rag", "ingest documents, query and ask with citations, evaluate"),
    "code": ("slmkit.cli.code", "code: complete (FIM), review, doc, ask a repository, eval"),
    "logs": ("slmkit.cli.logs", "log templates, anomaly detection and explanations"),
    "summarize": ("slmkit.cli.summarize", "summarize documents and mail threads, offline"),
    "review": ("slmkit.cli.review", "review contracts: checklist fields with evidence, risks"),
    "config": ("slmkit.cli.declared", "effective settings and where each came from"),
    "keys": ("slmkit.cli.declared", "make and show Ed25519 keys for signing bundles"),
    "bundle": ("slmkit.cli.declared", "signed model bundle: build, verify, export to Greengrass"),
    "publish": ("slmkit.cli.declared", "publish a bundle to an update repository channel"),
    "agent": ("slmkit.cli.agent", "device agent: update, probation, commit or roll back"),
    "fleet": ("slmkit.cli.fleet", "collect device heartbeats; the fleet's status table"),
    "export": ("slmkit.cli.declared", "export a model for SageMaker: model.tar.gz, entry point, "
                                    "deploy script"),
}


def _build_parser(verb: str | None) -> argparse.ArgumentParser:
    from slmkit import __version__
    from slmkit.cli.args import Formatter

    parser = argparse.ArgumentParser(
        prog="slm",
        description="slmkit: run, serve, measure and adapt Small Language Models locally.",
    )
    parser.add_argument("--version", action="version", version=f"slmkit {__version__}")
    parser.set_defaults(_module=None, _settings_args=())
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for name, (module_name, help_text) in VERBS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=Formatter)
        if name == verb:
            module = importlib.import_module(module_name)
            if getattr(module, "MULTI_VERB", False):  # one module, several verbs (declared)
                module.configure(p, name)
            else:
                module.configure(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verb = next((a for a in argv if not a.startswith("-")), None)
    parser = _build_parser(verb if verb in VERBS else None)
    args = parser.parse_args(argv)
    if args._module is None:
        parser.print_help()
        return 0 if not argv or args.verb is None else 2
    from slmkit.cli.output import run_guarded

    return run_guarded(_run_verb, args)


def _run_verb(args) -> int:
    """Fill the options the command line left unset from the settings (environment >
    config.toml > defaults; a verb lists them in ``_settings_args``), then run the verb."""
    from slmkit.util.quiet import quiet_known_noise

    quiet_known_noise()  # third-party warnings every torch verb printed (narrow filters)
    names = args._settings_args
    if names:
        from slmkit.settings import apply_cli

        apply_cli(args, names)
    return args._module.run(args)


if __name__ == "__main__":
    sys.exit(main())
