"""llama-cpp-python's ctypes bindings, without importing its high-level API.

``import llama_cpp`` runs the package ``__init__``, which also imports the ``Llama`` class,
its chat formats, jinja2 and more (about 0.2 s here). slmkit needs only the C bindings
(``llama_cpp.llama_cpp``, about 0.05 s), so when nothing has imported the package yet we
register it without running ``__init__`` and complete it on the first access to any other
attribute: code in the same process that does ``from llama_cpp import Llama`` still works.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading

_lock = threading.Lock()
_bindings = None


def bindings():
    """The ``llama_cpp.llama_cpp`` module (imported once)."""
    global _bindings
    if _bindings is None:
        with _lock:
            if "llama_cpp" not in sys.modules:
                _register_lazy_package()
            _bindings = importlib.import_module("llama_cpp.llama_cpp")
    return _bindings


def _register_lazy_package() -> None:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.loader is None:
        raise ImportError("llama-cpp-python is not installed (it is a dependency of slmkit)")
    package = importlib.util.module_from_spec(spec)  # __path__ etc. set, __init__ not run

    def complete(name: str):
        if name.startswith("__") and name not in ("__all__", "__version__"):
            raise AttributeError(name)
        with _lock:
            if "__getattr__" in vars(package):
                del package.__getattr__
                spec.loader.exec_module(package)  # the real __init__, in the same module
        return getattr(package, name)

    package.__getattr__ = complete
    sys.modules["llama_cpp"] = package
