"""The base model for training (float, or NF4 for QLoRA) and the peft LoRA configuration.

A GGUF base is dequantized once into a Hugging Face directory (``convert.gguf_to_hf``,
float32, with the source's metadata so a merge writes the exact tokenizer back) and
cached under ``<store>/cache/hf/<digest>``; training, merging and evaluation all start
from that directory, so they see the same float weights.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from slmkit.arch.base import LORA_TARGETS
from slmkit.core.errors import SlmError
from slmkit.core.options import opt

METHODS = ("lora", "qlora", "full")
DEFAULT_TARGETS = LORA_TARGETS  # for a model no slmkit.arch spec claims
ADAPTER_META = "slm-adapter.json"  # our sidecar in an adapter directory


class QLoraUnavailableError(SlmError):
    code = "qlora_unavailable"


@dataclass(frozen=True)
class LoraSettings:
    rank: int = opt(8, group="LoRA")
    alpha: float = opt(16.0, group="LoRA")
    dropout: float = opt(0.05, group="LoRA")
    targets: tuple[str, ...] | None = opt(  # None: the architecture's (slmkit.arch)
        None, "linear layers to adapt (default: the architecture's, e.g. q,k,v,o,gate,up,down "
              "projections)", metavar="A,B,…", group="LoRA", flag="target_modules")
    layers: int | None = opt(None, "adapt only the last N transformer layers (the backward "
                                   "pass stops there: much faster on CPU; default: all)",
                             type=int, group="LoRA")

    def __post_init__(self) -> None:
        if isinstance(self.targets, str):  # "q,k, v" as the command line gives it
            names = tuple(t.strip() for t in self.targets.split(",") if t.strip())
            object.__setattr__(self, "targets", names or None)

    def for_architecture(self, model_type: str) -> LoraSettings:
        """These settings with ``targets`` filled in from the architecture's LoRA targets
        when none were given."""
        if self.targets is not None:
            return self
        from slmkit import arch

        spec = arch.find_hf(model_type)
        return replace(self, targets=spec.lora_targets if spec else DEFAULT_TARGETS)

    def validate(self) -> None:
        if self.rank < 1:
            raise ValueError(f"--rank must be >= 1, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.targets is not None and not self.targets:
            raise ValueError("--target-modules must name at least one module")
        if self.layers is not None and self.layers < 1:
            raise ValueError(f"--layers must be >= 1, got {self.layers}")

    def peft_config(self, n_layers: int | None = None):
        """peft's LoraConfig. With ``layers`` only the top layers are adapted: the
        backward pass then stops there, which on CPU saves most of its cost."""
        from peft import LoraConfig

        top = None
        if self.layers is not None and n_layers:
            top = list(range(max(0, n_layers - self.layers), n_layers))
        return LoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=list(self.targets), bias="none",
                          layers_to_transform=top, task_type="CAUSAL_LM")


@dataclass
class Base:
    """A base model ready for training: the torch model, its tokenizer and chat format."""

    model: object
    tokenizer: object
    fmt: object  # data.ChatFormat
    hf_dir: Path
    source: str
    info: dict = field(default_factory=dict)


def hf_cache_dir(source: str | Path, sha256: str | None = None) -> Path:
    """Where the dequantized Hugging Face copy of the GGUF ``source`` lives."""
    from slmkit.models.store import default_root

    if sha256 is None:
        st = os.stat(source)
        sha256 = hashlib.sha256(f"{Path(source).resolve()}:{st.st_size}:{st.st_mtime_ns}"
                                .encode()).hexdigest()
    return default_root() / "cache" / "hf" / sha256[:16]


def float_dir(source: str | Path, sha256: str | None = None) -> Path:
    """A Hugging Face directory of ``source``: itself when it is one, else the cached
    float32 conversion of the GGUF (made on first use)."""
    src = Path(source)
    if src.is_dir():
        return src
    out = hf_cache_dir(src, sha256)
    if not (out / "model.safetensors").is_file():
        from filelock import FileLock

        from slmkit.convert import gguf_to_hf

        out.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(out) + ".lock"):
            if not (out / "model.safetensors").is_file():
                gguf_to_hf(src, out, overwrite=True)
    return out


def load_base(source: str | Path, *, method: str = "lora", sha256: str | None = None) -> Base:
    """Load ``source`` (GGUF file or HF directory) for training with ``method``."""
    import torch

    from slmkit.adapt.data import ChatFormat
    from slmkit.runtime.torch.loader import load

    if method not in METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    hf = float_dir(source, sha256)
    if method == "qlora":  # never hold the float copy: straight to NF4
        model, tok = _load_nf4(hf, torch), _tokenizer(hf)
        template, arch = tok.chat_template, model.config.model_type
        add_bos = _adds_bos(tok)
    else:
        loaded = load(str(hf))
        model, tok, template = loaded.model, loaded.tokenizer, loaded.chat_template
        arch, add_bos = loaded.architecture, loaded.add_bos
    fmt = ChatFormat(template, bos_text=tok.bos_token or "", eos_text=tok.eos_token or "",
                     bos_id=tok.bos_token_id, add_bos=add_bos)
    return Base(model, tok, fmt, hf, str(source), {"architecture": arch, "method": method})


def _tokenizer(hf: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(hf))


def _adds_bos(tok) -> bool:
    probe = tok("a", add_special_tokens=True).input_ids
    bare = tok("a", add_special_tokens=False).input_ids
    return bool(tok.bos_token_id is not None and len(probe) > len(bare)
                and probe[0] == tok.bos_token_id)


def _load_nf4(hf: Path, torch):
    """The base in 4-bit NormalFloat through bitsandbytes (its CPU kernels)."""
    try:
        import bitsandbytes  # noqa: F401 - only to say clearly that it is missing
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    except ImportError as err:
        raise QLoraUnavailableError(f"QLoRA needs bitsandbytes: {err}",
                                    hint="pip install bitsandbytes, or use --method lora") from err
    cfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                             bnb_4bit_compute_dtype=torch.float32)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(hf), quantization_config=cfg,
                                                     device_map="cpu", dtype=torch.float32,
                                                     use_safetensors=True)
        model(torch.tensor([[1, 2]]))  # bitsandbytes builds without CPU kernels fail here
    except Exception as err:
        raise QLoraUnavailableError(
            f"bitsandbytes cannot run NF4 on this machine: {type(err).__name__}: {err}",
            hint="use --method lora (float base; same adapter format)") from err
    model.eval()
    return model


def attach(base: Base, settings: LoraSettings):
    """Wrap the base model with trainable LoRA layers (the base itself stays frozen)."""
    from peft import get_peft_model

    settings = settings.for_architecture(base.info.get("architecture", ""))
    settings.validate()
    present = {n.rsplit(".", 1)[-1] for n, _ in base.model.named_modules()}
    unknown = [t for t in settings.targets if t not in present]
    if unknown:
        raise ValueError(f"--target-modules {', '.join(unknown)} not found in the model "
                         f"(linear layers here: {', '.join(sorted(_linear_names(base.model)))})")
    if base.info.get("method") == "qlora":
        from peft import prepare_model_for_kbit_training

        base.model = prepare_model_for_kbit_training(base.model,
                                                     use_gradient_checkpointing=False)
    n_layers = getattr(base.model.config, "num_hidden_layers", None)
    return get_peft_model(base.model, settings.peft_config(n_layers))


def _linear_names(model) -> set[str]:
    import torch

    return {n.rsplit(".", 1)[-1] for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and "lm_head" not in n}


def load_adapter(model, adapter_dir: str | Path):
    """The base ``model`` with the trained adapter in ``adapter_dir`` applied (peft)."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise SlmError(f"{adapter_dir} holds no LoRA adapter (no adapter_config.json)",
                       hint="point at the --output directory of `slm finetune --method lora`")
    return PeftModel.from_pretrained(model, str(adapter_dir))
