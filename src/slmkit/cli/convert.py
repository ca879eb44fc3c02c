"""`slm convert MODEL --to hf|gguf|onnx`: GGUF ⇄ Hugging Face safetensors (and GGUF
requantizing), GGUF or Hugging Face → ONNX Runtime GenAI; registered unless ``-o``."""

from __future__ import annotations

from slmkit.cli.args import NO_PULL_HELP, Opt, derived, json_option, options, source


def configure(p) -> None:
    source(p)
    options(p, to=Opt(None, "hf: GGUF → safetensors directory; gguf: directory (or GGUF) → "
                            "GGUF; onnx: GGUF or directory → ONNX Runtime GenAI directory",
                      choices=("hf", "gguf", "onnx"), required=True),
            type=Opt(None, "f32, f16, q8_0 for --to gguf (default f32); int4, int8, fp32 for "
                           "--to onnx (default int4)",
                     choices=("f32", "f16", "q8_0", "int4", "int8", "fp32")),
            block_size=Opt(32, "--to onnx int4/int8: weights per quantization block"),
            calibrate=Opt(None, "--to onnx int4/int8: fold AWQ-style per-channel scales "
                                "searched on DATA (dataset name or text file) into the float "
                                "model before export (its function is kept)", "DATA"),
            calib_tokens=Opt(4096, "calibration tokens"),
            allow_requantize=Opt(False, "GGUF → GGUF: accept an already quantized source"),
            no_pull=Opt(False, NO_PULL_HELP),
            verbose=Opt(False, "show the ONNX builder's output"))
    derived(p, force="replace an existing output")
    json_option(p)


def run(args) -> int:
    from slmkit.cli.output import emit, status
    from slmkit.convert import check_type, convert_model
    from slmkit.models.store import Store

    store, out_type = Store(), check_type(args.to, args.type)
    prepare = None
    if args.calibrate:  # convert_model refuses it for anything but --to onnx int4|int8
        from slmkit.compress.quantize import onnx_calibration

        prepare = onnx_calibration(store, args.calibrate, out_type, block_size=args.block_size,
                                   n_tokens=args.calib_tokens)
    status(args, f"converting {args.model} → {args.to}"
                 f"{'' if args.to == 'hf' else ' ' + out_type} …")
    info = convert_model(store, args.model, args.to, out_type=out_type, name=args.name,
                         output=args.output, overwrite=args.force,
                         allow_requantize=args.allow_requantize, block_size=args.block_size,
                         verbose=args.verbose, pull_missing=not args.no_pull, prepare=prepare)
    where = f"stored as {info['name']}" if info["registered"] else f"written to {info['path']}"
    return emit(args, info, f"{info['source']} → {info['method']}: {where} "
                            f"({info['size_bytes'] / 2**20:.1f} MiB, {info['seconds']:.1f} s)")
