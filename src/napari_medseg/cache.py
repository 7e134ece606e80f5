"""Where napari-medseg keeps derived files (exported networks, embeddings) between runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$NAPARI_MEDSEG_CACHE``, else ``$XDG_CACHE_HOME/napari-medseg`` (default ``~/.cache``)."""
    if os.environ.get("NAPARI_MEDSEG_CACHE"):
        return Path(os.environ["NAPARI_MEDSEG_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "napari-medseg"
