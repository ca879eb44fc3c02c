"""Extract the default model's tokenizer (Qwen2.5's, with its chat template) from the GGUF
in the model store into a Hugging Face tokenizer folder, for ``benchmarks/gpu_check.py``
on a machine that has neither the model nor a network (see ``benchmarks/gpu_prep.sh``).

    python benchmarks/gpu_tokenizer.py OUT_DIR [MODEL]

MODEL: a store name or GGUF path (default: the catalog's default model; it is pulled when
missing and a registry is reachable). SLM_HOME picks the store as usual."""

from __future__ import annotations

import sys
from pathlib import Path


def main(out: str, model: str | None = None) -> Path:
    from transformers import AutoTokenizer

    from slmkit.models import catalog
    from slmkit.models.store import Store
    from slmkit.runtime.torch.loader import gguf_named

    ref = Store().resolve(model or catalog.default_model().name, pull_missing=True)
    with gguf_named(Path(ref.path)) as (where, name):
        tokenizer = AutoTokenizer.from_pretrained(where, gguf_file=name)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(target))
    print(f"tokenizer of {ref.name} ({len(tokenizer)} tokens) -> {target}")
    return target


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
