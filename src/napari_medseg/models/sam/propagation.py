"""3D masks from prompts on a few slices: each next slice is prompted with the box of
the previous slice's mask, slightly enlarged, until the mask vanishes or leaves the extent.

Works on a stack ``(N, H, W)`` whose axis 0 is the slice axis; slices are (rows, columns)
and boxes ``(x0, y0, x1, y1)`` in pixel indices, as in ``predictor.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generator

import numpy as np

from .predictor import SamPredictor

__all__ = ["Extent", "PropagationCancelled", "SlicePrompt", "default_margin", "mask_box", "propagate",
           "propagate_steps", "seed_ranges"]

Progress = Callable[[int, int], None]


class PropagationCancelled(Exception):
    """Raised inside :func:`propagate` when its ``cancel`` callable returns True."""


@dataclass
class SlicePrompt:
    """The prompt the user gave on one slice.

    Attributes
    ----------
    index : int
        Slice index along the stack's axis 0.
    box : (4,) floats or None
        ``(x0, y0, x1, y1)`` in slice pixels, inclusive.
    points : (N, 2) float array
        ``(x, y)`` clicks in slice pixels.
    labels : (N,) int array
        1 for inside, 0 for outside.
    """

    index: int
    box: tuple[float, float, float, float] | None = None
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, int))


@dataclass(frozen=True)
class Extent:
    """Where propagation may go: slices ``first..last`` (inclusive) and, optionally, an
    in-plane box ``(x0, y0, x1, y1)`` outside which masks are cut."""

    first: int
    last: int
    box: tuple[int, int, int, int] | None = None

    def clip(self, mask: np.ndarray) -> np.ndarray:
        """``mask`` (H, W) with everything outside the in-plane box removed (in place)."""
        if self.box is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in self.box)
            keep = np.zeros_like(mask)
            keep[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1] = True
            mask &= keep
        return mask


def mask_box(mask: np.ndarray, margin: float = 0.0) -> tuple[float, float, float, float] | None:
    """Bounding box ``(x0, y0, x1, y1)`` of a (H, W) mask, grown by ``margin`` pixels and
    clipped to the slice; None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (max(0.0, cols[0] - margin), max(0.0, rows[0] - margin),
            min(w - 1.0, cols[-1] + margin), min(h - 1.0, rows[-1] + margin))


def default_margin(slice_shape: tuple[int, int]) -> float:
    """Pixels added around the previous mask's box: LiteMedSAM's 3 pixels of its 256 frame."""
    return 3.0 * max(slice_shape) / 256


def seed_ranges(indices: list[int], extent: Extent) -> list[tuple[int, int]]:
    """The slices each prompted slice may fill: up to its neighbours' slices, or to the extent.

    ``indices`` sorted ascending; returns inclusive ``(low, high)`` per index. Neighbouring
    ranges overlap; where both seeds reach a slice, the nearer seed's mask is kept.
    """
    ranges = []
    for n, index in enumerate(indices):
        low = extent.first if n == 0 else indices[n - 1] + 1
        high = extent.last if n == len(indices) - 1 else indices[n + 1] - 1
        ranges.append((low, high))
    return ranges


def propagate(predictor: SamPredictor, stack_u8: np.ndarray, prompts: list[SlicePrompt],
              extent: Extent | None = None, keys: Callable[[int], object] | None = None,
              progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
              margin: float | None = None) -> np.ndarray:
    """Segment a stack from prompted slices, propagating up and down from each.

    Parameters
    ----------
    predictor : SamPredictor
    stack_u8 : (N, H, W) uint8
        Slices along axis 0, already windowed.
    prompts : list of SlicePrompt
        At least one; each prompted slice is segmented from its own prompt, then
        propagates towards the next prompted slices (or to the extent's ends). Where two
        reach the same slice, the nearer prompted slice's mask is kept.
    extent : Extent, optional
        Default: the whole stack, no in-plane limit.
    keys : callable, optional
        ``keys(index)`` -> embedding-cache key of slice ``index`` (None: no caching).
    progress : callable, optional
        ``progress(done, total)`` after each slice; ``total`` is the most slices this can visit.
    cancel : callable, optional
        Polled before each slice; returning True raises :class:`PropagationCancelled`.
    margin : float, optional
        Pixels added around the previous mask's box; default :func:`default_margin`.

    Returns
    -------
    (N, H, W) bool
    """
    steps = propagate_steps(predictor, stack_u8, prompts, extent, keys, margin)
    while True:
        if cancel is not None and cancel():
            steps.close()
            raise PropagationCancelled()
        try:
            done, total = next(steps)
        except StopIteration as finished:
            return finished.value
        if progress is not None:
            progress(done, total)


def propagate_steps(predictor: SamPredictor, stack_u8: np.ndarray, prompts: list[SlicePrompt],
                    extent: Extent | None = None, keys: Callable[[int], object] | None = None,
                    margin: float | None = None) -> Generator[tuple[int, int], None, np.ndarray]:
    """:func:`propagate` as a generator: yields ``(done, total)`` after each slice and
    returns the (N, H, W) bool masks (``StopIteration.value``); for GUI workers that report
    progress by yielding and stop between slices when quit."""
    n, h, w = stack_u8.shape
    extent = extent or Extent(0, n - 1)
    if not prompts:
        raise ValueError("propagation needs at least one prompted slice")
    prompts = sorted(prompts, key=lambda p: p.index)
    for p in prompts:
        if not extent.first <= p.index <= extent.last:
            raise ValueError(f"prompted slice {p.index} lies outside the extent {extent.first}..{extent.last}")
    margin = default_margin((h, w)) if margin is None else margin
    keys = keys or (lambda index: None)
    out = np.zeros((n, h, w), bool)
    distance = np.full(n, np.iinfo(np.int64).max)  # to the prompted slice whose mask `out` holds
    ranges = seed_ranges([p.index for p in prompts], extent)
    total, done = sum(hi - lo + 1 for lo, hi in ranges), 0
    geo = predictor.transform.geometry(h, w)

    def embeddings_from(index: int, step: int, stop: int) -> dict[int, object]:
        batch = list(range(index, stop + step, step))[: predictor.batch_size]
        found = predictor.embed([stack_u8[i] for i in batch], [keys(i) for i in batch])
        return dict(zip(batch, found))

    for prompt, (low, high) in zip(prompts, ranges):
        own_seed = None
        for step, stop in ((1, high), (-1, low)):
            index = prompt.index if step == 1 else prompt.index - 1
            box = prompt.box
            previous = own_seed if step == -1 else None
            ahead: dict[int, object] = {}
            while (index <= stop) if step == 1 else (index >= stop):
                if previous is not None:
                    box = mask_box(previous, margin)
                    if box is None:
                        break
                if index not in ahead:
                    ahead = embeddings_from(index, step, stop)
                use_points = index == prompt.index and len(prompt.points)
                mask = predictor.predict_with(
                    ahead[index], geo, box,
                    prompt.points if use_points else None, prompt.labels if use_points else None,
                )
                mask = extent.clip(mask)
                if abs(index - prompt.index) < distance[index]:
                    out[index], distance[index] = mask, abs(index - prompt.index)
                if index == prompt.index:
                    own_seed = mask
                previous = mask
                done += 1
                yield done, total
                index += step
    if done < total:  # stopped early: the mask vanished
        yield total, total
    return out
