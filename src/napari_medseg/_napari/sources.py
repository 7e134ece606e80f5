"""Where a layer's geometry comes from: the volumes our readers opened in this session.

Every volume a napari-medseg reader opens is registered here under a *source id*, which
goes into its layer's ``metadata["medseg"]["source_id"]`` and into every labels layer the
plugin makes on it (model results, structure sets, SEG, label maps). The writers save a
labels layer only on a grid proven this way (:func:`require_source`):

1. its source id names a registered volume and the layer still lies on that volume's grid;
2. without an id (napari's *New Labels*, ``viewer.add_labels(..., affine=image.affine)``),
   its grid (shape + voxel -> mm) is that of registered volumes that all write the same
   file (one source, or same-grid copies with the same voxel order; for DICOM outputs,
   one DICOM series), preferring DICOM series for DICOM outputs, then images still open
   in the viewer, then images over label maps;

napari's *Layers > New Labels* copies the selected image's transform but not its metadata:
:func:`follow_new_labels` gives such a layer the source id of the image it was made from
(started by our reader for its viewer), so case 1 applies to it too;

anything else (a layer from another reader, or with a hand-made scale/translate/affine)
is refused with a message saying how to fix it; nothing is ever written on a guessed
geometry or on "the most recently opened grid". Only the geometry is kept (a
zero-stride placeholder array), never the voxel data.
"""

from __future__ import annotations

import itertools
import weakref
from pathlib import Path

import numpy as np

from ..errors import MedsegError
from ..volume import Volume

_SOURCES: dict[str, Volume] = {}
_FOLLOWED: weakref.WeakSet = weakref.WeakSet()  # viewers whose New Labels inherit their image's source
_MAX_SOURCES = 256
_IDS = itertools.count(1)
#: Volume metadata that says where a grid came from and what writers need from it.
_KEPT = (
    "path",
    "series_uid",
    "series_id",
    "part",
    "modality",
    "description",
    "format",
    "labels",
    "dicom_slices",
    "nifti_codes",
)
#: How to put labels on a provable grid, for every refusal.
HOW_TO_FIX = (
    "draw the labels on an image opened with napari-medseg (File > Open, or "
    "viewer.open(path, plugin='napari-medseg')): select that image and use Layers > New Labels, "
    "or create them from its Segment/SAM widget"
)


def remember(volume: Volume) -> str:
    """Register ``volume`` (read by one of our readers) as a source; its source id.

    The id is also stored in ``volume.meta["source_id"]`` so layers made from the volume
    carry it. Reopening the same file or series on the same grid gives the same id.
    """
    geometry = Volume(
        np.broadcast_to(np.zeros((), dtype=np.uint8), volume.shape),
        volume.affine.copy(),
        volume.file_order,
        {k: v for k, v in volume.meta.items() if k in _KEPT},
    )
    same = next((sid for sid, v in _SOURCES.items() if _same_source(v, geometry)), None)
    source_id = same or f"medseg-{next(_IDS)}"
    _SOURCES.pop(source_id, None)
    _SOURCES[source_id] = geometry
    while len(_SOURCES) > _MAX_SOURCES:
        _SOURCES.pop(next(iter(_SOURCES)))
    volume.meta["source_id"] = source_id
    geometry.meta["source_id"] = source_id
    return source_id


def follow_new_labels(viewer) -> None:
    """Labels layers added to ``viewer`` without a source id inherit that of the image they copy.

    A new Labels layer whose grid (shape and world transform) is that of the selected image
    layer at the moment it is added, the way *Layers > New Labels* makes it, gets that
    image's ``source_id``. Idempotent; None is ignored.
    """
    if viewer is None or viewer in _FOLLOWED:
        return
    _FOLLOWED.add(viewer)
    ref = weakref.ref(viewer)
    viewer.layers.events.inserted.connect(lambda event: _inherit(ref(), event.value))


def _inherit(viewer, layer) -> None:
    from napari.layers import Image, Labels

    from .layers import layer_grid, world_affine_from_state

    base = viewer.layers.selection.active if viewer is not None else None
    if not isinstance(layer, Labels) or not isinstance(base, Image) or base is layer or layer.ndim != 3:
        return
    medseg = layer.metadata.get("medseg") or {}
    source_id = (base.metadata.get("medseg") or {}).get("source_id")
    if medseg.get("source_id") or not source_id or tuple(base.data.shape[: base.ndim]) != tuple(layer.data.shape):
        return
    if np.allclose(world_affine_from_state(layer_grid(base)), world_affine_from_state(layer_grid(layer)), atol=1e-6):
        layer.metadata = {**layer.metadata, "medseg": {**medseg, "source_id": source_id}}


def _same_source(a: Volume, b: Volume) -> bool:
    keys = ("path", "series_id", "series_uid", "labels")
    return (
        all(a.meta.get(k) == b.meta.get(k) for k in keys) and a.file_order == b.file_order and a.same_grid(b, atol=1e-6)
    )


def _on_grid(volume: Volume, shape: tuple[int, ...], affine_lps: np.ndarray, atol: float) -> bool:
    return tuple(volume.shape) == tuple(shape) and np.allclose(volume.affine, affine_lps, atol=atol)


