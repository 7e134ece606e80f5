"""Box and point prompts given in a volume's array indices, turned into slice prompts.

``segment_box_3d`` is the one call the CLI and the demo make: a 3D box and/or clicks (and
optionally an existing label map to correct) on a :class:`~napari_medseg.volume.Volume` ->
a label map on the same grid.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...errors import MedsegError
from ..devices import resolve_device
from .embedding_cache import EmbeddingCache
from .interactive import InteractiveSession
from .networks import build_network
from .onnx_backend import onnx_models
from .predictor import SamPredictor
from .propagation import Extent

__all__ = ["box_prompt", "load_predictor", "segment_box_3d"]


@functools.lru_cache(maxsize=2)
def _cached_predictor(
    sam_type: str, checkpoint: str | None, device: str, cache_dir: str | None, backend: str
) -> SamPredictor:
    network = build_network(sam_type, checkpoint, device)
    onnx = onnx_models(network) if backend in ("auto", "onnx") else None
    if backend == "onnx" and onnx is None:
        raise MedsegError("the ONNX Runtime backend needs LiteMedSAM on the CPU and the packages onnx and onnxruntime")
    encoder, box_decoder = onnx if onnx is not None else (None, None)
    return SamPredictor(
        network, EmbeddingCache(max_items=48, directory=cache_dir), encoder=encoder, box_decoder=box_decoder
    )


def load_predictor(
    sam_type: str = "litemedsam",
    checkpoint: str | Path | None = None,
    device: str = "auto",
    cache_dir: str | Path | None = None,
    backend: str = "auto",
    adapter: str | Path | None = None,
) -> SamPredictor:
    """A predictor for a SAM-family checkpoint, built once per (type, file, device, cache folder, backend).

    ``backend``: ``"auto"`` runs LiteMedSAM's encoder through ONNX Runtime on the CPU when it
    is installed (same embeddings, about 3x faster; box prompts also decode there), ``"torch"`` always PyTorch,
    ``"onnx"`` requires ONNX Runtime. ``cache_dir``: also keep embeddings on disk there.
    ``adapter``: an adapter folder (:mod:`.adapter_store`) trained on this model: its decoder
    replaces the base's (the base predictor stays cached and unchanged).
    """
    if backend not in ("auto", "torch", "onnx"):
        raise MedsegError(f"unknown backend {backend!r}; use auto, torch or onnx")
    base = _cached_predictor(
        sam_type,
        None if checkpoint is None else str(Path(checkpoint).resolve()),
        str(resolve_device(device)),
        None if cache_dir is None else str(cache_dir),
        backend,
    )
    if adapter is None:
        return base
    from .adapter import adapted_predictor
    from .adapter_store import load_adapter

    return adapted_predictor(base, load_adapter(adapter, base.network.model_id.split(":")[-1]))


def box_prompt(shape: tuple[int, int, int], box, slice_axis: int = 0) -> tuple[int, tuple, Extent]:
    """The prompted slice, its in-plane rectangle and the propagation extent of a 3D box.

    Parameters
    ----------
    shape : (3,) ints
        The volume's array shape.
    box : (6,) ints
        ``(a0, a1, a2, b0, b1, b2)``: opposite corners, inclusive array indices (any order).
    slice_axis : int
        Array axis that slices are taken along.

    Returns
    -------
    index : int
        The box's middle slice along ``slice_axis``.
    rect : (x0, y0, x1, y1)
        The box's rectangle in that slice (x along the larger of the two other axes).
    extent : Extent
        The box's slices along ``slice_axis``, cut to the rectangle.
    """
    rows_axis, cols_axis = [a for a in range(3) if a != slice_axis]
    corners = np.asarray(box, float).reshape(2, 3)
    if not np.all(np.isfinite(corners)):
        raise MedsegError(f"box {tuple(np.ravel(box))} has a value that is not a number")
    low, high = np.rint(corners.min(0)).astype(int), np.rint(corners.max(0)).astype(int)
    if np.any(low < 0) or np.any(high >= np.asarray(shape)):
        raise MedsegError(
            f"box {tuple(int(v) for v in np.ravel(box))} reaches outside the volume (array shape {tuple(shape)})"
        )
    rect = (int(low[cols_axis]), int(low[rows_axis]), int(high[cols_axis]), int(high[rows_axis]))
    extent = Extent(int(low[slice_axis]), int(high[slice_axis]), rect)
    return (extent.first + extent.last) // 2, rect, extent


def segment_box_3d(
    volume,
    box=None,
    *,
    slice_axis: int = 0,
    points=None,
    labels=None,
    label: int = 1,
    model: str = "litemedsam",
    checkpoint: str | Path | None = None,
    window: str | None = None,
    modality: str | None = None,
    device: str = "auto",
    progress=None,
    cancel=None,
    adapter: str | Path | None = None,
) -> np.ndarray:
    """Segment or correct one structure of a volume from a 3D box and/or clicks with a SAM-family model.

    Parameters
    ----------
    volume : Volume
        The image; its ``array`` is (Z, Y, X) in HU for CT.
    box : (6,) ints, optional
        ``(a0, a1, a2, b0, b1, b2)``, inclusive array indices of opposite corners. A box one
        slice thick along ``slice_axis`` segments that slice; otherwise its middle slice is
        prompted and the mask propagates through the box's slices, cut to its rectangle,
        stopping where the structure ends.
    slice_axis : int
        Array axis slices are taken along (0: axial for a volume in the package's order).
    points : (N, 4) array-like, optional
        ``(i0, i1, i2, label)`` clicks in array indices, label 1 inside, 0 outside, applied in
        order after the box as corrections (:class:`~.interactive.InteractiveSession`): an
        inside click adds the region it points into, an outside click removes it, and the
        change is carried to the neighbouring slices. A click alone segments the object
        under it and carries it through the slices the object spans.
    labels : (Z, Y, X) int array, optional
        An existing label map on the volume's grid (e.g. a propagated result): the prompts
        correct its label ``label``; other labels are kept.
    label : int
        The label value written (and corrected, with ``labels``).
    model, checkpoint, window, modality, device
        As for :func:`load_predictor` and :func:`~.intensity.choose_mapping`.
    progress : callable, optional
        ``progress(done, total)`` per propagated slice.
    cancel : callable, optional
        Returning True stops the run (raises ``PropagationCancelled``).
    adapter : path, optional
        An adapter folder made for this structure (``medseg adapt``); its label must be ``label``.

    Returns
    -------
    (Z, Y, X) array
        ``labels`` corrected (its dtype), or a uint8 map with ``label`` inside the structure.
    """
    points = np.zeros((0, 4)) if points is None else np.asarray(points, float).reshape(-1, 4)
    if box is None and not len(points):
        raise MedsegError("give a box or at least one point")
    if not np.all(np.isfinite(points)):
        raise MedsegError("a point has a value that is not a number")
    if np.any(points[:, :3] < -0.5) or np.any(points[:, :3] > np.asarray(volume.shape) - 0.5):
        raise MedsegError(f"a point lies outside the volume (array shape {tuple(volume.shape)})")
    if labels is not None and tuple(np.shape(labels)) != tuple(volume.shape):
        raise MedsegError(
            f"the label map's shape {tuple(np.shape(labels))} differs from the image's "
            f"{tuple(volume.shape)}; give labels on the image's grid"
        )
    if adapter is not None:
        from .adapter_store import read_card

        learned = int(read_card(adapter)["label"])
        if learned != label:
            raise MedsegError(
                f"{adapter}: this adapter learned label {learned}, not {label}; an adapter is used "
                f"only for the structure it learned (pass --label {learned})"
            )
    session = InteractiveSession(
        load_predictor(model, checkpoint, device, adapter=adapter), volume.array, window, modality
    )
    session.set_target(labels, label)
    if box is not None:
        index, rect, extent = box_prompt(volume.shape, box, slice_axis)
        session.add_box(
            slice_axis,
            index,
            rect,
            propagate=extent.first != extent.last,
            extent=extent,
            progress=progress,
            cancel=cancel,
        )
    rows_axis, cols_axis = [a for a in range(3) if a != slice_axis]
    for p in points:
        session.add_click(slice_axis, int(round(p[slice_axis])), p[cols_axis], p[rows_axis], bool(p[3] > 0))
    out = np.zeros(volume.shape, np.uint8) if labels is None else np.array(labels, copy=True)
    indices, values = session.label_edit(out, label, overwrite=labels is None)
    out[indices] = values
    return out
