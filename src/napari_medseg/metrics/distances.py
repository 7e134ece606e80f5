"""Directed surface distances, computed once, and every distance metric derived from them.

Each direction (prediction -> reference, reference -> prediction) is one nearest
neighbour query of a KD-tree over the other surface's points in mm. A KD-tree costs
O(n log n) in the number of surface points, whatever the bounding box: a stray island
far from the structure does not make a dense distance transform over the space between.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["SurfaceDistances", "grid_distances", "nearest_distances", "weighted_percentile"]


def nearest_distances(points_mm: np.ndarray, targets_mm: np.ndarray) -> np.ndarray:
    """Euclidean distance (mm) from each point to its nearest target.

    Parameters
    ----------
    points_mm, targets_mm : (N, 3) and (M, 3) float64 ndarrays
        Positions in mm; ``targets_mm`` must not be empty.

    Returns
    -------
    (N,) float64 ndarray
    """
    if len(points_mm) == 0:
        return np.empty(0)
    tree = cKDTree(targets_mm, leafsize=32, balanced_tree=False, compact_nodes=False)
    return tree.query(points_mm, k=1)[0]


def grid_distances(points: np.ndarray, targets: np.ndarray, spacing) -> np.ndarray:
    """Distance (mm) from each grid point to the nearest target grid point.

    Points that are also targets get 0 without a tree query (for a good prediction
    most surface voxels lie on the reference surface); the others are queried in a
    KD-tree over the targets scaled by ``spacing``.

    Parameters
    ----------
    points, targets : (N, 3) and (M, 3) int64 ndarrays
        Array indices along axes 0, 1, 2 (may be negative); ``targets`` not empty.
    spacing : sequence of 3 float
        Voxel size in mm along array axes 0, 1, 2.

    Returns
    -------
    (N,) float64 ndarray
    """
    spacing = np.asarray(spacing, dtype=float)
    out = np.zeros(len(points))
    if len(points) == 0:
        return out
    low = np.minimum(points.min(axis=0), targets.min(axis=0))
    dims = tuple(int(n) for n in np.maximum(points.max(axis=0), targets.max(axis=0)) - low + 1)
    target_keys = np.sort(np.ravel_multi_index((targets - low).T, dims))
    keys = np.ravel_multi_index((points - low).T, dims)
    at = np.minimum(np.searchsorted(target_keys, keys), target_keys.size - 1)
    todo = np.flatnonzero(target_keys[at] != keys)
    if todo.size:
        out[todo] = nearest_distances(points[todo] * spacing, targets * spacing)
    return out


def weighted_percentile(distances: np.ndarray, weights: np.ndarray, q: float) -> float:
    """DeepMind ``surface-distance``'s area-weighted percentile.

    The smallest distance whose cumulative share of the total weight reaches ``q`` %
    (``np.searchsorted`` on the normalised cumulative weights of the sorted distances).
    """
    order = np.argsort(distances, kind="stable")
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    i = min(int(np.searchsorted(cumulative, q / 100.0)), len(order) - 1)
    return float(distances[order[i]])


@dataclass(frozen=True)
class SurfaceDistances:
    """Both directed distance sets of one label, and their weights.

    Attributes
    ----------
    pred_to_ref, ref_to_pred : (N,) and (M,) float64 ndarrays
        Distance in mm from each prediction (reference) surface element to the nearest
        reference (prediction) surface element. Both surfaces are non-empty.
    pred_weights, ref_weights : ndarrays or None
        Area (mm^2) of each surface element for the area-weighted variant; ``None``
        for boundary voxels, which count 1 each.
    """

    pred_to_ref: np.ndarray
    ref_to_pred: np.ndarray
    pred_weights: np.ndarray | None = None
    ref_weights: np.ndarray | None = None

    @property
    def weighted(self) -> bool:
        return self.pred_weights is not None

    def _weights(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Both surfaces' element areas (mm^2), or ``None`` for voxel surfaces."""
        if self.pred_weights is None or self.ref_weights is None:
            return None
        return self.pred_weights, self.ref_weights

    def hausdorff(self) -> float:
        """Maximum of both directions' maxima (mm)."""
        return float(max(self.pred_to_ref.max(), self.ref_to_pred.max()))

    def hausdorff_percentile(self, q: float = 95.0) -> float:
        """Larger of the two directed ``q``-th percentiles (mm).

        Voxel surfaces: ``np.percentile`` with linear interpolation (as
        ``torch.quantile`` in MONAI). Area-weighted: :func:`weighted_percentile`.
        """
        weights = self._weights()
        if weights is not None:
            return max(
                weighted_percentile(self.pred_to_ref, weights[0], q),
                weighted_percentile(self.ref_to_pred, weights[1], q),
            )
        return float(max(np.percentile(self.pred_to_ref, q), np.percentile(self.ref_to_pred, q)))

    def average_symmetric(self) -> float:
        """Mean of both directions' distances pooled (mm); area-weighted when weighted.

        Pooled, not the mean of the two directed means: the surface with more
        elements weighs more (MONAI ``compute_average_surface_distance(symmetric=True)``).
        """
        weights = self._weights()
        if weights is not None:
            w_pred, w_ref = weights
            total = float(w_pred.sum() + w_ref.sum())
            return float((self.pred_to_ref @ w_pred + self.ref_to_pred @ w_ref) / total)
        n = self.pred_to_ref.size + self.ref_to_pred.size
        return float((self.pred_to_ref.sum() + self.ref_to_pred.sum()) / n)

    def surface_dice(self, tolerance_mm: float) -> float:
        """Share of both surfaces within ``tolerance_mm`` of the other (normalised surface Dice).

        Voxel surfaces count elements (MONAI ``compute_surface_dice``); area-weighted
        surfaces sum areas (MONAI ``use_subvoxels=True``, DeepMind).
        """
        close_p = self.pred_to_ref <= tolerance_mm
        close_r = self.ref_to_pred <= tolerance_mm
        weights = self._weights()
        if weights is not None:
            w_pred, w_ref = weights
            total = float(w_pred.sum() + w_ref.sum())
            return float((w_pred[close_p].sum() + w_ref[close_r].sum()) / total)
        return float((np.count_nonzero(close_p) + np.count_nonzero(close_r)) / (close_p.size + close_r.size))
