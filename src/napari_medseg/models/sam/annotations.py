"""Prompts drawn on a volume (box corners, clicks in array coordinates) -> slice prompts,
and masks -> the label-map edit that writes them. Plain numpy: the napari widget feeds
its Shapes / Points layer data (which share the image's data coordinates) through here.
"""
from __future__ import annotations

import numpy as np

from .propagation import SlicePrompt

__all__ = ["label_edit", "slice_prompts", "slice_view_axes"]


def slice_view_axes(slice_axis: int, displayed: tuple[int, int] | None = None) -> tuple[int, int, bool]:
    """(rows axis, columns axis, transpose) of slices along ``slice_axis``.

    ``displayed`` is the viewer's two displayed axes in screen order (rows, columns); by
    default the remaining axes in increasing order. ``transpose`` is True when rows are the
    larger axis (see ``SamSession.stack``).
    """
    rows, cols = displayed if displayed is not None else [a for a in range(3) if a != slice_axis]
    return rows, cols, rows > cols


def slice_prompts(slice_axis: int, boxes=(), points=None, positive=None,
                  displayed: tuple[int, int] | None = None) -> dict[int, SlicePrompt]:
    """Group drawn prompts by the slice they lie on.

    Parameters
    ----------
    slice_axis : int
        Array axis the slices are taken along.
    boxes : sequence of (V, 3) arrays
        Vertices of drawn rectangles in array (data) coordinates; each must lie in one slice.
        Several boxes on one slice: the last one counts.
    points : (N, 3) array, optional
        Clicks in array coordinates.
    positive : (N,) bool array, optional
        True for inside clicks; all True by default.
    displayed : (2,) ints, optional
        See :func:`slice_view_axes`.

    Returns
    -------
    dict
        Slice index -> :class:`SlicePrompt` with the box ``(x0, y0, x1, y1)`` and clicks
        ``(x, y)`` in the slice's (rows, columns) pixels.
    """
    rows, cols, _ = slice_view_axes(slice_axis, displayed)
    out: dict[int, SlicePrompt] = {}
    for vertices in boxes:
        v = np.asarray(vertices, float)
        index = int(round(float(np.median(v[:, slice_axis]))))
        x0, x1 = v[:, cols].min(), v[:, cols].max()
        y0, y1 = v[:, rows].min(), v[:, rows].max()
        out.setdefault(index, SlicePrompt(index)).box = (x0, y0, x1, y1)
    if points is not None and len(points):
        points = np.asarray(points, float).reshape(-1, 3)
        positive = np.ones(len(points), bool) if positive is None else np.asarray(positive, bool)
        for p, inside in zip(points, positive):
            index = int(round(p[slice_axis]))
            prompt = out.setdefault(index, SlicePrompt(index))
            prompt.points = np.vstack([prompt.points, [[p[cols], p[rows]]]])
            prompt.labels = np.append(prompt.labels, int(inside))
    return out


def label_edit(labels: np.ndarray, mask: np.ndarray, value: int, overwrite: bool = False
               ) -> tuple[np.ndarray, ...]:
    """Indices of ``labels`` that writing ``value`` inside ``mask`` changes.

    ``labels`` and ``mask`` share a shape (any ndim). Voxels holding another non-zero label
    are left alone unless ``overwrite``. Returns a tuple of index arrays (``np.nonzero``
    style), ready for napari's ``Labels.data_setitem(indices, value)``.
    """
    target = mask & (labels != value)
    if not overwrite:
        target &= labels == 0
    return np.nonzero(target)
