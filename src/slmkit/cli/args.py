"""Declarative verb arguments: shared option groups, ``options(p, name=spec)`` (spec: a
default, a tuple of choices or an :class:`Opt`) and options declared by library configs."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

MODEL_HELP = ("model name, pull spec, .gguf file, HF or ONNX directory; MODEL@ENGINE picks "
              "the engine (default: the catalog's default model)")
SOURCE_HELP = "stored model name, .gguf file or Hugging Face directory"
ENGINES = ("auto", "llamacpp", "torch", "onnx")
ENGINE_HELP = ("auto: llamacpp for GGUF files, onnx for ONNX Runtime GenAI directories, "
               "torch for other directories")
NO_PULL_HELP = "fail instead of pulling a catalog model that is not stored"


class Formatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help when X says something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or not shows(action.default) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def shows(default: Any) -> bool:
    """Whether help should show this default (not for None, False, "" or [])."""
    return not (default is None or default is False or default in ("", [], argparse.SUPPRESS))


@dataclass(frozen=True)
class Opt:
    """One option: ``default``, ``help``, and what argparse needs beyond them."""

    default: Any = None
    help: str | None = None
    metavar: str | None = None
    type: Any = None
    choices: tuple | None = None
    required: bool = False
    short: str | None = None  # e.g. "-o"
    action: str | None = None  # e.g. "append"
    dest: str | None = None
    nargs: str | None = None
    positional: bool = False


def options(p, **specs: Any) -> None:
    """Add ``--name`` for each keyword; see the module docstring for the spec forms."""
    for name, spec in specs.items():
        add(p, name, spec)


def config_options(p, cls: Any, prefix: str = "") -> dict[str, Any]:
    """An option per :func:`slmkit.core.options.opt` field of dataclass ``cls``, in its
    ``group`` (made on first use), named ``--PREFIX-NAME``; returns the groups by title."""
    from slmkit.core.options import cli_fields, flag_name

    groups = {g.title: g for g in p._action_groups}  # argparse has no public lookup
    for f in cli_fields(cls):
        if "nested" in f.metadata:
            groups.update(config_options(p, f.metadata["nested"], prefix))
            continue
        spec = {k: v for k, v in f.metadata["cli"].items() if k not in ("group", "flag")}
        title = f.metadata["cli"].get("group")
        if title and title not in groups:
            groups[title] = p.add_argument_group(title)
        add(groups[title] if title else p, flag_name(f, prefix), Opt(f.default, **spec))
    return groups


def config_from(args: argparse.Namespace, cls: Any, prefix: str = "", **given: Any) -> Any:
    """``cls`` made from the options :func:`config_options` added; ``given`` wins."""
    from slmkit.core.options import cli_fields, flag_name

    values = {f.name: config_from(args, f.metadata["nested"], prefix) if "nested" in f.metadata
              else getattr(args, f.metadata["cli"].get("dest") or flag_name(f, prefix))
              for f in cli_fields(cls)}
    return cls(**{**values, **given})


def add(p, name: str, spec: Any) -> argparse.Action:
    """Add one option ``--name`` (``name`` with dashes) described by ``spec``."""
    o = spec if isinstance(spec, Opt) else (
        Opt(spec[0], choices=spec) if isinstance(spec, tuple) else Opt(spec))
    flags = ([o.short] if o.short else []) + ["--" + name.replace("_", "-")]
    if o.short == "-" + name or o.positional:  # a one-letter option such as -k; a positional
        flags = [name] if o.positional else flags[:1]
    kw: dict[str, Any] = {"default": o.default, "help": o.help or (
        "(default: %(default)s)" if shows(o.default) else None)}
    given = {"metavar": o.metavar, "choices": o.choices, "dest": o.dest, "nargs": o.nargs}
    kw.update({key: value for key, value in given.items() if value is not None})
    if o.required and not o.positional:
        kw["required"] = True
    if o.action:
        kw["action"] = o.action
        if o.action in ("append", "extend") and o.default is None:
            kw["default"] = []
    elif o.default is False and o.type is None:
        kw["action"] = "store_true"
    else:
        kind = o.type or (type(o.default) if o.default is not None and not o.choices else None)
        if kind not in (None, str):
            kw["type"] = kind
        if kind is int and o.metavar is None and not o.choices:
            kw["metavar"] = "N"
    return p.add_argument(*flags, **kw)


def actions(p, dest: str = "action"):
    """Sub-actions of a verb; ``.add_parser`` parsers use :class:`Formatter` too."""
    return p.add_subparsers(dest=dest, metavar=dest.upper(), required=True,
                            parser_class=_Parser)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *a: Any, **kw: Any) -> None:
        kw.setdefault("formatter_class", Formatter)
        super().__init__(*a, **kw)


# ---- shared groups ----------------------------------------------------------------------------

def model(p, help: str = MODEL_HELP, *, required: bool = False, name: str = "model") -> None:
    """The MODEL positional (optional unless ``required``)."""
    if required:
        p.add_argument(name, help=help)
    else:
        p.add_argument(name, nargs="?", default=None, help=help)


def source(p) -> None:
    """The required MODEL positional of a verb that derives a model from it."""
    model(p, SOURCE_HELP, required=True)


def engine(p, choices: tuple = ENGINES, help: str = ENGINE_HELP) -> None:
    options(p, engine=Opt(choices[0], help, choices=choices))


def loading(p, *, ctx: int | None = 4096, threads: int | None = 0, title: str | None = "model",
            verbose: str | None = "") -> None:
    """--ctx, --threads, --no-pull (and --verbose unless ``verbose`` is None)."""
    g = p.add_argument_group(title) if title else p
    if ctx is not None:
        options(g, ctx=Opt(ctx, "context window in tokens"))
    if threads is not None:
        options(g, threads=Opt(threads, "CPU threads, 0 for the free physical cores"))
    options(g, no_pull=Opt(False, NO_PULL_HELP))
    if verbose is not None:
        options(g, verbose=Opt(False, verbose or None))


def settings_loading(p) -> None:
    """--ctx and --threads from the settings (env > config.toml > default), for run/chat."""
    g = p.add_argument_group("model")
    p.set_defaults(_settings_args=("ctx", "threads"))  # filled before the verb runs
    options(g, ctx=Opt(None, "context window in tokens, capped at the model's trained length "
                             "(default: setting model.ctx, 4096)", type=int),
            threads=Opt(None, "CPU threads (default: setting model.threads; 0 = the physical "
                              "cores other processes leave free, re-chosen while decoding; a "
                              "warning says when decoding collapses; see docs/threads.md)",
                        type=int),
            no_pull=Opt(False, NO_PULL_HELP),
            verbose=Opt(False, "print load time, prompt and decode speed (and llama.cpp's "
                               "log)"))


def derived(p, *, output: str = "PATH", what: str = "the result", name_default: str = "",
            force: str = "replace an existing result", no_pull: bool = False) -> None:
    """(--no-pull,) -o/--output, --name and --force of a verb that makes a model."""
    if no_pull:
        options(p, no_pull=Opt(False, NO_PULL_HELP))
    options(p, output=Opt(None, "write here instead of registering the result in the store",
                          metavar=output, short="-o"),
            name=Opt(None, f"store name of {what}" + (f" (default {name_default})"
                                                      if name_default else "")),
            force=Opt(False, force))


def upstream(p) -> None:
    """--upstream URL, --upstream-model … : the big model a local one hands work to."""
    options(p, upstream=Opt(None, "the big model: an OpenAI-compatible base URL, "
                                  "bedrock:MODEL_ID or sagemaker:ENDPOINT (AWS credentials: "
                                  "the standard AWS chain)", "URL"),
            upstream_model=Opt(None, "the upstream's model name (not for bedrock:/sagemaker:)",
                               "NAME"),
            region=Opt(None, "AWS region of a bedrock:/sagemaker: upstream (default: "
                             "aws.region, then the AWS chain)"),
            upstream_key_env=Opt("SLM_UPSTREAM_KEY", "environment variable with the "
                                                     "upstream's API key", "VAR"),
            upstream_key_file=Opt(None, "file with the upstream's API key", "FILE"),
            upstream_ctx=Opt(0, "the upstream's context window, checked before sending "
                                "(0 = unknown)"),
            upstream_timeout=Opt(60.0, metavar="SECONDS"))


def json_option(p, *, no_pull: bool = False) -> None:
    """--json (after --no-pull when ``no_pull``)."""
    if no_pull:
        options(p, no_pull=Opt(False, NO_PULL_HELP))
    options(p, json=Opt(False, "machine-readable JSON output"))


def sampling(p) -> None:
    """--max-tokens, --temperature … --system: a request's sampling (None = model default)."""
    g = p.add_argument_group("sampling")
    options(g, max_tokens=512,
            temperature=Opt(None, "0 = greedy (default: the model's catalog default, else "
                                  "0.8)", "T", float),
            top_p=Opt(None, "default 0.95", "P", float),
            top_k=Opt(None, "default 40", "K", int),
            min_p=Opt(None, "default 0.05", "P", float),
            repeat_penalty=Opt(None, "default 1.0 (off)", "X", float),
            seed=Opt(None, type=int),
            stop=Opt(None, "stop when this text appears (repeatable)", "TEXT", action="append"),
            system=Opt(None, "system prompt (default: the model's catalog default)", "TEXT"))
