"""`slm bundle MODEL|verify|export-greengrass`: the options of a bundle build (or check, or
Greengrass export), checked, and the call they make."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slmkit.core.options import Done, opt


def _pair(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise ValueError(f"--adapter {text!r}: use NAME=DIR")
    return name, path


@dataclass
class BundleRequest:
    """Build a signed bundle of ``target`` (a model), or ``verify`` / ``export-greengrass``
    the bundle ``file``."""

    JSON_HELP = "machine-readable output"
    target: str = opt(None, "a stored model name or model path to bundle, or an action",
                      metavar="MODEL|verify|export-greengrass", positional=True)
    file: str | None = opt(None, "the bundle (verify, export)", metavar="FILE", nargs="?",
                           positional=True)
    version: str | None = opt(None, "bundle version", metavar="X.Y.Z", dest="bundle_version")
    name: str | None = opt(None, "bundle name (default: the model's name)")
    sign: str | None = opt(None, "private key that signs the bundle", metavar="KEY")
    key: str | None = opt(None, "verify: the trusted public key", metavar="PUB")
    output: str | None = opt(None, "bundle file, or recipe directory", metavar="PATH",
                             short="-o")
    adapter: Sequence[str] = opt(None, "include a LoRA adapter (repeatable)", metavar="NAME=DIR",
                        action="append")
    config: str | None = opt(None, "`slm serve` options ([serve] table)", metavar="serve.toml")
    golden: str | None = opt(None, "acceptance prompts", metavar="golden.jsonl")
    min_pass_rate: float = opt(1.0, "share of golden prompts that must pass (default 1.0)")
    min_tok_s: float = opt(0.0, "minimum tokens/s on the device (default 0: no check)")
    max_kld: float | None = opt(None, "fidelity: highest KL-divergence on the device against "
                                      "this model", metavar="X", type=float)
    max_dppl: float | None = opt(None, "fidelity: largest perplexity change on the device, in "
                                       "percent", metavar="PCT", type=float)
    ctx: int | None = opt(None, "context for the memory need (default: config, 4096)", type=int)
    config_only: bool = opt(False, "leave the model, collections and embedders out: devices "
                                   "reuse the ones they run")
    reuse: Sequence[str] = opt(None, "list PART by digest without shipping it: devices reuse "
                                     "their copy (model, rag, embedders; repeatable)",
                               metavar="PART", action="append")
    rag: Sequence[str] = opt(None, "carry this document collection (served as "
                                   "rag:COLLECTION; repeatable)", metavar="COLLECTION",
                             action="append")
    rag_embedder: str = opt("carry", "carry the collections' embedder, or only name it (the "
                                     "device's store must hold it)", choices=("carry", "name"))
    repo_url: str | None = opt(None, "export-greengrass: the artifact's URI prefix (e.g. "
                                     "s3://bucket/slmkit)")

    def run(self, progress=None) -> Done:
        if self.target == "verify":
            return self.verify()
        if self.target == "export-greengrass":
            return self.greengrass()
        return self.build()

    def build(self) -> Done:
        from slmkit.edge.bundle import BundleSpec, build

        if self.file:
            raise ValueError(f"unexpected {self.file!r}: slm bundle takes one MODEL")
        if not (self.version and self.sign and self.output):
            raise ValueError("slm bundle MODEL needs --version, --sign and -o")
        fidelity = {"max_kld": self.max_kld, "max_dppl_pct": self.max_dppl}
        spec = BundleSpec(model=self.target, version=self.version, name=self.name,
                          adapters=dict(_pair(a) for a in self.adapter or ()),
                          config=self.config, golden=self.golden,
                          acceptance={"min_pass_rate": self.min_pass_rate,
                                      "min_tok_s": self.min_tok_s,
                                      **{k: v for k, v in fidelity.items() if v is not None}},
                          config_only=self.config_only, n_ctx=self.ctx,
                          rag=list(self.rag or ()), rag_export=self.rag_exporter(),
                          carry_embedder=self.rag_embedder == "carry",
                          reuse=set(self.reuse or ()))
        manifest = build(spec, self.sign, self.output)
        hw = manifest["hardware"]
        return Done(manifest, f"bundled {manifest['name']} {manifest['version']} → "
                              f"{self.output}\n  {len(manifest['files'])} files, needs "
                              f"{hw['ram_bytes'] / 2**20:,.0f} MiB RAM at ctx {hw['n_ctx']}")

    def rag_exporter(self):
        """``(collection, dest) -> embedder name``: what writes a collection into a bundle.
        None here (edge does not import rag): ``slmkit.assemble.edge`` wires the RAG store's."""
        return None

    def verify(self) -> Done:
        from slmkit.edge import bundle, keys

        if not (self.file and self.key):
            raise ValueError("slm bundle verify FILE --key PUB")
        manifest = bundle.verify(self.file, keys.load_public(self.key))
        return Done(manifest, f"ok: {manifest['name']} {manifest['version']}, signature and "
                              f"{len(manifest['files'])} file digests check out")

    def greengrass(self) -> Done:
        from slmkit.edge import greengrass, keys

        if not (self.file and self.output and self.key):
            raise ValueError("slm bundle export-greengrass FILE --key PUB -o DIR")
        path = greengrass.export(self.file, keys.load_public(self.key), self.output,
                                 artifact_uri=self.repo_url)
        return Done({"recipe": str(path)}, f"wrote {path}\n  upload: see docs/edge.md (AWS CLI "
                                           "`greengrassv2 create-component-version`)")
