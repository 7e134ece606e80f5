"""One interactive segmentation session: a volume, one structure, boxes / clicks / strokes in 3D.

The shape follows nnInteractive's inference session: set the image, set the target
(the structure's current voxels, e.g. from a labels layer), add interactions (box, click,
stroke), each *include* or *exclude*, on any slice of any of the three array axes, and
get back the region that changed. The session holds the structure as a (Z, Y, X) bool
``mask``; :meth:`InteractiveSession.label_edit` turns it into the voxel writes for a
label map (one undo step in napari). Nothing here imports napari.

* A **box** segments its slice and propagates along the slice axis (:meth:`propagate`).
* A **click** corrects its slice (``corrections.apply_click``; a click alone segments the
  object under it), then the change is carried to the neighbouring slices until it dies
  out (:meth:`_carry`), never past a slice the user prompted.
* A **stroke** (brush, include or exclude) sets its pixels directly, then is carried the
  same way.

Slices along ``axis`` are (rows, columns) = the two other array axes in increasing order;
``(x, y)`` = (column, row) in those slice pixels, as everywhere in ``models.sam``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..input_checks import require_finite
from .corrections import Click, apply_click, component_at
from .predictor import SamPredictor
from .propagation import (
    Extent,
    default_margin,
    drive,
    intensity_profile,
    mask_box,
    propagate_masks_steps,
    structure_ends,
)
from .session import SamSession

__all__ = ["Change", "InteractiveSession"]

#: Carrying a correction to the next slice stops once that slice changes less than this (1 - Dice).
_SETTLED = 0.02


@dataclass(frozen=True)
class Change:
    """Where the last interaction changed the structure: slices ``first..last`` along ``axis``."""

    axis: int
    first: int
    last: int

    @property
    def empty(self) -> bool:
        return self.last < self.first

    def region(self) -> tuple[slice, slice, slice]:
        """Index of the changed slab of the volume."""
        every, slab = slice(None), slice(self.first, self.last + 1)
        return (slab if self.axis == 0 else every, slab if self.axis == 1 else every, slab if self.axis == 2 else every)


@dataclass
class _SliceState:
    """What the user gave on one slice: a box and the clicks since."""

    box: tuple[float, float, float, float] | None = None
    clicks: list[Click] = field(default_factory=list)


def _zone(changed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels within a quarter of the structure's equivalent radius (at least 2) of ``changed``."""
    radius = max(2.0, 0.25 * np.sqrt(max(int(mask.sum()), 1) / np.pi))
    return ndimage.distance_transform_edt(~changed) <= radius


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


