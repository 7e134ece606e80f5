"""Slice embeddings kept for reuse: a bounded in-memory LRU and an optional disk cache.

Keys are ``(signature, axis, index)``. The signature (:func:`stack_signature`) hashes
the uint8 model-input volume itself together with the model id and the preprocessing
name, so editing the image, changing the window, or switching checkpoints gives new
keys and a stale embedding is never reused.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from ...io.atomic import atomic_path

__all__ = ["EmbeddingCache", "stack_signature"]

Key = tuple[str, int, int]


def stack_signature(volume_u8: np.ndarray, model_id: str, preprocessing: str) -> str:
    """Hex BLAKE2b digest of a uint8 volume's bytes, shape, the model id and preprocessing name."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{volume_u8.shape}|{volume_u8.dtype}|{model_id}|{preprocessing}".encode())
    digest.update(np.ascontiguousarray(volume_u8).data)
    return digest.hexdigest()


class EmbeddingCache:
    """Thread-safe LRU of slice embeddings, optionally backed by ``.npy`` files.

    Parameters
    ----------
    max_items : int
        Embeddings held in memory (LiteMedSAM: 4 MiB each, float32 256x64x64).
    directory : path, optional
        Folder of the disk cache: ``directory/<signature>/<axis>_<index>.npy``, written atomically.
    """

    def __init__(self, max_items: int = 64, directory: str | Path | None = None):
        self.max_items = max_items
        self.directory = Path(directory) if directory else None
        self._items: OrderedDict[Key, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Key) -> bool:
        with self._lock:
            if key in self._items:
                return True
        path = self._file(key)
        return path is not None and path.exists()

    def _file(self, key: Key) -> Path | None:
        if self.directory is None:
            return None
        signature, axis, index = key
        return self.directory / signature / f"{axis}_{index}.npy"

    def get(self, key: Key) -> torch.Tensor | None:
        """The (C, h, w) embedding under ``key`` (CPU tensor), or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        path = self._file(key)
        if path is None or not path.exists():
            return None
        embedding = torch.from_numpy(np.load(path))
        self._remember(key, embedding)
        return embedding

    def put(self, key: Key, embedding: torch.Tensor) -> None:
        """Store a (C, h, w) embedding in memory and, with a directory, on disk."""
        embedding = embedding.detach().to("cpu", copy=False)
        self._remember(key, embedding)
        path = self._file(key)
        if path is not None and not path.exists():
            with atomic_path(path) as tmp, open(tmp, "wb") as handle:
                np.save(handle, embedding.numpy())

    def _remember(self, key: Key, embedding: torch.Tensor) -> None:
        with self._lock:
            self._items[key] = embedding
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget the in-memory embeddings (disk files stay)."""
        with self._lock:
            self._items.clear()