def get(source_id: str | None) -> Volume | None:
    """The registered source volume (geometry only) of ``source_id``, or None."""
    return _SOURCES.get(source_id) if source_id else None


def on_grid(shape: tuple[int, ...], affine_lps: np.ndarray, atol: float = 1e-4) -> list[Volume]:
    """Every registered source on this grid (shape, and voxel -> LPS mm within ``atol``), oldest first."""
    return [v for v in _SOURCES.values() if _on_grid(v, shape, affine_lps, atol)]


def find(
    shape: tuple[int, ...],
    affine_lps: np.ndarray,
    metadata: dict | None = None,
    open_ids: set[str] | None = None,
    atol: float = 1e-4,
) -> Volume | None:
    """The source a layer lies on: the one its ``source_id`` names, else the only one on its grid.

    ``metadata`` is the layer's ``metadata["medseg"]``. None when the id names no
    registered source, the layer left that source's grid, or several sources that would
    write different files share the grid (see :func:`require_source` for the reasons
    and ``open_ids``).
    """
    try:
        return require_source(shape, affine_lps, metadata, open_ids=open_ids, atol=atol)
    except MedsegError:
        return None


def require_source(
    shape: tuple[int, ...],
    affine_lps: np.ndarray,
    metadata: dict | None,
    *,
    dicom: bool = False,
    open_ids: set[str] | None = None,
    name: str = "labels",
    atol: float = 1e-4,
) -> Volume:
    """The registered source volume a labels layer was drawn on, proven by id or grid.

    Parameters
    ----------
    shape : tuple of int
        The layer's array shape, (z, y, x) as napari holds it.
    affine_lps : (4, 4) ndarray
        The layer's array index -> patient LPS mm, from its napari transform.
    metadata : dict or None
        The layer's ``metadata["medseg"]`` (``source_id`` when the plugin made the layer).
    dicom : bool
        The output refers to a DICOM series (RT structure set, SEG): among same-grid
        sources, the DICOM series is the one meant.
    open_ids : set of str, optional
        Source ids of the layers open in the viewer: among same-grid sources, those
        still open are meant (one closed long ago is not).
    name : str
        The layer's name, for messages.

    Raises
    ------
    MedsegError
        With what is wrong and how to fix it: no source of ours under the layer, a layer
        moved off its source's grid, a source no longer known, or a grid shared by
        several sources that would write different files.
    """
    metadata = metadata or {}
    source_id = metadata.get("source_id")
    if source_id:
        source = get(source_id)
        if source is None:
            raise MedsegError(
                f"{name!r} was drawn on an image that is no longer known in this session; reopen "
                f"{metadata.get('source') or 'its image'} with napari-medseg and {HOW_TO_FIX}"
            )
        if not _on_grid(source, shape, affine_lps, atol):
            raise MedsegError(
                f"{name!r} no longer lies on the grid of the image it was drawn on "
                f"({_label(source)}: {source.describe_grid()}); its shape or scale/translate/affine was changed. "
                "Undo that change (Layer > Transform) or draw the labels again on the image"
            )
        return source
    candidates = on_grid(shape, affine_lps, atol)
    for preferred in (
        lambda v: not dicom or v.meta.get("format") == "dicom",  # a DICOM output refers to the DICOM series
        lambda v: open_ids is None or v.meta["source_id"] in open_ids,  # images still open in the viewer
        lambda v: not v.meta.get("labels"),  # images before label maps saved on their grid
    ):
        candidates = [v for v in candidates if preferred(v)] or candidates
    if not candidates:
        raise MedsegError(
            f"{name!r} lies on no image opened with napari-medseg (no provenance, and its shape and "
            "scale/translate/affine match none of them), so where its voxels are in the patient cannot be "
            f"proven; {HOW_TO_FIX}"
        )
    writes = {_writes(v, dicom) for v in candidates}
    if len(writes) > 1:
        raise MedsegError(
            f"{name!r} lies on the grid of several opened images ({', '.join(_label(v) for v in candidates)}) "
            "that would be written differently; close the ones it was not drawn on, or create the labels from "
            "the right image (select it, then Layers > New Labels, or its Segment/SAM widget)"
        )
    return candidates[-1]


def _writes(volume: Volume, dicom: bool) -> tuple:
    """What of a source changes a written file: the series for DICOM outputs, else voxel order and NIfTI codes."""
    if dicom:
        return (volume.meta.get("series_uid"), volume.meta.get("series_id"))
    codes = volume.meta.get("nifti_codes")
    return (volume.file_order, tuple(codes) if codes else None)


def _label(volume: Volume) -> str:
    path = volume.meta.get("path")
    return Path(path).name if path else volume.meta.get("description") or "an image"


def is_source_image(path) -> bool:
    """True when ``path`` is an image (not a label map) opened in this session."""
    target = Path(path).resolve()
    return any(
        not v.meta.get("labels") and v.meta.get("path") and Path(v.meta["path"]).resolve() == target
        for v in _SOURCES.values()
    )
