"""Options declared by library configs (core.options.opt → cli.args.config_options /
config_from) and the declared verbs (cli/declared.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from slmkit.cli.args import Formatter, config_from, config_options, shows
from slmkit.cli.declared import REQUESTS
from slmkit.core.options import opt


@dataclass(frozen=True)
class Inner:
    rank: int = opt(8, "adapter rank", group="inner")


@dataclass
class Outer:
    path: str = opt(None, "where", metavar="DIR", positional=True)
    steps: int = opt(3, group="training")
    warmup_steps: int = opt(0, metavar="STEPS", group="training", flag="warmup")
    mode: str = opt("a", "which", choices=("a", "b"))
    fast: bool = opt(False, "go fast")
    inner: Inner = field(default_factory=Inner, metadata={"nested": Inner})
    hidden: float = 1.0  # not an option


def parser(prefix: str = "") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(formatter_class=Formatter)
    config_options(p, Outer, prefix)
    return p


def test_round_trip_with_renamed_nested_and_positional_fields():
    args = parser().parse_args(["out", "--steps", "5", "--warmup", "2", "--mode", "b",
                                "--fast", "--rank", "4"])
    cfg = config_from(args, Outer)
    assert cfg == Outer("out", 5, 2, "b", True, Inner(4), 1.0)
    assert not hasattr(args, "hidden")
    assert config_from(args, Outer, steps=9).steps == 9  # given wins


def test_defaults_types_groups_and_help():
    p = parser("x_")
    cfg = config_from(p.parse_args(["here"]), Outer, "x_")
    assert cfg == Outer("here")
    with pytest.raises(SystemExit):
        p.parse_args(["here", "--x-steps", "many"])  # int from the default's type
    with pytest.raises(SystemExit):
        p.parse_args(["here", "--x-mode", "c"])
    text = p.format_help()
    assert "training:" in text and "inner:" in text
    assert "--x-warmup STEPS" in text and "--x-rank N" in text and "adapter rank" in text
    assert "(default: 3)" in text  # an option without help shows its default


def test_library_configs_check_what_belongs_to_them():
    from slmkit.adapt.lora import LoraSettings
    from slmkit.compress.quantize_options import QuantizeOptions
    from slmkit.compress.reference import ReferenceConfig
    from slmkit.evaluate.suite import EvalPlan

    assert LoraSettings(targets="q, v,,").targets == ("q", "v")
    assert LoraSettings(targets="").targets is None
    assert EvalPlan().ppl == "wikipedia" and EvalPlan(choice=["mmlu"]).ppl is None
    assert EvalPlan(shots="0,5").shots == (0, 5) and EvalPlan(choice=["m"]).choice == ("m",)
    with pytest.raises(ValueError, match="--group-size applies to --engine torch"):
        QuantizeOptions(type="Q4_K_M", group_size=64).validate()
    with pytest.raises(ValueError, match="--calibrate apply to GGUF quantization only"):
        QuantizeOptions(type="int8", engine="torch", calibrate="wikipedia").validate()
    with pytest.raises(ValueError, match="--type is required"):
        QuantizeOptions().validate()
    assert "dither+" in ReferenceConfig(dither=1.0).method()
    assert "dither0.5+" in ReferenceConfig(dither=0.5).method()
    assert "dither" not in ReferenceConfig().method()


@pytest.mark.parametrize("verb", sorted(REQUESTS))
def test_every_declared_verb_parses_and_documents_its_options(verb):
    from slmkit.cli import declared, main
    from slmkit.core.options import cli_fields

    p = main._build_parser(verb)
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    actions = {a.dest: a for a in sub.choices[verb]._actions}
    for f in cli_fields(declared.request(verb)):
        dest = f.metadata["cli"].get("dest") or f.metadata["cli"].get("flag", f.name)
        assert dest in actions, f"{verb}: {f.name} is not an option"
        given = f.metadata["cli"]["help"]
        assert actions[dest].help == (given or ("(default: %(default)s)" if shows(f.default)
                                                else None))
    assert "json" in actions


def test_a_declared_verb_end_to_end(tmp_path, capsys):
    import json

    from slmkit.cli.main import main

    key = tmp_path / "k" / "signing.key"
    assert main(["keys", "generate", str(key)]) == 0
    assert "generated" in capsys.readouterr().out
    assert main(["keys", "show", str(key), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["public"] == str(key) + ".pub" and len(shown["key_id"]) == 16
    assert main(["keys", "generate", str(key)]) == 1  # never overwrites a key silently
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and "Traceback" not in err
    assert main(["keys", "show", str(tmp_path / "missing.key")]) == 1
    assert "missing.key" in capsys.readouterr().err
    assert main(["bundle", "verify"]) == 2  # a usage error, said in command-line terms
    assert "slm bundle verify FILE --key PUB" in capsys.readouterr().err
