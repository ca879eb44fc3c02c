"""A peft LoRA adapter → a llama.cpp LoRA adapter GGUF (loaded at run time, no merge).

The file llama.cpp's ``llama_adapter_lora_init`` reads (the layout of its own
``convert_lora_to_gguf.py``): ``general.type = adapter``, ``adapter.type = lora``,
``adapter.lora.alpha`` (llama.cpp scales by alpha / rank, like peft), the base's
``general.architecture``, and for every adapted weight ``W`` two tensors named after the
base tensor: ``<W>.lora_a`` (numpy shape ``[rank, n_in]``, peft's ``lora_A``) and
``<W>.lora_b`` (``[n_out, rank]``, peft's ``lora_B``). The base GGUF stores llama's q/k
rows permuted (:func:`slmkit.convert.to_gguf.permute_qk`); ``B`` produces those rows, so
``lora_b`` of q and k gets the same row permutation (``A`` acts on the input, unchanged).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from slmkit.core.errors import SlmError


class AdapterExportError(SlmError):
    code = "adapter_export"


def read_adapter(adapter_dir: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(adapter_config.json, {tensor name: float32 array}) of a peft adapter directory."""
    from safetensors.numpy import load_file

    d = Path(adapter_dir)
    cfg_path, weights = d / "adapter_config.json", d / "adapter_model.safetensors"
    if not cfg_path.is_file() or not weights.is_file():
        raise AdapterExportError(f"{d} is not a peft LoRA adapter (needs adapter_config.json "
                                 "and adapter_model.safetensors)",
                                 hint="point at the --output of `slm finetune --method lora`")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("peft_type", "LORA") != "LORA":
        raise AdapterExportError(f"{d} holds a {cfg.get('peft_type')} adapter; only LoRA exports")
    if cfg.get("use_rslora") or cfg.get("use_dora"):
        raise AdapterExportError("rsLoRA / DoRA adapters have no llama.cpp equivalent",
                                 hint="merge it instead: `slm merge BASE ADAPTER`")
    return cfg, {k: v.astype(np.float32) for k, v in load_file(str(weights)).items()}


def lora_pairs(tensors: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{HF weight name (``model.layers.0.self_attn.q_proj.weight``): (A, B)}."""
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        for tag in ("lora_A", "lora_B"):
            marker = f".{tag}."
            if marker in key:
                module = key.split(marker)[0].removeprefix("base_model.model.")
                pairs.setdefault(module + ".weight", {})[tag] = value
    broken = [k for k, v in pairs.items() if len(v) != 2]
    if broken:
        raise AdapterExportError(f"adapter tensors without their A/B partner: {broken[:3]}")
    return {k: (v["lora_A"], v["lora_B"]) for k, v in pairs.items()}


def export_adapter_gguf(adapter_dir: str | Path, base_hf_dir: str | Path,
                        out_path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the llama.cpp LoRA GGUF of ``adapter_dir`` (trained on ``base_hf_dir``)."""
    import gguf
    from transformers import AutoConfig

    from slmkit.arch.base import kv_heads
    from slmkit.convert.to_gguf import write_gguf, arch_spec, permute_qk

    out = Path(out_path)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True / --force to replace it)")
    cfg, tensors = read_adapter(adapter_dir)
    base_cfg = AutoConfig.from_pretrained(str(base_hf_dir))
    spec = arch_spec(base_cfg)
    n_head, n_kv = int(base_cfg.num_attention_heads), kv_heads(base_cfg)
    writer = gguf.GGUFWriter(str(out), spec.gguf_arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(cfg.get("lora_alpha", cfg["r"])))
    writer.add_name(Path(adapter_dir).resolve().name)
    for hf_name, (a, b) in sorted(lora_pairs(tensors).items()):
        name = spec.gguf_name(hf_name)
        if name is None:
            raise AdapterExportError(f"no llama.cpp tensor for {hf_name!r} ({spec.name})")
        if spec.permute_qk and hf_name.endswith(("q_proj.weight", "k_proj.weight")):
            b = permute_qk(b, n_head if hf_name.endswith("q_proj.weight") else n_kv)
        writer.add_tensor(name + ".lora_a", np.ascontiguousarray(a))  # [rank, n_in]
        writer.add_tensor(name + ".lora_b", np.ascontiguousarray(b))  # [n_out, rank]
    write_gguf(writer)
    return out


def export_for_base(adapter_dir: str | Path, base_path: str, out_path: str | Path, *,
                    base_sha256: str | None = None, overwrite: bool = False) -> Path:
    """:func:`export_adapter_gguf` for an adapter trained on the model at ``base_path``
    (a GGUF is dequantized to the cached float directory training used)."""
    from slmkit.adapt.lora import float_dir

    return export_adapter_gguf(adapter_dir, float_dir(base_path, base_sha256), out_path,
                               overwrite=overwrite)


def export_for_stored_base(store, base: str, adapter_dir: str | Path, out_path: str | Path, *,
                           overwrite: bool = False, pull_missing: bool = True) -> dict:
    """:func:`export_for_base` for the stored (or path) model ``base``. Returns {base,
    adapter, adapter_gguf, size_bytes}."""
    ref = store.resolve(base, pull_missing=pull_missing)
    out = export_for_base(adapter_dir, ref.path, Path(out_path).expanduser(),
                          base_sha256=ref.sha256, overwrite=overwrite)
    return {"base": ref.name, "adapter": str(adapter_dir), "adapter_gguf": str(out),
            "size_bytes": out.stat().st_size}
