"""slmkit: run, serve, measure and adapt Small Language Models on your own hardware.

``slmkit.load(name_or_path, **opts)`` opens a model and returns a ``core.Engine``
(see :mod:`slmkit.models.load`); it is imported on first use, so ``import slmkit`` stays
light.
"""

import logging as _logging

__version__ = "0.1.0"

# transformers imports torchao when it is installed (the compress extra); torchao then warns
# about its CUDA-only kernels and torch about its enum registrations, on every model load.
# Nothing there is actionable on a CPU install, so keep those two loggers to errors.
for _name in ("torchao", "torch.utils._pytree"):
    _logging.getLogger(_name).setLevel(_logging.ERROR)


def __getattr__(name: str):
    if name == "load":
        from slmkit.models.load import load

        return load
    raise AttributeError(f"module 'slmkit' has no attribute {name!r}")
