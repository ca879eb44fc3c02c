"""`slm convert MODEL --to hf|gguf|onnx`: GGUF ⇄ Hugging Face safetensors (and GGUF
requantizing), and GGUF or Hugging Face → ONNX Runtime GenAI (int4 MatMulNBits or fp32).

Without ``-o`` the result is registered in the store (with its parent and method) under
``--name`` (default: the source's name with ``-hf``, ``-<type>`` or ``-onnx-<type>``); with
``-o`` it is written there and left alone.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from slmkit.cli.output import add_json_flag

GGUF_TYPES = ("f32", "f16", "q8_0")
ONNX_TYPES = ("int4", "int8", "fp32")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="stored model name, .gguf file or Hugging Face directory")
    p.add_argument("--to", required=True, choices=("hf", "gguf", "onnx"),
                   help="hf: GGUF → safetensors directory; gguf: directory (or GGUF) → GGUF; "
                        "onnx: GGUF or directory → ONNX Runtime GenAI directory")
    p.add_argument("--type", default=None, choices=GGUF_TYPES + ONNX_TYPES,
                   help="tensor type: f32, f16, q8_0 for --to gguf (default f32); int4, int8, "
                        "fp32 for --to onnx (default int4)")
    p.add_argument("--block-size", type=int, default=32, metavar="N",
                   help="--to onnx int4/int8: weights per quantization block (default 32)")
    p.add_argument("--calibrate", metavar="DATA",
                   help="--to onnx int4/int8: search AWQ-style per-channel scales on DATA "
                        "(dataset name or text file) for the target grid and fold them into "
                        "the float model before export (the float model's function is kept)")
    p.add_argument("--calib-tokens", type=int, default=4096, metavar="N",
                   help="calibration tokens (default 4096)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="write here instead of registering the result in the store")
    p.add_argument("--name", help="store name of the result")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.add_argument("--allow-requantize", action="store_true",
                   help="GGUF → GGUF: accept an already quantized source")
    p.add_argument("--no-pull", action="store_true",
                   help="fail instead of pulling a catalog model that is not stored")
    p.add_argument("--verbose", action="store_true", help="show the ONNX builder's output")
    add_json_flag(p)


def default_name(source: str, to: str, out_type: str) -> str:
    base = re.sub(r"-(hf|f32|f16|q8_0|onnx-(int4|int8|fp32))$", "", source.lower())
    if to == "onnx":
        return f"{base}-onnx-{out_type}"
    return f"{base}-hf" if to == "hf" else f"{base}-{out_type}"


def check_type(to: str, out_type: str | None) -> str:
    """The tensor type for ``--to`` (its default when not given); rejects a mismatch."""
    allowed = ONNX_TYPES if to == "onnx" else GGUF_TYPES
    if out_type is None:
        return allowed[0]
    if to != "hf" and out_type not in allowed:
        raise ValueError(f"--type {out_type} does not apply to --to {to}; "
                         f"choose one of {', '.join(allowed)}")
    return out_type


def run(args) -> int:
    from slmkit.cli.output import print_json, stderr_console
    from slmkit.models.store import Store, validate_name

    args.type = check_type(args.to, args.type)
    store = Store()
    ref = store.resolve(args.model, pull_missing=not args.no_pull)
    src = Path(ref.path)
    name = args.name or default_name(ref.name, args.to, args.type)
    validate_name(name)
    register = args.output is None
    if register and store.has(name) and not args.force:
        raise ValueError(f"{name!r} is already in the store; pass --force to replace it or "
                         "--name to choose another name")
    scratch = None
    if register:
        store.tmp.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="convert-", dir=store.tmp))
        out = scratch / (f"{name}.gguf" if args.to == "gguf" else name)
    else:
        out = Path(args.output).expanduser()
    t0 = time.perf_counter()
    quiet = args.json or not sys.stderr.isatty()
    try:
        if not quiet:
            stderr_console().print(f"[dim]converting {ref.name} → {args.to}"
                                   f"{'' if args.to == 'hf' else ' ' + args.type} …[/]")
        method = _convert(src, out, args, store=store, ref=ref, scratch=scratch)
        seconds = time.perf_counter() - t0
        if register:
            result = store.add(out, name, parent=ref.name, method=method)
            path = result.path
        else:
            path = str(out)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    size = _size(Path(path))
    info = {"name": name if register else None, "path": path, "source": ref.name,
            "method": method, "size_bytes": size, "seconds": round(seconds, 2),
            "registered": register}
    if args.json:
        print_json(info)
    else:
        where = f"stored as {name}" if register else f"written to {path}"
        print(f"{ref.name} → {method}: {where} ({size / 2**20:.1f} MiB, {seconds:.1f} s)")
    return 0


def _convert(src: Path, out: Path, args, *, store=None, ref=None, scratch=None) -> str:
    from slmkit.convert import gguf_to_hf, hf_to_gguf

    is_dir = src.is_dir()
    if args.calibrate and (args.to != "onnx" or args.type == "fp32"):
        raise ValueError("--calibrate applies to --to onnx --type int4|int8 (for GGUF types "
                         "use `slm quantize MODEL --type T --calibrate DATA`)")
    if args.to == "onnx":
        from slmkit.convert.to_onnx import hf_to_onnx

        if is_dir and (src / "genai_config.json").is_file():
            raise ValueError(f"{args.model} is already an ONNX model directory")
        method = f"convert:{'hf' if is_dir else 'gguf'}-to-onnx-{args.type}"
        work = Path(tempfile.mkdtemp(prefix="onnx-calib-", dir=scratch)) if args.calibrate \
            else None
        try:
            if args.calibrate:
                src, tag = _calibrated_source(store, ref, args, work)
                method += tag
            hf_to_onnx(src, out, precision=args.type, block_size=args.block_size,
                       overwrite=args.force, verbose=getattr(args, "verbose", False))
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
        return method
    if args.to == "hf":
        if is_dir:
            raise ValueError(f"{args.model} is already a Hugging Face directory")
        gguf_to_hf(src, out, overwrite=args.force)
        return "convert:gguf-to-hf"
    if is_dir:
        hf_to_gguf(src, out, out_type=args.type, overwrite=args.force)
        return f"convert:hf-to-gguf-{args.type}"
    from slmkit.convert.constants import OUT_TYPES
    from slmkit.convert.to_gguf import quantize

    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists (pass --force to replace it)")
    quantize(src, out, OUT_TYPES[args.type][0], allow_requantize=args.allow_requantize)
    return f"quantize:{args.type}"


# the GGUF type whose weight grid the ONNX builder's symmetric round-to-nearest matches
ONNX_GRID = {"int4": "Q4_0", "int8": "Q8_0"}


def _calibrated_source(store, ref, args, work: Path) -> tuple[Path, str]:
    """(HF directory with AWQ-style scales folded in, lineage tag)."""
    from slmkit.compress.quantize import calibrated_hf, calibration_text, float_source

    if args.block_size != 32:
        raise ValueError("--calibrate searches scales for blocks of 32 weights; "
                         "drop --block-size or use 32")
    text, info = calibration_text(args.calibrate)
    folded, result = calibrated_hf(float_source(store, ref), text, ONNX_GRID[args.type], "awq",
                                   work, n_tokens=args.calib_tokens)
    del result
    return folded, (f"+awq(data={info['name']},sha256={info['sha256'][:12]},"
                    f"tokens={args.calib_tokens})")


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
