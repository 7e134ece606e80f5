"""Which MONAI bundles may run: a bundle's config is code, so the user decides once.

A bundle's ``configs/*.json|yaml`` run Python (``$`` expressions are ``eval``-ed and
``_target_`` names any callable, so a config can import the bundle's ``scripts/*.py``)
and ``models/model.ts`` is TorchScript. The bundles we ship are trusted; any other bundle
runs only after the user trusted it (GUI dialog, CLI ``--trust-bundle``). The decision is
remembered by a SHA-256 over *every* file of the bundle folder, so any edited config,
script or data file asks again. Left out: the weights ``models/model.pt`` (loaded with
``torch.load(weights_only=True)``, which runs no code, and large) and Python's
``__pycache__`` folders (written by Python itself when a trusted script is imported).

The record is a small JSON file in the user's config folder (``platformdirs``), or in
``$MEDSEG_CONFIG_DIR`` when set.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from ...errors import MedsegError
from ..registry import SHIPPED_BUNDLES

#: Files of a bundle outside the hash, relative to its root: weights read with ``weights_only=True``.
UNHASHED_FILES = ("models/model.pt",)


class UntrustedBundleError(MedsegError):
    """A user bundle that has not been trusted yet; the message says how to trust it."""

    def __init__(self, root: Path, digest: str):
        super().__init__(
            f"{root}: this MONAI bundle runs Python code from its configs and has not been trusted yet; "
            "review configs/ and run again with --trust-bundle (in napari: confirm the dialog)"
        )
        self.root = root
        self.digest = digest


def config_dir() -> Path:
    """Folder for napari-medseg's user settings."""
    env = os.environ.get("MEDSEG_CONFIG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("napari-medseg", appauthor=False))


def _record_path() -> Path:
    return config_dir() / "trusted_bundles.json"


def hashed_files(root: str | Path) -> list[Path]:
    """The files the trust hash covers: all of the bundle folder but :data:`UNHASHED_FILES` and caches."""
    root = Path(root)
    files = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if "__pycache__" in rel.parts or rel.as_posix() in UNHASHED_FILES or not p.is_file():
            continue
        files.append(p)
    return sorted(files)


def bundle_digest(root: str | Path) -> str:
    """SHA-256 over every file the bundle can run or import (:func:`hashed_files`), by relative path."""
    root = Path(root)
    h = hashlib.sha256()
    for p in hashed_files(root):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        file_hash = hashlib.sha256()
        with open(p, "rb") as fp:
            for block in iter(lambda: fp.read(1 << 20), b""):
                file_hash.update(block)
        h.update(file_hash.digest())
    return h.hexdigest()


def is_shipped(root: str | Path) -> bool:
    """True for the bundles that come with napari-medseg."""
    return Path(root).resolve().is_relative_to(SHIPPED_BUNDLES)


def _load_record() -> dict:
    try:
        return json.loads(_record_path().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def is_trusted(root: str | Path) -> bool:
    """Whether the bundle at ``root`` may run (shipped, or trusted by the user with this content)."""
    return is_shipped(root) or bundle_digest(root) in _load_record()


def trust(root: str | Path) -> str:
    """Remember that the user trusts the bundle at ``root`` as it is now; returns its digest."""
    from ...io.atomic import atomic_path

    root = Path(root).resolve()
    digest = bundle_digest(root)
    record = _load_record()
    record[digest] = {"path": str(root), "trusted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with atomic_path(_record_path()) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    return digest


def require_trust(root: str | Path, trust_now: bool = False) -> None:
    """Raise :class:`UntrustedBundleError` unless the bundle may run (``trust_now`` records it)."""
    root = Path(root)
    if trust_now and not is_trusted(root):
        trust(root)
    if not is_trusted(root):
        raise UntrustedBundleError(root, bundle_digest(root))
