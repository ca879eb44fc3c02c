"""The device's side of a TUF repository (``slm agent --tuf-root ROOT``): the index is
fetched through ``tuf``'s ngclient, which walks root versions (key rotation), and checks
timestamp → snapshot → targets → ``index.json`` for signatures by the right roles, expiry
(freeze), version numbers that never go back (rollback) and the index's length and sha256
(mix-and-match). The agent then checks the index itself as without TUF (edge.repo).

Metadata the device trusts is kept in ``DEVICE/tuf`` (root history, last timestamp,
snapshot and targets); ``ROOT`` is the trust anchor given to the device once, like the
public key (``repo/tuf/metadata/1.root.json`` of the repository).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from slmkit.edge.errors import UpdateRefused
from slmkit.edge.tuf_repo import TARGET

CHUNK = 1 << 16


def _local_fetcher():
    """A ngclient fetcher for a repository that is a directory (URLs are paths)."""
    from tuf.api.exceptions import DownloadHTTPError
    from tuf.ngclient.fetcher import FetcherInterface

    class LocalFetcher(FetcherInterface):
        def _fetch(self, url: str) -> Iterator[bytes]:
            try:
                f = open(url, "rb")  # noqa: SIM115 - closed by the generator
            except FileNotFoundError:
                raise DownloadHTTPError(f"{url} not found", 404) from None

            def chunks() -> Iterator[bytes]:
                with f:
                    while block := f.read(CHUNK):
                        yield block
            return chunks()

    return LocalFetcher()


def fetch_index(repo: str, device_dir: Path, trusted_root: str | Path) -> bytes:
    """``index.json`` of ``repo`` as TUF verified it; ``UpdateRefused`` saying which check
    failed (the current version keeps serving)."""
    from tuf.api import exceptions
    from tuf.ngclient import Updater

    from slmkit.edge.repo import is_url

    tuf_dir = device_dir / "tuf"
    (tuf_dir / "targets").mkdir(parents=True, exist_ok=True)
    base = repo.rstrip("/") + "/"
    try:
        anchor = Path(trusted_root).read_bytes()
        updater = Updater(str(tuf_dir), f"{base}tuf/metadata/", str(tuf_dir / "targets"),
                          base, fetcher=None if is_url(repo) else _local_fetcher(),
                          bootstrap=anchor)
        updater.refresh()
        info = updater.get_targetinfo(TARGET)
        if info is None:
            raise UpdateRefused(f"the TUF targets of {repo} do not list {TARGET}",
                                hint="publish with `slm publish --tuf`")
        path = updater.find_cached_target(info) or updater.download_target(info)
        return Path(path).read_bytes()
    except exceptions.ExpiredMetadataError as err:
        raise UpdateRefused(f"TUF metadata expired: {err}", hint="re-publish (slm publish "
                            "--tuf) within the expiry; the current version keeps serving")
    except exceptions.BadVersionNumberError as err:
        raise UpdateRefused(f"TUF metadata went back in version (a rollback or replay): "
                            f"{err}", hint="the repository or a mirror serves old metadata")
    except exceptions.RepositoryError as err:
        raise UpdateRefused(f"TUF verification failed: {type(err).__name__}: {err}",
                            hint="do not trust this repository until it is re-published")
    except (exceptions.DownloadError, OSError) as err:
        raise UpdateRefused(f"cannot read the TUF repository: {err}",
                            hint="check --repo and --tuf-root; the current version keeps "
                                 "serving") from err
