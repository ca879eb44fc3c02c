"""`slm convert MODEL --to hf|gguf|onnx`: GGUF ⇄ Hugging Face safetensors (and GGUF
requantizing), and GGUF or Hugging Face → ONNX Runtime GenAI (int4 MatMulNBits or fp32).

Without ``-o`` the result is registered in the store (with its parent and method) under
``--name`` (default: the source's name with ``-hf``, ``-<type>`` or ``-onnx-<type>``); with
``-o`` it is written there and left alone.
"""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.output import add_json_flag


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="stored model name, .gguf file or Hugging Face directory")
    p.add_argument("--to", required=True, choices=("hf", "gguf", "onnx"),
                   help="hf: GGUF → safetensors directory; gguf: directory (or GGUF) → GGUF; "
                        "onnx: GGUF or directory → ONNX Runtime GenAI directory")
    p.add_argument("--type", default=None, choices=("f32", "f16", "q8_0", "int4", "int8", "fp32"),
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


def run(args) -> int:
    from slmkit.cli.output import print_json, stderr_console
    from slmkit.convert import check_type, convert_model
    from slmkit.models.store import Store

    store, out_type = Store(), check_type(args.to, args.type)
    prepare = None
    if args.calibrate:  # convert_model refuses it for anything but --to onnx int4|int8
        from slmkit.compress.quantize import onnx_calibration

        prepare = onnx_calibration(store, args.calibrate, out_type, block_size=args.block_size,
                                   n_tokens=args.calib_tokens)
    if not args.json and sys.stderr.isatty():
        stderr_console().print(f"[dim]converting {args.model} → {args.to}"
                               f"{'' if args.to == 'hf' else ' ' + out_type} …[/]")
    info = convert_model(store, args.model, args.to, out_type=out_type, name=args.name,
                         output=args.output, overwrite=args.force,
                         allow_requantize=args.allow_requantize, block_size=args.block_size,
                         verbose=args.verbose, pull_missing=not args.no_pull, prepare=prepare)
    if args.json:
        print_json(info)
    else:
        where = f"stored as {info['name']}" if info["registered"] else f"written to {info['path']}"
        print(f"{info['source']} → {info['method']}: {where} "
              f"({info['size_bytes'] / 2**20:.1f} MiB, {info['seconds']:.1f} s)")
    return 0
