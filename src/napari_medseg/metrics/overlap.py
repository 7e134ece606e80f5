"""Overlap and volume measures from voxel counts."""

from __future__ import annotations

import numpy as np

from ..label_maps import voxel_counts

__all__ = ["count_overlap", "dice", "jaccard", "label_volumes_ml", "volume_ml"]


def count_overlap(ref_labels: np.ndarray, pred_idx: np.ndarray, label: int) -> int:
    """Number of prediction voxels of ``label`` that are ``label`` in the reference too.

    Parameters
    ----------
    ref_labels : (Z, Y, X) integer ndarray, C-contiguous
        Reference label map.
    pred_idx : (N,) int64 ndarray
        Flat indices of the prediction's voxels of ``label``.
    """
    return int(np.count_nonzero(ref_labels.reshape(-1)[pred_idx] == label))


def dice(n_pred: int, n_ref: int, n_both: int) -> float:
    """Dice coefficient ``2 |P & R| / (|P| + |R|)``; 1.0 when both are empty."""
    total = n_pred + n_ref
    return 1.0 if total == 0 else 2.0 * n_both / total


def jaccard(n_pred: int, n_ref: int, n_both: int) -> float:
    """Jaccard index ``|P & R| / |P | R|``; 1.0 when both are empty."""
    union = n_pred + n_ref - n_both
    return 1.0 if union == 0 else n_both / union


def volume_ml(n_voxels: int, spacing) -> float:
    """Volume in millilitres of ``n_voxels`` voxels of size ``spacing`` (mm per axis)."""
    return float(n_voxels * np.prod(np.asarray(spacing, dtype=float)) / 1000.0)


def label_volumes_ml(labels: np.ndarray, spacing, labels_of_interest=None, chunk: int = 1 << 20) -> dict[int, float]:
    """Volume in millilitres of each label of a label map.

    Parameters
    ----------
    labels : integer ndarray, values >= 0
    spacing : sequence of float, mm per axis
    labels_of_interest : iterable of int, optional
        Labels to report, 0.0 for those absent; default every label > 0 present.
    chunk : int
        Voxels counted at a time (bounds the temporary memory of the count).

    Returns
    -------
    dict int -> float, in ascending label order.
    """
    counts = voxel_counts(labels, chunk)
    wanted = (k for k in range(1, counts.size) if counts[k]) if labels_of_interest is None else labels_of_interest
    return {int(k): volume_ml(int(counts[k]) if 0 <= k < counts.size else 0, spacing) for k in sorted(wanted)}
