"""``medseg models fetch NAME``: download a MONAI model zoo bundle, the only download we do.

Bundles go to the user's data folder (``platformdirs``), or ``$MEDSEG_MODELS_DIR`` when
set, and are then listed by ``medseg models`` under their folder name. A fetched bundle is
code from the internet: it still runs only once trusted (:mod:`.trust`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ...errors import MedsegError
from .bundle import is_bundle

ZOO_HOSTS = ("raw.githubusercontent.com", "api.ngc.nvidia.com")


def models_dir() -> Path:
    """Folder that holds fetched bundles."""
    env = os.environ.get("MEDSEG_MODELS_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("napari-medseg", appauthor=False)) / "bundles"


def fetched_bundles() -> list[Path]:
    """Bundle folders in :func:`models_dir`, sorted by name."""
    root = models_dir()
    return sorted(p for p in root.iterdir() if is_bundle(p)) if root.is_dir() else []


def _online(hosts=ZOO_HOSTS) -> bool:
    for host in hosts:
        try:
            socket.getaddrinfo(host, 443)
            return True
        except OSError:
            continue
    return False


def fetch(name: str, version: str | None = None) -> Path:
    """Download bundle ``name`` from the MONAI model zoo with ``monai.bundle.download``.

    Returns
    -------
    Path of the bundle folder.

    Raises
    ------
    MedsegError
        Offline, unknown name, or a download that did not give a bundle.
    """
    if not _online():
        raise MedsegError(
            f"cannot reach the MONAI model zoo to fetch {name!r} (offline?); "
            "copy a bundle folder here instead and pass its path to --model"
        )
    from monai.bundle import download

    target = models_dir()
    target.mkdir(parents=True, exist_ok=True)
    try:
        download(name=name, version=version, bundle_dir=str(target), progress=False)
    except Exception as exc:  # requests/HTTP/zip errors: one line for the user
        raise MedsegError(
            f"could not fetch {name!r} from the MONAI model zoo ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]})"
        ) from None
    root = target / name
    if not is_bundle(root):
        raise MedsegError(f"the download of {name!r} did not leave a bundle in {root}")
    return root
