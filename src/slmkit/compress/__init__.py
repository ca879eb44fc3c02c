"""Compress: quantize, calibrate (activation-aware), prune, distill, optimize (quality gate).

- :mod:`.quantize` — a model → a GGUF type through llama.cpp's quantizer (from an F32
  source, converted when needed), optionally calibrated (:mod:`.calibrate`: AWQ-style
  scales folded into the float model, plus an importance matrix), registered with lineage.
- :mod:`.reference` — an off-grid float reference of a model shipped quantized (short
  continued pre-training), so quantization methods are judged on weights that are not
  already on a 4-bit grid.
- :mod:`.optimize` — a ladder of candidates evaluated against the reference (KLD, ΔPPL,
  accuracy, speed, size), a Pareto chart (:mod:`.pareto`), the smallest one that passes
  its budget registered; a refusal with the numbers when none does.
- :mod:`.summaries` — what a run did, in the lines `slm quantize/prune/distill` print.
- :mod:`.prune` / :mod:`.structured` / :mod:`.distill` — pruning (unstructured, N:M, whole
  layers, MLP channels, KV groups) and distillation; :func:`.prune.prune_to_store` and
  :func:`.distill.distill_to_store` register the result (GGUF + HF directory) with lineage.

Every flow that makes a model registers it through ``Store.derive`` (staged inside the
store, registered with parent/method/params when it succeeds, removed when it fails).

Nothing here imports torch, transformers or llama_cpp at import time.
"""
