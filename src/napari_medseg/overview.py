"""PNG overviews of a volume with label overlays, drawn radiologically and to physical scale.

Used by ``medseg demo``; no napari or Qt. Slices follow the package convention: axial
tiles show anterior up and the patient's right on the left.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .colours import palette_rgb
from .ct_windows import is_ct, window_limits
from .io.atomic import atomic_path
from .volume import Volume


def display_window(volume: Volume) -> tuple[float, float]:
    """(low, high) grey-level window: CT soft tissue (L40/W400) for HU data, else 1-99th percentile."""
    a = volume.array
    if is_ct(volume):
        return window_limits("soft_tissue")
    nz = a[a != 0]
    lo, hi = np.percentile(nz if nz.size else a, [1, 99])
    return float(lo), float(hi)


def _tiles(volume: Volume, labels: np.ndarray | None, centre: tuple[int, int, int]):
    """Axial, coronal, sagittal slices through ``centre`` with their (row, col) spacing in mm."""
    sp = volume.spacing
    z, y, x = centre
    views = [
        (volume.array[z], None if labels is None else labels[z], (sp[1], sp[2])),  # axial: P down, L right
        (volume.array[::-1, y], None if labels is None else labels[::-1, y], (sp[0], sp[2])),  # coronal: S up
        # sagittal: S up, P right
        (volume.array[::-1, :, x], None if labels is None else labels[::-1, :, x], (sp[0], sp[1])),
    ]
    return views


def render_tile(
    image: np.ndarray,
    labels: np.ndarray | None,
    spacing_rc: tuple[float, float],
    window: tuple[float, float],
    px_per_mm: float,
    alpha: float = 0.45,
) -> np.ndarray:
    """RGB uint8 tile of a 2D slice with a coloured label overlay, resized to physical aspect."""
    from PIL import Image

    lo, hi = window
    grey = np.clip((image.astype(np.float32) - lo) / max(hi - lo, 1e-6), 0, 1) * 255
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if labels is not None:
        lab = np.asarray(labels).astype(np.int64)
        palette = palette_rgb()
        colour = palette[(lab - 1) % len(palette)]
        mask = (lab > 0)[..., None]
        rgb = np.where(mask, (1 - alpha) * rgb + alpha * colour, rgb)
    size = (
        max(1, round(image.shape[1] * spacing_rc[1] * px_per_mm)),
        max(1, round(image.shape[0] * spacing_rc[0] * px_per_mm)),
    )
    return np.asarray(Image.fromarray(rgb.astype(np.uint8)).resize(size, Image.NEAREST))


def save_overview(path: str | Path, rows: list[tuple[str, Volume, np.ndarray | None]], height_px: int = 220) -> Path:
    """Write a PNG with one row per (title, volume, labels) and three orthogonal tiles per row.

    Slices pass through the centre of the labels (or of the volume when there are none).
    """
    from PIL import Image, ImageDraw

    rendered = []
    for title, vol, labels in rows:
        if labels is not None and labels.any():
            centre = tuple(int(round(c)) for c in np.argwhere(labels > 0).mean(axis=0))
        else:
            centre = tuple(s // 2 for s in vol.shape)
        extent_mm = max(vol.shape[i] * vol.spacing[i] for i in range(3))
        px_per_mm = height_px / extent_mm
        window = display_window(vol)
        tiles = [render_tile(img, lab, sp, window, px_per_mm) for img, lab, sp in _tiles(vol, labels, centre)]
        rendered.append((title, tiles))
    width = max(sum(t.shape[1] + 8 for t in tiles) for _, tiles in rendered) + 8
    height = sum(max(t.shape[0] for t in tiles) + 30 for _, tiles in rendered) + 8
    canvas = Image.new("RGB", (width, height), (20, 20, 24))
    draw = ImageDraw.Draw(canvas)
    top = 4
    for title, tiles in rendered:
        draw.text((8, top), title, fill=(230, 230, 230))
        left = 8
        for t in tiles:
            canvas.paste(Image.fromarray(t), (left, top + 22))
            left += t.shape[1] + 8
        top += max(t.shape[0] for t in tiles) + 30
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return Path(path)
