"""`slm bundle MODEL --version X --sign KEY -o out.slmb`: a signed model bundle;
`slm bundle verify FILE --key PUB`: check it without installing;
`slm bundle export-greengrass FILE -o DIR`: an AWS IoT Greengrass v2 component recipe."""

from __future__ import annotations

import argparse

ACTIONS = ("verify", "export-greengrass")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="MODEL|verify|export-greengrass",
                   help="a stored model name or model path to bundle, or an action")
    p.add_argument("file", nargs="?", metavar="FILE", help="the bundle (verify, export)")
    p.add_argument("--version", dest="bundle_version", metavar="X.Y.Z", help="bundle version")
    p.add_argument("--name", help="bundle name (default: the model's name)")
    p.add_argument("--sign", metavar="KEY", help="private key that signs the bundle")
    p.add_argument("--key", metavar="PUB", help="verify: the trusted public key")
    p.add_argument("-o", "--output", metavar="PATH", help="bundle file, or recipe directory")
    p.add_argument("--adapter", action="append", default=[], metavar="NAME=DIR",
                   help="include a LoRA adapter (repeatable)")
    p.add_argument("--config", metavar="serve.toml", help="`slm serve` options ([serve] table)")
    p.add_argument("--golden", metavar="golden.jsonl", help="acceptance prompts")
    p.add_argument("--min-pass-rate", type=float, default=1.0,
                   help="share of golden prompts that must pass (default 1.0)")
    p.add_argument("--min-tok-s", type=float, default=0.0,
                   help="minimum tokens/s on the device (default 0: no check)")
    p.add_argument("--max-kld", type=float, metavar="X",
                   help="fidelity: highest KL-divergence on the device against this model")
    p.add_argument("--max-dppl", type=float, metavar="PCT",
                   help="fidelity: largest perplexity change on the device, in percent")
    p.add_argument("--ctx", type=int, help="context for the memory need (default: config, 4096)")
    p.add_argument("--config-only", action="store_true",
                   help="leave the model out: devices reuse the one they run")
    p.add_argument("--repo-url", help="export-greengrass: the artifact's URI prefix "
                                      "(e.g. s3://bucket/slmkit)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


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
