"""Label colours: the one palette for labels that carry no colour of their own.

Used by napari Labels layers, RT structure sets and the PNG overviews alike.
"""

from __future__ import annotations

import numpy as np

#: Distinct colours (Sasha Trubetskoy's list), cycled for labels 1, 2, 3, ...
DEFAULT_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45")


def colour_of(label: int, colours: dict[int, str] | None = None) -> str:
    """``#rrggbb`` of ``label``: its own colour when ``colours`` has one, else the palette's."""
    own = (colours or {}).get(label)
    return own or DEFAULT_COLOURS[(label - 1) % len(DEFAULT_COLOURS)]


def palette_rgb() -> np.ndarray:
    """The palette as an (N, 3) float32 array of 0..255 RGB; row ``(label - 1) % N`` is ``label``'s colour."""
    return np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in DEFAULT_COLOURS], dtype=np.float32)
