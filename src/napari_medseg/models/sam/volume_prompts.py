"""Box and point prompts given in a volume's array indices, turned into slice prompts.

``segment_box_3d`` is the one call the CLI and the demo make: a 3D box (and optional
clicks) on a :class:`~napari_medseg.volume.Volume` -> a uint8 mask on the same grid.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...errors import MedsegError
from ..devices import resolve_device
from .embedding_cache import EmbeddingCache
from .networks import build_network
from .onnx_backend import onnx_models
from .predictor import SamPredictor
from .propagation import Extent, SlicePrompt
from .session import SamSession

__all__ = ["load_predictor", "prompts_from_box", "segment_box_3d"]


@functools.lru_cache(maxsize=2)
def _cached_predictor(sam_type: str, checkpoint: str | None, device: str, cache_dir: str | None,
                      backend: str) -> SamPredictor:
    network = build_network(sam_type, checkpoint, device)
    onnx = onnx_models(network) if backend in ("auto", "onnx") else None
    if backend == "onnx" and onnx is None:
        raise MedsegError("the ONNX Runtime backend needs LiteMedSAM on the CPU and the packages onnx and onnxruntime")
    encoder, box_decoder = onnx if onnx is not None else (None, None)
    return SamPredictor(network, EmbeddingCache(max_items=96, directory=cache_dir), encoder=encoder,
                        box_decoder=box_decoder)


def load_predictor(sam_type: str = "litemedsam", checkpoint: str | Path | None = None, device: str = "auto",
                   cache_dir: str | Path | None = None, backend: str = "auto") -> SamPredictor:
    """A predictor for a SAM-family checkpoint, built once per (type, file, device, cache folder, backend).

    ``backend``: ``"auto"`` runs LiteMedSAM's encoder through ONNX Runtime on the CPU when it
    is installed (same embeddings, about 3x faster; box prompts also decode there), ``"torch"`` always PyTorch,
    ``"onnx"`` requires ONNX Runtime. ``cache_dir``: also keep embeddings on disk there.
    """
    if backend not in ("auto", "torch", "onnx"):
        raise MedsegError(f"unknown backend {backend!r}; use auto, torch or onnx")
    return _cached_predictor(sam_type, None if checkpoint is None else str(Path(checkpoint).resolve()),
                             str(resolve_device(device)), None if cache_dir is None else str(cache_dir), backend)


def prompts_from_box(shape: tuple[int, int, int], box, slice_axis: int = 0, points=None
                     ) -> tuple[list[SlicePrompt], Extent]:
    """Slice prompts and extent for a box (and clicks) in array indices.

    Parameters
    ----------
    shape : (3,) ints
        The volume's array shape.
    box : (6,) ints or None
        ``(a0, a1, a2, b0, b1, b2)``: opposite corners, inclusive array indices (any order).
        The middle slice along ``slice_axis`` is prompted with the box's in-plane
        rectangle; the box's range along ``slice_axis`` is the propagation extent.
    slice_axis : int
        Array axis that slices are taken along.
    points : (N, 4) array-like, optional
        ``(i0, i1, i2, label)`` clicks in array indices, label 1 inside / 0 outside. A
        clicked slice other than the box's middle one becomes a prompted slice of its own.
    """
    rows_axis, cols_axis = [a for a in range(3) if a != slice_axis]
    points = np.zeros((0, 4)) if points is None else np.asarray(points, float).reshape(-1, 4)
    if box is not None:
        corners = np.asarray(box, float).reshape(2, 3)
        low, high = np.rint(corners.min(0)).astype(int), np.rint(corners.max(0)).astype(int)
        if np.any(low < 0) or np.any(high >= np.asarray(shape)):
            raise MedsegError(f"box {tuple(int(v) for v in np.ravel(box))} reaches outside the volume "
                              f"(array shape {tuple(shape)})")
        rect = (low[cols_axis], low[rows_axis], high[cols_axis], high[rows_axis])
        extent = Extent(int(low[slice_axis]), int(high[slice_axis]), tuple(int(v) for v in rect))
        seeds = {(extent.first + extent.last) // 2: SlicePrompt((extent.first + extent.last) // 2, rect)}
    elif len(points):
        extent, seeds = Extent(0, shape[slice_axis] - 1), {}
    else:
        raise MedsegError("give a box or at least one point")
    for p in points:
        index = int(round(p[slice_axis]))
        if not extent.first <= index <= extent.last:
            raise MedsegError(f"point {tuple(int(v) for v in p[:3])} lies outside the box's slices "
                              f"{extent.first}..{extent.last}")
        seed = seeds.setdefault(index, SlicePrompt(index))
        seed.points = np.vstack([seed.points, [[p[cols_axis], p[rows_axis]]]])
        seed.labels = np.append(seed.labels, int(p[3] > 0))
    return list(seeds.values()), extent


def segment_box_3d(volume, box, *, slice_axis: int = 0, points=None, model: str = "litemedsam",
                   checkpoint: str | Path | None = None, window: str | None = None, modality: str | None = None,
                   device: str = "auto", progress=None, cancel=None) -> np.ndarray:
    """Segment one structure of a volume from a 3D box (and clicks) with a SAM-family model.

    Parameters
    ----------
    volume : Volume
        The image; its ``array`` is (Z, Y, X) in HU for CT.
    box : (6,) ints or None
        ``(a0, a1, a2, b0, b1, b2)``, inclusive array indices of opposite corners. A box one
        slice thick along ``slice_axis`` segments that slice; otherwise its middle slice is
        prompted and the mask propagates through the box's slices, cut to its rectangle.
        None: only the clicked slices are segmented, each from its clicks.
    slice_axis : int
        Array axis slices are taken along (0: axial for a volume in the package's order).
    points : (N, 4) array-like, optional
        ``(i0, i1, i2, label)`` clicks in array indices; label 1 inside, 0 outside.
    model : str
        SAM type (``"litemedsam"``, ``"medsam"``, ``"vit_b"``, ``"vit_l"``, ``"vit_h"``).
    checkpoint : path, optional
        Weights; LiteMedSAM's shipped checkpoint by default.
    window, modality : str, optional
        Intensity mapping (CT window preset or ``"L,W"``; ``"CT"``/``"MR"``); auto-detected by default.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    progress : callable, optional
        ``progress(done, total)`` per slice.
    cancel : callable, optional
        Returning True stops the run (raises ``PropagationCancelled``).

    Returns
    -------
    (Z, Y, X) uint8
        1 inside the structure, on the volume's grid.
    """
    prompts, extent = prompts_from_box(volume.shape, box, slice_axis, points)
    session = SamSession(load_predictor(model, checkpoint, device), volume.array, window, modality)
    if box is not None and extent.first != extent.last:
        return session.propagate(slice_axis, prompts, extent, progress=progress, cancel=cancel).astype(np.uint8)
    out = np.zeros(volume.shape, np.uint8)
    for done, prompt in enumerate(prompts, start=1):  # one slice, or clicked slices without a box
        np.moveaxis(out, slice_axis, 0)[prompt.index] = extent.clip(session.segment_slice(slice_axis, prompt))
        if progress is not None:
            progress(done, len(prompts))
    return out
