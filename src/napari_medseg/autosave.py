"""Recovery snapshots of label maps being corrected, so that a crash or a closed window loses nothing.

A snapshot is a label map written on its source image's grid (``.nii.gz``, the source's
voxel order and affine, as :func:`napari_medseg.io.write_labels` writes it) with a JSON
sidecar: the layer's name, its label names, the source image's path and when it was
saved. One snapshot is kept per image and layer name (the latest); snapshots older than
:data:`KEEP_DAYS` days are removed when autosaving starts. The napari side
(:mod:`napari_medseg._napari.autosave`) decides when to save and offers to restore.

Snapshots live in ``$NAPARI_MEDSEG_AUTOSAVE``, else the user's data folder
(``platformdirs``), never beside the patient's files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io.atomic import atomic_path
from .volume import Volume

__all__ = [
    "KEEP_DAYS",
    "Snapshot",
    "autosave_dir",
    "discard",
    "image_key",
    "list_snapshots",
    "load_snapshot",
    "prune",
    "save_snapshot",
]

KEEP_DAYS = 14


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One saved label map.

    Attributes
    ----------
    path : Path, the ``.nii.gz`` label map (on the source image's grid).
    layer : str, the napari layer's name when it was saved.
    source : str, the source image's path ("" when it had none).
    key : str, :func:`image_key` of the source image.
    saved_at : float, seconds since the epoch.
    label_names : dict int -> str
    """

    path: Path
    layer: str
    source: str
    key: str
    saved_at: float
    label_names: dict

    def describe(self) -> str:
        """One line for people: layer, image and time."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        return f"{self.layer} ({Path(self.source).name or 'unsaved image'}, {when})"


def autosave_dir() -> Path:
    """``$NAPARI_MEDSEG_AUTOSAVE``, else ``<user data folder>/napari-medseg/autosave``."""
    if os.environ.get("NAPARI_MEDSEG_AUTOSAVE"):
        return Path(os.environ["NAPARI_MEDSEG_AUTOSAVE"])
    import platformdirs

    return Path(platformdirs.user_data_dir("napari-medseg", appauthor=False)) / "autosave"


def image_key(volume: Volume) -> str:
    """Identifies an image by its source path and grid (shape and affine to 1 um)."""
    text = json.dumps([str(volume.meta.get("path", "")), list(volume.shape), np.round(volume.affine, 3).tolist()])
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:60] or "labels"


def save_snapshot(
    labels: np.ndarray,
    volume: Volume,
    layer: str,
    label_names: dict[int, str] | None = None,
    folder: Path | None = None,
) -> Snapshot:
    """Write (or replace) the snapshot of ``labels`` for this image and layer name, atomically."""
    from .io import write_labels

    folder = Path(folder or autosave_dir())
    key = image_key(volume)
    path = folder / f"{key}-{_slug(layer)}.nii.gz"
    write_labels(path, labels, volume)
    snapshot = Snapshot(
        path,
        layer,
        str(volume.meta.get("path", "")),
        key,
        time.time(),
        {int(k): str(v) for k, v in (label_names or {}).items()},
    )
    sidecar = {
        "layer": layer,
        "source": snapshot.source,
        "key": key,
        "saved_at": snapshot.saved_at,
        "label_names": {str(k): v for k, v in snapshot.label_names.items()},
    }
    with atomic_path(_sidecar(path)) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    return snapshot


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name[: -len(".nii.gz")] + ".json")


def list_snapshots(volume: Volume | None = None, folder: Path | None = None) -> list[Snapshot]:
    """Snapshots, newest first; only those of ``volume``'s image when given."""
    folder = Path(folder or autosave_dir())
    found = []
    for sidecar in folder.glob("*.json") if folder.is_dir() else []:
        image = sidecar.with_name(sidecar.stem + ".nii.gz")
        try:
            info = json.loads(sidecar.read_text(encoding="utf-8"))
            snapshot = Snapshot(
                image,
                str(info["layer"]),
                str(info["source"]),
                str(info["key"]),
                float(info["saved_at"]),
                {int(k): str(v) for k, v in info["label_names"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a sidecar being written or from another version: not a snapshot we can offer
        if image.exists() and (volume is None or snapshot.key == image_key(volume)):
            found.append(snapshot)
    return sorted(found, key=lambda s: -s.saved_at)


def load_snapshot(snapshot: Snapshot) -> Volume:
    """The snapshot's label map, on its source image's grid."""
    from .io import read_volume

    return read_volume(snapshot.path)


def discard(snapshot: Snapshot) -> None:
    """Remove a snapshot (its label map and sidecar)."""
    for path in (snapshot.path, _sidecar(snapshot.path)):
        path.unlink(missing_ok=True)


def prune(max_age_days: float = KEEP_DAYS, folder: Path | None = None) -> int:
    """Remove snapshots older than ``max_age_days``; returns how many."""
    cutoff = time.time() - max_age_days * 86400
    old = [s for s in list_snapshots(folder=folder) if s.saved_at < cutoff]
    for snapshot in old:
        discard(snapshot)
    return len(old)
