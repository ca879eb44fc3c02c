"""Adapting a model to a task: LoRA / QLoRA / full fine-tuning on CPU, merging an adapter
into its base, and exporting it as a llama.cpp LoRA GGUF.

- :mod:`.data` — jsonl examples (chat ``messages`` or ``prompt``/``completion``) rendered
  with the model's chat template, labels on answer tokens only.
- :mod:`.lora` — the peft configuration and the base model in float (or NF4 for QLoRA).
- :mod:`.train` — the training loop (validation, checkpoints, resume).
- :mod:`.merge` — dequantize → merge in float → GGUF → requantize → store with lineage.
- :mod:`.export` — adapter-only GGUF that llama.cpp applies at run time.

Heavy imports (torch, transformers, peft) happen inside functions.
"""
