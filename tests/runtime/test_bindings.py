import subprocess
import sys


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_bindings_skip_the_high_level_api_but_it_still_imports():
    code = (
        "import sys\n"
        "from slmkit.runtime.llamacpp.bindings import bindings\n"
        "lib = bindings()\n"
        "print(hasattr(lib, 'llama_decode'), 'llama_cpp.llama' in sys.modules)\n"
        "from llama_cpp import Llama\n"
        "import llama_cpp\n"
        "print(Llama.__name__, bool(llama_cpp.__version__))\n"
    )
    assert run(code).splitlines() == ["True False", "Llama True"]


def test_bindings_reuse_a_package_already_imported():
    code = (
        "import llama_cpp\n"
        "from slmkit.runtime.llamacpp.bindings import bindings\n"
        "print(bindings() is llama_cpp.llama_cpp)\n"
    )
    assert run(code) == "True"
