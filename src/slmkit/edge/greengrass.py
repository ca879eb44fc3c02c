"""Export a bundle as an AWS IoT Greengrass v2 component.

Writes, under the output directory, the layout ``greengrass-cli deployment create
--recipeDir recipes --artifactDir artifacts`` takes (and that ``aws greengrassv2
create-component-version --inline-recipe`` takes after the artifacts are uploaded)::

    recipes/<component>-<version>.json
    artifacts/<component>/<version>/<bundle>.slmb      (hard-linked when possible)
    artifacts/<component>/<version>/signing.pub

The recipe's lifecycle verifies the bundle's signature and digests with `slm bundle
verify` at install, unpacks it, and runs `slm serve` on its model with the bundle's serve
options as configurable parameters. Artifacts carry their SHA-256 digest (base64) so the
Greengrass nucleus checks what it downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from slmkit.edge import bundle as bdl
from slmkit.edge import keys
from slmkit.util.files import CHUNK, atomic_write

RECIPE_FORMAT = "2020-01-25"
PREFIX = "com.slmkit."


def component_name(bundle_name: str) -> str:
    """``com.slmkit.<name>`` with only the characters Greengrass allows."""
    return PREFIX + re.sub(r"[^A-Za-z0-9._-]", "-", bundle_name)


def component_version(version: str) -> str:
    """Greengrass wants MAJOR.MINOR.PATCH: ``1.4`` → ``1.4.0`` (a 4th part is dropped)."""
    return ".".join((version.split(".") + ["0", "0"])[:3])


def _digest_b64(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode("ascii")


def recipe(manifest: dict, bundle_file: str, key_file: str, digests: dict[str, str],
           artifact_uri: str | None = None) -> dict:
    """The component recipe (a dict) for a verified bundle's ``manifest``."""
    name = component_name(manifest["name"])
    version = component_version(manifest["version"])
    base = (artifact_uri.rstrip("/") + f"/{name}/{version}") if artifact_uri else \
        f"s3://YOUR-BUCKET/{name}/{version}"
    serve = manifest.get("serve") or {}
    work = "{work:path}/bundle"
    model = f"{work}/{manifest['model']['path']}"
    artifacts = "{artifacts:path}"
    run = (f"slm serve '{model}' --no-pull --host {{configuration:/Host}} "
           f"--port {{configuration:/Port}} --ctx {{configuration:/Ctx}} "
           f"--threads {{configuration:/Threads}}")
    if manifest.get("rag"):  # the bundle's collections (names are checked when bundled)
        run += f" --rag-home '{work}'" + "".join(f" --rag {n}" for n in sorted(manifest["rag"]))
    install = (f"slm bundle verify '{artifacts}/{bundle_file}' --key '{artifacts}/{key_file}' "
               f"&& rm -rf '{work}' && mkdir -p '{work}' "
               f"&& tar -xf '{artifacts}/{bundle_file}' -C '{work}'")
    return {
        "RecipeFormatVersion": RECIPE_FORMAT,
        "ComponentName": name,
        "ComponentVersion": version,
        "ComponentDescription": f"slmkit bundle {manifest['name']} {manifest['version']} "
                                f"(model {manifest['model']['name']}), served by slm serve",
        "ComponentPublisher": "slmkit",
        "ComponentConfiguration": {"DefaultConfiguration": {
            "Host": "127.0.0.1", "Port": 8000,
            "Ctx": int(serve.get("ctx") or manifest["hardware"]["n_ctx"]),
            "Threads": int(serve.get("threads") or 0)}},
        "Manifests": [{
            "Platform": {"os": "linux"},
            "Lifecycle": {"Install": {"Script": install, "Timeout": 1800},
                          "Run": {"Script": run}},
            "Artifacts": [
                {"Uri": f"{base}/{f}", "Digest": digests[f], "Algorithm": "SHA-256",
                 "Unarchive": "NONE", "Permission": {"Read": "OWNER", "Execute": "NONE"}}
                for f in (bundle_file, key_file)],
        }],
    }


def export(bundle_path: str | Path, public, out: str | Path,
           artifact_uri: str | None = None) -> Path:
    """Verify the bundle, then write the recipe and artifacts under ``out``; returns the
    recipe's path."""
    bundle_path, out = Path(bundle_path), Path(out)
    manifest = bdl.verify(bundle_path, public)
    name = component_name(manifest["name"])
    art_dir = out / "artifacts" / name / component_version(manifest["version"])
    art_dir.mkdir(parents=True, exist_ok=True)
    target = art_dir / bundle_path.name
    target.unlink(missing_ok=True)
    try:
        os.link(bundle_path, target)
    except OSError:
        shutil.copyfile(bundle_path, target)
    atomic_write(art_dir / "signing.pub", keys.public_pem(public))
    digests = {p.name: _digest_b64(p) for p in (target, art_dir / "signing.pub")}
    final = recipe(manifest, bundle_path.name, "signing.pub", digests, artifact_uri)
    path = out / "recipes" / f"{name}-{final['ComponentVersion']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(final, indent=2) + "\n")
    return path
