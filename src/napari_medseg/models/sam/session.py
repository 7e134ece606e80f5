"""A volume made ready for a SAM predictor: windowed once, signed, sliced along any axis.

Slices are taken along one array axis with the other two kept in array order, which is
how napari displays them with the default axis order (axial: rows = posterior, columns =
left, i.e. the radiological view). ``transpose=True`` swaps rows and columns for viewers
that display the two axes the other way round.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .embedding_cache import stack_signature
from .intensity import IntensityMapping, choose_mapping
from .predictor import SamPredictor
from .propagation import Extent, SlicePrompt, propagate

__all__ = ["SamSession"]


class SamSession:
    """One (Z, Y, X) volume and one predictor.

    Parameters
    ----------
    predictor : SamPredictor
    array : (Z, Y, X) ndarray
        Intensities (HU for CT) in the package's array order.
    window, modality : str, optional
        See :func:`~napari_medseg.models.sam.intensity.choose_mapping`.
    """

    def __init__(
        self, predictor: SamPredictor, array: np.ndarray, window: str | None = None, modality: str | None = None
    ):
        self.predictor = predictor
        self.mapping: IntensityMapping = choose_mapping(array, window, modality)
        self.volume_u8 = self.mapping.apply(array)
        self.signature = stack_signature(self.volume_u8, predictor.network.model_id, predictor.transform.name)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.volume_u8.shape

    def stack(self, axis: int, transpose: bool = False) -> np.ndarray:
        """(N, H, W) uint8 view with ``axis`` first; rows/columns are the other axes in order."""
        view = np.moveaxis(self.volume_u8, axis, 0)
        return view.transpose(0, 2, 1) if transpose else view

    def key_function(self, axis: int, transpose: bool = False) -> Callable[[int], tuple]:
        """Embedding-cache key of slice ``index`` along ``axis``."""
        return lambda index: (self.signature, axis + (3 if transpose else 0), int(index))

    def segment_slice(self, axis: int, prompt: SlicePrompt, transpose: bool = False) -> np.ndarray:
        """(H, W) bool mask of one prompted slice."""
        stack = self.stack(axis, transpose)
        self.predictor.set_slice(stack[prompt.index], self.key_function(axis, transpose)(prompt.index))
        return self.predictor.predict(prompt.box, prompt.points if len(prompt.points) else None, prompt.labels)

    def propagate(
        self,
        axis: int,
        prompts: list[SlicePrompt],
        extent: Extent | None = None,
        transpose: bool = False,
        progress=None,
        cancel=None,
    ) -> np.ndarray:
        """(Z, Y, X) bool mask propagated from prompted slices along ``axis``."""
        stack = self.stack(axis, transpose)
        masks = propagate(self.predictor, stack, prompts, extent, self.key_function(axis, transpose), progress, cancel)
        masks = masks.transpose(0, 2, 1) if transpose else masks
        return np.moveaxis(masks, 0, axis)

    def precompute(self, axis: int, indices, transpose: bool = False, cancel=None) -> int:
        """Embed and cache the given slices (those not cached yet); returns how many were encoded."""
        stack, key = self.stack(axis, transpose), self.key_function(axis, transpose)
        todo = [int(i) for i in indices if 0 <= i < stack.shape[0] and not self.predictor.is_cached(key(i))]
        for start in range(0, len(todo), self.predictor.batch_size):
            if cancel is not None and cancel():
                break
            chunk = todo[start : start + self.predictor.batch_size]
            self.predictor.embed([stack[i] for i in chunk], [key(i) for i in chunk])
        return len(todo)
