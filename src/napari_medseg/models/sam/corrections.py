"""Clicks that correct a 2D mask, with a box-trained SAM decoder.

LiteMedSAM was trained with boxes only: a click passed to its prompt encoder is all but
ignored, and re-decoding every click from scratch makes masks worse. Here a click is
turned into box prompts instead, and the mask is edited *locally*:

* **the object under a click** (:func:`object_at`): square boxes centred on the click,
  growing, are decoded in one batch; the answer is the mask of the smallest box that
  encloses its own object (the object's component does not reach the box's edge), ranked
  by SAM's predicted IoU. A click alone segments the object under it this way.
* **a positive click** outside the mask adds the part of the object under the click that
  is connected to the click (nothing else changes);
* **a negative click** inside the mask removes the part of the mask that belongs to the
  object under the click when that object is another structure (a leak into a neighbour);
  when the object under the click is the structure itself (an overgrown border), the mask
  is cut along the line through the click across its nearest side, and only the piece
  beyond the cut that holds the click goes.

Earlier clicks are kept: an edit that would undo one of them is shrunk so that it does
not. Slices are (H, W) arrays; points are ``(x, y)`` = (column, row) pixel indices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

__all__ = ["BoxDecoder", "Click", "apply_click", "component_at", "object_at", "probe_boxes"]

#: ``decode(boxes (B, 4)) -> (masks (B, H, W) bool, iou (B,))`` on one embedded slice.
BoxDecoder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
#: ``(x, y, include)``.
Click = tuple[float, float, bool]

#: Half-sides of the probe boxes around a click, in pixels of LiteMedSAM's 256 frame.
_PROBE_HALF_SIDES = (5.0, 8.0, 12.0, 18.0, 27.0, 40.0, 60.0, 90.0)
#: A negative click's object covering more than this share of the mask is the structure itself.
_SAME_OBJECT_SHARE = 0.6


def component_at(mask: np.ndarray, x: float, y: float) -> np.ndarray:
    """The 8-connected component of a (H, W) bool ``mask`` holding pixel (x, y); empty if none."""
    r, c = int(round(y)), int(round(x))
    if not (0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]) or not mask[r, c]:
        return np.zeros_like(mask, bool)
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    return labels == labels[r, c]


def probe_boxes(shape: tuple[int, int], x: float, y: float) -> np.ndarray:
    """(B, 4) square boxes ``(x0, y0, x1, y1)`` centred on (x, y), growing, clipped to the slice."""
    h, w = shape
    scale = max(h, w) / 256.0
    out = []
    for half in _PROBE_HALF_SIDES:
        r = half * scale
        out.append((max(0.0, x - r), max(0.0, y - r), min(w - 1.0, x + r), min(h - 1.0, y + r)))
        if out[-1] == (0.0, 0.0, w - 1.0, h - 1.0):
            break
    return np.array(out)


def _inside_box(component: np.ndarray, box, shape) -> bool:
    """True when ``component`` stays off the box's edges (edges on the slice's border excepted)."""
    rows, cols = np.flatnonzero(component.any(1)), np.flatnonzero(component.any(0))
    x0, y0, x1, y1 = box
    h, w = shape
    return (
        (cols[0] > x0 + 1 or x0 <= 0)
        and (cols[-1] < x1 - 1 or x1 >= w - 1)
        and (rows[0] > y0 + 1 or y0 <= 0)
        and (rows[-1] < y1 - 1 or y1 >= h - 1)
    )


def object_at(
    decode: BoxDecoder, shape: tuple[int, int], x: float, y: float, enclosed_only: bool = False
) -> np.ndarray:
    """(H, W) bool mask of the object under the click (x, y); may be empty.

    Probe boxes (:func:`probe_boxes`) are decoded together; each mask's component at the
    click is a candidate. Candidates that fit inside their box are preferred, the best
    predicted IoU first (the smallest box on ties); when none fits, the best predicted IoU
    of all, or nothing with ``enclosed_only``.
    """
    boxes = probe_boxes(shape, x, y)
    masks, iou = decode(boxes)
    best, best_key = np.zeros(shape, bool), None
    for box, mask, score in zip(boxes, masks, iou):
        comp = component_at(mask, x, y)
        if not comp.any():
            continue
        key = (_inside_box(comp, box, shape), round(float(score), 2))
        if enclosed_only and not key[0]:
            continue
        if best_key is None or key > best_key:
            best, best_key = comp, key
    return best


def _grown_box(mask: np.ndarray, x: float, y: float) -> tuple[float, float, float, float]:
    """The box of ``mask`` grown to take in the click (x, y) and a margin of 2 % of the slice."""
    rows, cols = np.nonzero(mask)
    h, w = mask.shape
    margin = 0.02 * max(h, w)
    return (
        max(0.0, min(cols.min(), x) - margin),
        max(0.0, min(rows.min(), y) - margin),
        min(w - 1.0, max(cols.max(), x) + margin),
        min(h - 1.0, max(rows.max(), y) + margin),
    )


def _addition(decode: BoxDecoder, mask: np.ndarray, x: float, y: float) -> np.ndarray:
    """Pixels a positive click at (x, y) outside a non-empty ``mask`` adds.

    In order: what SAM adds near the click when the mask's box is grown to take the click
    in; else the part of the enclosed object under the click; each only if it is at most
    as large as the mask itself (a correction, not a new structure). Else a disc reaching
    from the click to the mask, so the click always counts and nothing far changes.
    """
    limit = max(int(mask.sum()), 1)
    grown = decode(np.array([_grown_box(mask, x, y)]))[0][0]
    add = component_at(grown & ~mask, x, y)
    if add.any() and add.sum() <= limit:
        return add
    add = component_at(object_at(decode, mask.shape, x, y, enclosed_only=True) & ~mask, x, y)
    if add.any() and add.sum() <= limit:
        return add
    gap = ndimage.distance_transform_edt(~mask)[int(round(y)), int(round(x))]
    return _disc(mask.shape, x, y, gap + 0.5) & ~mask


def _cut_beyond(mask: np.ndarray, x: float, y: float) -> np.ndarray:
    """The piece of ``mask`` beyond a straight cut through (x, y) across the mask's nearest side.

    The cut is perpendicular to the direction from the mask's centroid to the click; the
    removed piece is the component, beyond the cut, that holds the click.
    """
    rows, cols = np.nonzero(mask)
    direction = np.array([x - cols.mean(), y - rows.mean()])
    norm = np.hypot(*direction)
    if norm < 1e-6:
        return component_at(mask, x, y)
    direction /= norm
    yy, xx = np.indices(mask.shape)
    beyond = mask & (((xx - x) * direction[0] + (yy - y) * direction[1]) >= -0.5)
    return component_at(beyond, x, y)


def _keep_clicks(edit: np.ndarray, clicks: Sequence[Click], include: bool) -> np.ndarray:
    """Shrink ``edit`` (pixels to add if ``include`` else to remove) so no earlier click is undone.

    An earlier click of the opposite sense lying inside the edit splits it: the pixels
    nearer to that click than to the new one are left alone.
    """
    if not edit.any():
        return edit
    for cx, cy, c_include in clicks[:-1]:
        r, c = int(round(cy)), int(round(cx))
        if c_include != include and 0 <= r < edit.shape[0] and 0 <= c < edit.shape[1] and edit[r, c]:
            x, y, _ = clicks[-1]
            yy, xx = np.indices(edit.shape)
            nearer_new = (xx - x) ** 2 + (yy - y) ** 2 <= (xx - cx) ** 2 + (yy - cy) ** 2
            edit = component_at(edit & nearer_new, x, y)
    return edit


def apply_click(decode: BoxDecoder, mask: np.ndarray, clicks: Sequence[Click]) -> np.ndarray:
    """The (H, W) bool mask after the last of ``clicks`` corrects ``mask``.

    Parameters
    ----------
    decode : BoxDecoder
        Box prompts -> masks and predicted IoU on the clicked slice.
    mask : (H, W) bool
        The current mask (empty for a click alone).
    clicks : sequence of (x, y, include)
        Every click on this slice so far, the new one last; the earlier ones are kept
        satisfied where the new edit would undo them.

    Returns
    -------
    (H, W) bool
        A new array; ``mask`` is not modified.
    """
    x, y, include = clicks[-1]
    r, c = int(round(y)), int(round(x))
    mask = np.asarray(mask, bool)
    if not (0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]):
        raise ValueError(f"click ({x:g}, {y:g}) lies outside the {mask.shape[1]}x{mask.shape[0]} slice")
    out = mask.copy()
    if include:
        if mask[r, c]:
            return out
        if not mask.any():  # a click alone: the object under it
            add = object_at(decode, mask.shape, x, y)
            if not add.any():  # the model sees nothing here: a small disc, so the click counts
                add = _disc(mask.shape, x, y, max(mask.shape) / 128)
        else:
            add = _addition(decode, mask, x, y)
        out |= _keep_clicks(_near(add, x, y), clicks, True)
        return out
    if not mask[r, c]:
        return out
    remove = _removal(decode, mask, x, y)
    out &= ~_keep_clicks(_near(remove, x, y), clicks, False)
    return out


def _removal(decode: BoxDecoder, mask: np.ndarray, x: float, y: float) -> np.ndarray:
    """Pixels a negative click at (x, y) inside ``mask`` removes.

    A click deep inside its component (at least 70 % of the component's greatest depth)
    rejects the whole component. Otherwise the part of the mask that belongs to the object
    under the click goes when that object is another structure (under 60 % of the mask);
    when it is the structure itself, the piece beyond a cut through the click goes.
    """
    r, c = int(round(y)), int(round(x))
    own = component_at(mask, x, y)
    depth = ndimage.distance_transform_edt(np.pad(own, 1))[1:-1, 1:-1]
    if depth[r, c] >= 0.7 * depth.max():
        return own
    remove = component_at(object_at(decode, mask.shape, x, y) & mask, x, y)
    if not remove.any() or remove.sum() > _SAME_OBJECT_SHARE * mask.sum():
        remove = _cut_beyond(mask, x, y)
    return remove


def _near(edit: np.ndarray, x: float, y: float) -> np.ndarray:
    """The part of ``edit`` (a region holding the click) within 2.5 times the click's depth in
    it, plus 1 pixel: a click near a region's edge edits little, one deep inside edits much."""
    depth = ndimage.distance_transform_edt(np.pad(edit, 1))[1:-1, 1:-1][int(round(y)), int(round(x))]
    return component_at(edit & _disc(edit.shape, x, y, 2.5 * depth + 1), x, y) if depth > 0 else edit


def _disc(shape: tuple[int, int], x: float, y: float, radius: float) -> np.ndarray:
    yy, xx = np.indices(shape)
    return (xx - x) ** 2 + (yy - y) ** 2 <= radius**2
