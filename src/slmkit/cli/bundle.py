"""`slm bundle MODEL --version X --sign KEY -o out.slmb`: a signed model bundle;
`slm bundle verify FILE --key PUB`: check it without installing;
`slm bundle export-greengrass FILE -o DIR`: an AWS IoT Greengrass v2 component recipe."""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, options

ACTIONS = ("verify", "export-greengrass")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="MODEL|verify|export-greengrass",
                   help="a stored model name or model path to bundle, or an action")
    p.add_argument("file", nargs="?", metavar="FILE", help="the bundle (verify, export)")
    options(p, version=Opt(None, "bundle version", "X.Y.Z", dest="bundle_version"),
            name=Opt(None, "bundle name (default: the model's name)"),
            sign=Opt(None, "private key that signs the bundle", "KEY"),
            key=Opt(None, "verify: the trusted public key", "PUB"),
            output=Opt(None, "bundle file, or recipe directory", "PATH", short="-o"),
            adapter=Opt(None, "include a LoRA adapter (repeatable)", "NAME=DIR",
                        action="append"),
            config=Opt(None, "`slm serve` options ([serve] table)", "serve.toml"),
            golden=Opt(None, "acceptance prompts", "golden.jsonl"),
            min_pass_rate=Opt(1.0, "share of golden prompts that must pass (default 1.0)"),
            min_tok_s=Opt(0.0, "minimum tokens/s on the device (default 0: no check)"),
            max_kld=Opt(None, "fidelity: highest KL-divergence on the device against this "
                              "model", "X", float),
            max_dppl=Opt(None, "fidelity: largest perplexity change on the device, in "
                               "percent", "PCT", float),
            ctx=Opt(None, "context for the memory need (default: config, 4096)", type=int),
            config_only=Opt(False, "leave the model out: devices reuse the one they run"),
            repo_url=Opt(None, "export-greengrass: the artifact's URI prefix (e.g. "
                               "s3://bucket/slmkit)"),
            json=Opt(False, "machine-readable output"))


def run(args: argparse.Namespace) -> int:
    if args.target == "verify":
        return _verify(args)
    if args.target == "export-greengrass":
        return _greengrass(args)
    return _build(args)


def _need(args, *names: str) -> None:
    missing = [n for n in names if not getattr(args, n.lstrip("-").replace("-", "_"), None)]
    if missing:
        raise ValueError(f"slm bundle {args.target}: give {', '.join(missing)}")


def _build(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.edge.bundle import BundleSpec, build

    if args.file:
        raise ValueError(f"unexpected {args.file!r}: slm bundle takes one MODEL")
    if not (args.bundle_version and args.sign and args.output):
        raise ValueError("slm bundle MODEL needs --version, --sign and -o")
    adapters = dict(_pair(a) for a in args.adapter)
    spec = BundleSpec(model=args.target, version=args.bundle_version, name=args.name,
                      adapters=adapters, config=args.config, golden=args.golden,
                      acceptance={"min_pass_rate": args.min_pass_rate,
                                  "min_tok_s": args.min_tok_s,
                                  **({"max_kld": args.max_kld} if args.max_kld is not None
                                     else {}),
                                  **({"max_dppl_pct": args.max_dppl}
                                     if args.max_dppl is not None else {})},
                      config_only=args.config_only, n_ctx=args.ctx)
    manifest = build(spec, args.sign, args.output)
    if args.json:
        return print_json(manifest)
    hw = manifest["hardware"]
    print(f"bundled {manifest['name']} {manifest['version']} → {args.output}\n"
          f"  {len(manifest['files'])} files, needs {hw['ram_bytes'] / 2**20:,.0f} MiB RAM "
          f"at ctx {hw['n_ctx']}")
    return 0


def _pair(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise ValueError(f"--adapter {text!r}: use NAME=DIR")
    return name, path


def _verify(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.edge import bundle, keys

    if not (args.file and args.key):
        raise ValueError("slm bundle verify FILE --key PUB")
    manifest = bundle.verify(args.file, keys.load_public(args.key))
    if args.json:
        return print_json(manifest)
    print(f"ok: {manifest['name']} {manifest['version']}, signature and "
          f"{len(manifest['files'])} file digests check out")
    return 0


def _greengrass(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.edge import greengrass, keys

    if not (args.file and args.output and args.key):
        raise ValueError("slm bundle export-greengrass FILE --key PUB -o DIR")
    path = greengrass.export(args.file, keys.load_public(args.key), args.output,
                             artifact_uri=args.repo_url)
    if args.json:
        return print_json({"recipe": str(path)})
    print(f"wrote {path}\n  upload: see docs/edge.md (AWS CLI `greengrassv2 create-component-"
          "version`)")
    return 0