class InteractiveSession:
    """Interactive segmentation of one structure of a (Z, Y, X) volume with a SAM-family model.

    Parameters
    ----------
    predictor : SamPredictor
    image : (Z, Y, X) ndarray
        Intensities (HU for CT), in the package's array order.
    window, modality : str, optional
        Intensity mapping, see :func:`~napari_medseg.models.sam.intensity.choose_mapping`.

    Attributes
    ----------
    mask : (Z, Y, X) bool
        The structure as it stands; updated in place by every interaction.
    touched : dict of int -> set of int
        Slice indices per axis that interactions have changed since :meth:`set_target`.
    """

    def __init__(
        self, predictor: SamPredictor, image: np.ndarray, window: str | None = None, modality: str | None = None
    ):
        require_finite(np.asarray(image))  # NaN voxels would become labels
        self.volume = SamSession(predictor, image, window, modality)
        self.predictor = predictor
        self.mask = np.zeros(self.volume.shape, bool)
        self.touched: dict[int, set[int]] = {0: set(), 1: set(), 2: set()}
        self._prompts: dict[tuple[int, int], _SliceState] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.volume.shape

    # ---- target -----------------------------------------------------------------------------
    def set_target(self, labels: np.ndarray | None = None, value: int = 1) -> None:
        """Start from the voxels of ``labels == value`` (or empty), forgetting earlier prompts."""
        if labels is not None and tuple(labels.shape) != self.shape:
            raise ValueError(f"labels of shape {tuple(labels.shape)} do not fit the image {self.shape}")
        self.mask = np.zeros(self.shape, bool) if labels is None else np.asarray(labels) == value
        self.reset()

    def reset(self) -> None:
        """Forget the prompts and the record of touched slices (the mask stays)."""
        self._prompts.clear()
        self.touched = {0: set(), 1: set(), 2: set()}

    def label_edit(
        self, labels: np.ndarray, value: int, overwrite: bool = False
    ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """Voxel writes that make ``labels`` hold the structure where this session changed it.

        Within the touched slices, voxels of the structure become ``value`` and voxels that
        held ``value`` but left the structure become 0 (so false positives go). Voxels of
        other labels are kept unless ``overwrite``.

        Returns
        -------
        indices : tuple of 3 int arrays
            ``np.nonzero`` style.
        values : (N,) array
            The new value of each indexed voxel (``labels.dtype``).
        """
        region = np.zeros(self.shape, bool)
        for axis, touched in self.touched.items():
            if touched:
                np.moveaxis(region, axis, 0)[sorted(touched)] = True
        labels = np.asarray(labels)
        add = region & self.mask & (labels != value)
        if not overwrite:
            add &= labels == 0
        remove = region & ~self.mask & (labels == value)
        change = add | remove
        indices = np.nonzero(change)
        values = np.where(add[indices], value, 0).astype(labels.dtype)
        return indices, values

    def set_predictor(self, predictor: SamPredictor) -> None:
        """Decode with ``predictor`` from now on (e.g. an adapter's); it must share this
        session's encoder, so cached embeddings stay valid (same ``network.model_id``)."""
        if predictor.network.model_id != self.predictor.network.model_id:
            raise ValueError("the new predictor has another encoder; start a new session for it")
        self.predictor = self.volume.predictor = predictor

    def add_slices(self, axis: int, indices) -> None:
        """Take the structure's current masks on these slices as given by the user: they
        seed :meth:`propagate` like prompted slices and are kept as they are."""
        for index in indices:
            self._prompts.setdefault((axis, int(index)), _SliceState())

    def prompted(self) -> set[tuple[int, int]]:
        """``(axis, index)`` of every slice the user prompted since the last reset."""
        return set(self._prompts)

    def is_embedded(self, axis: int, index: int) -> bool:
        """True when slice ``index`` along ``axis`` has its embedding cached (memory or disk)."""
        return self.predictor.is_cached(self.volume.key_function(axis)(index))

    def embed(self, axis: int, indices) -> None:
        """Compute and cache the embeddings of these slices along ``axis`` (for background work)."""
        self.volume.precompute(axis, indices)

    # ---- interactions -------------------------------------------------------------------------
    def add_box(
        self,
        axis: int,
        index: int,
        box,
        propagate: bool = False,
        extent: Extent | None = None,
        progress=None,
        cancel=None,
    ) -> Change:
        """Segment slice ``index`` along ``axis`` from ``box`` ``(x0, y0, x1, y1)``.

        The box replaces that slice's earlier prompts. ``propagate``: carry the result through
        the slices of ``extent`` (default the whole axis), stopping where the structure ends.
        """
        state = self._prompts.setdefault((axis, index), _SliceState())
        x0, y0, x1, y1 = (float(v) for v in box)
        state.box, state.clicks = (x0, y0, x1, y1), []
        masks, _ = self._decode(axis, index, [state.box])
        self._set_slice(axis, index, masks[0] if extent is None else extent.clip(masks[0]))
        if not propagate:
            return Change(axis, index, index)
        return self.propagate(axis, extent, progress=progress, cancel=cancel)

    def add_click(self, axis: int, index: int, x: float, y: float, include: bool = True, carry: bool = True) -> Change:
        """Correct slice ``index`` with a click at (x, y): include adds, exclude removes.

        A click on an empty slice segments the object under it. ``carry``: pass the change
        on to neighbouring slices until it dies out.
        """
        state = self._prompts.setdefault((axis, index), _SliceState())
        state.clicks.append((float(x), float(y), bool(include)))
        old = self._slice(axis, index).copy()
        new = self._continued(axis, index, x, y) if include and not old.any() else None
        if new is None:
            new = apply_click(lambda boxes: self._decode(axis, index, boxes), old, state.clicks)
        self._set_slice(axis, index, new)
        return self._carry(axis, index, old, new) if carry else Change(axis, index, index)

    def _continued(self, axis: int, index: int, x: float, y: float) -> np.ndarray | None:
        """The structure continued onto an empty slice from a neighbouring slice that holds it.

        The slice is prompted with the neighbour's mask box, as propagation would have done;
        the component under the click is kept. None when no neighbour holds the structure or
        the answer does not reach the click (then the click segments the object under it).
        """
        margin = default_margin(self._slice(axis, index).shape)
        for j in (index - 1, index + 1):
            if 0 <= j < self.shape[axis] and self._slice(axis, j).any():
                masks, _ = self._decode(axis, index, [mask_box(self._slice(axis, j), margin)])
                found = component_at(masks[0], x, y)
                if found.any():
                    return found
        return None

    def add_stroke(self, axis: int, index: int, stroke: np.ndarray, include: bool = True, carry: bool = True) -> Change:
        """Paint (include) or erase (exclude) the pixels of a (rows, cols) bool ``stroke`` on slice ``index``."""
        self._prompts.setdefault((axis, index), _SliceState())
        old = self._slice(axis, index).copy()
        new = (old | stroke) if include else (old & ~stroke)
        self._set_slice(axis, index, new)
        return self._carry(axis, index, old, new) if carry else Change(axis, index, index)

    def paint(self, axis: int, index: int, drawn: np.ndarray, keep: bool = False, carry: bool = True) -> Change:
        """Make slice ``index`` the (rows, cols) bool mask ``drawn`` (a brush correction), then carry it.

        ``keep``: add ``drawn`` to what the slice holds instead of replacing it (a stroke on a
        slice whose structure the user was not shown).
        """
        self._prompts.setdefault((axis, index), _SliceState())
        old = self._slice(axis, index).copy()
        new = (old | drawn) if keep else np.asarray(drawn, bool)
        self._set_slice(axis, index, new)
        return self._carry(axis, index, old, new) if carry else Change(axis, index, index)

    def propagate(self, axis: int, extent: Extent | None = None, progress=None, cancel=None) -> Change:
        """Propagate from every prompted slice along ``axis`` through ``extent`` (default: all).

        Each prompted slice keeps its own mask; the slices between are filled from the nearer
        prompted slice until the structure ends (``propagation.structure_ends``). Slices of
        the extent that the propagation does not reach are emptied. ``progress(done, total)``
        is called after each slice; ``cancel()`` returning True stops it (raising
        ``PropagationCancelled``) with the mask unchanged.
        """
        return drive(self.propagate_steps(axis, extent), progress, cancel)

    def propagate_steps(self, axis: int, extent: Extent | None = None) -> Generator[tuple[int, int], None, Change]:
        """:meth:`propagate` as a generator of ``(done, total)`` returning the :class:`Change`;
        closing it early leaves the mask unchanged (for GUI workers)."""
        n = self.shape[axis]
        extent = extent or Extent(0, n - 1)
        seeds = {
            i: self._slice(axis, i).copy() for (a, i) in self._prompts if a == axis and extent.first <= i <= extent.last
        }
        if not seeds:
            raise ValueError("propagation needs a prompted slice inside the range")
        masks = yield from propagate_masks_steps(
            self.predictor, self.volume.stack(axis), seeds, extent, self.volume.key_function(axis)
        )
        view = np.moveaxis(self.mask, axis, 0)
        view[extent.first : extent.last + 1] = False
        for index, mask in masks.items():
            view[index] = mask
        self.touched[axis].update(range(extent.first, extent.last + 1))
        return Change(axis, extent.first, extent.last)

    # ---- carrying a correction to the neighbours ------------------------------------------------
    def _carry(self, axis: int, index: int, old: np.ndarray, new: np.ndarray) -> Change:
        """Re-propagate a correction from its slice to each side until the change dies out.

        Each next slice is segmented from the box of the slice before it (as propagation
        does), with the corrected slice's clicks replayed where they still apply (the result
        that agrees better with the slice before it is kept); only pixels near what changed
        on the slice before (:func:`_zone`) take the new result, so a correction stays local
        in 3D as in 2D. It stops at a prompted slice, at the volume's end, where the
        structure ends (``propagation.structure_ends``: such a slice is left as it was,
        never wiped), once a slice changes by less than 2 %, or where it would change a slice
        holding the structure beyond recognition (Dice to it below 0.5).
        """
        first = last = index
        if _dice(old, new) > 1 - _SETTLED or not new.any():
            return Change(axis, first, last)
        n, margin = self.shape[axis], default_margin(new.shape)
        clicks = self._prompts[(axis, index)].clicks
        reference = float(self._decode(axis, index, [mask_box(new, margin)])[1][0])
        stack = self.volume.stack(axis)
        profile = intensity_profile(stack[index], new)
        for step in (1, -1):
            previous, zone, j = new, _zone(old ^ new, new), index + step
            while 0 <= j < n and (axis, j) not in self._prompts:
                current = self._slice(axis, j)
                candidate, iou = self._segment_like(axis, j, mask_box(previous, margin), previous, clicks)
                merged = np.where(zone, candidate, current)
                change = _dice(merged, current)
                if (
                    structure_ends(candidate, iou, previous, reference, stack[j], profile)
                    or change > 1 - _SETTLED
                    or (current.any() and change < 0.5)
                ):
                    break  # ended, settled, or it would replace a slice rather than correct it
                self._set_slice(axis, j, merged)
                first, last = min(first, j), max(last, j)
                previous, zone, j = merged, _zone(current ^ merged, merged), j + step
        return Change(axis, first, last)

    def _decode(self, axis: int, index: int, boxes) -> tuple[np.ndarray, np.ndarray]:
        return self.predictor.decode_boxes(self._embedding(axis, index), self._geometry(axis), boxes)

    def _segment_like(
        self, axis: int, index: int, box, previous: np.ndarray, clicks: list[Click]
    ) -> tuple[np.ndarray, float]:
        """Slice ``index`` from ``box`` and SAM's predicted IoU; with ``clicks`` replayed when
        that resembles ``previous`` more."""
        masks, iou = self._decode(axis, index, [box])
        plain = masks[0]
        replayed = plain
        for n, (x, y, include) in enumerate(clicks):
            if replayed[int(round(y)), int(round(x))] != include:
                replayed = apply_click(lambda boxes: self._decode(axis, index, boxes), replayed, clicks[: n + 1])
        best = replayed if _dice(replayed, previous) > _dice(plain, previous) else plain
        return best, float(iou[0])

    # ---- slices -----------------------------------------------------------------------------------
    def _slice(self, axis: int, index: int) -> np.ndarray:
        return np.moveaxis(self.mask, axis, 0)[index]

    def _set_slice(self, axis: int, index: int, mask2d: np.ndarray) -> None:
        np.moveaxis(self.mask, axis, 0)[index] = mask2d
        self.touched[axis].add(int(index))

    def _embedding(self, axis: int, index: int):
        stack = self.volume.stack(axis)
        return self.predictor.embed([stack[index]], [self.volume.key_function(axis)(index)])[0]

    def _geometry(self, axis: int):
        shape = [s for a, s in enumerate(self.shape) if a != axis]
        return self.predictor.transform.geometry(*shape)
