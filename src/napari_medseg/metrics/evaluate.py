"""Per-label evaluation of a predicted label map against a reference, in mm.

Conventions (MONAI 1.6 / MetricsReloaded; our values agree with MONAI's functions)
---------------------------------------------------------------------------------
* Labels evaluated: every non-zero value present in either map (or those asked for).
* ``dice`` = 2|P & R| / (|P| + |R|), ``jaccard`` = |P & R| / |P | R|, on voxels.
* Surface (``surface="voxel"``, default): mask voxels with at least one face-connected
  neighbour outside the mask (outside the image counts as outside).
* Distances: Euclidean, in mm from the voxel spacing, from each surface element of one
  mask to the nearest surface element of the other, computed once per direction.
* ``hd_mm``: the larger of the two directed maxima.
* ``hd95_mm``: the larger of the two directed 95th percentiles, each with linear
  interpolation (``numpy.percentile`` default, as ``torch.quantile`` in MONAI).
* ``assd_mm``: mean of both directions' distances pooled together (not the mean of
  the two directed means).
* ``nsd``: (surface elements of both masks within ``tolerance_mm`` of the other
  surface) / (all surface elements of both); MONAI ``compute_surface_dice``.
* ``surface="area"``: DeepMind ``surface-distance`` surface elements (2x2x2 cubes,
  weighted by their marching-cubes area): ``hd95_mm`` is DeepMind's area-weighted
  percentile, ``assd_mm`` the area-weighted pooled mean, ``nsd`` the area share
  (MONAI ``compute_surface_dice(use_subvoxels=True)``).
* Volumes in ml from the voxel size; ``volume_diff_ml`` = prediction - reference.

Empty masks (``status``)
------------------------
* ``both_empty``: dice = jaccard = nsd = 1, distances 0.
* ``pred_empty`` / ``ref_empty``: dice = jaccard = nsd = 0, distances ``None`` (null):
  never NaN, 0 or inf.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import MedsegError
from .boundary import boundary_voxels, label_voxel_indices, surface_elements
from .distances import SurfaceDistances, grid_distances
from .overlap import count_overlap, dice, jaccard, volume_ml

__all__ = [
    "Evaluation",
    "LabelMetrics",
    "RECORD_FIELDS",
    "SURFACES",
    "as_label_array",
    "both_empty_record",
    "evaluate_labels",
    "evaluate_volumes",
    "surface_distances",
]

SURFACES = ("voxel", "area")
RECORD_FIELDS = (
    "label",
    "dice",
    "jaccard",
    "hd_mm",
    "hd95_mm",
    "assd_mm",
    "nsd",
    "volume_pred_ml",
    "volume_ref_ml",
    "volume_diff_ml",
    "status",
    "tolerance_mm",
    "surface",
)


@dataclass(frozen=True)
class LabelMetrics:
    """The metrics of one label. Distances in mm, volumes in ml; ``None`` = undefined.

    ``status`` is ``"ok"``, ``"both_empty"``, ``"pred_empty"`` or ``"ref_empty"``.
    """

    label: int
    dice: float
    jaccard: float
    hd_mm: float | None
    hd95_mm: float | None
    assd_mm: float | None
    nsd: float
    volume_pred_ml: float
    volume_ref_ml: float
    volume_diff_ml: float
    status: str
    tolerance_mm: float
    surface: str

    def as_dict(self) -> dict:
        """Plain dict in :data:`RECORD_FIELDS` order (JSON-ready: ``None`` -> null)."""
        return asdict(self)


def as_label_array(array, name: str = "labels") -> np.ndarray:
    """A C-contiguous integer label map from any array of whole non-negative numbers.

    Raises
    ------
    MedsegError
        A 3D array is needed; values must be whole numbers >= 0 (a probability map or
        an intensity image is not a label map).
    """
    array = np.asarray(array)
    if array.ndim != 3:
        raise MedsegError(f"{name}: a 3D label map is needed; got an array of shape {array.shape}")
    if array.dtype == bool:
        array = array.view(np.uint8)
    elif array.dtype.kind == "f":
        finite = np.isfinite(array).all()
        if not finite or not np.array_equal(array, np.round(array)):
            raise MedsegError(
                f"{name}: holds non-integer values (e.g. probabilities or intensities); "
                "a label map has whole-number labels. Threshold or argmax it first."
            )
        array = array.astype(np.int64 if array.max(initial=0) > np.iinfo(np.uint16).max else np.uint16)
    elif array.dtype.kind not in "iu":
        raise MedsegError(f"{name}: data type {array.dtype} is not a label map")
    if array.dtype.kind == "i" and array.size and array.min() < 0:
        raise MedsegError(f"{name}: holds negative values; labels must be >= 0")
    return np.ascontiguousarray(array)


def surface_distances(
    pred: np.ndarray,
    pred_idx: np.ndarray,
    ref: np.ndarray,
    ref_idx: np.ndarray,
    label: int,
    spacing: np.ndarray,
    surface: str = "voxel",
) -> tuple[np.ndarray, np.ndarray, SurfaceDistances]:
    """Surface points of both masks of ``label`` and their directed distances.

    Both masks must be non-empty. Returns ``(pred_points, ref_points, distances)``:
    surface element positions as (N, 3) array indices (cube origins for ``"area"``)
    and a :class:`SurfaceDistances`.
    """
    pb = boundary_voxels(pred, pred_idx, label)
    rb = boundary_voxels(ref, ref_idx, label)
    weights: tuple = (None, None)
    if surface == "area":
        pb, wp = surface_elements(pred, pb, label, tuple(spacing))
        rb, wr = surface_elements(ref, rb, label, tuple(spacing))
        weights = (wp, wr)
    dist = SurfaceDistances(grid_distances(pb, rb, spacing), grid_distances(rb, pb, spacing), *weights)
    return pb, rb, dist


def both_empty_record(label: int, tolerance_mm: float = 2.0, surface: str = "voxel") -> LabelMetrics:
    """The record of a label absent from both masks (e.g. missing from one case of many)."""
    return _record(int(label), 0, 0, 0, None, np.ones(3), tolerance_mm, surface)


def _record(
    label: int,
    n_pred: int,
    n_ref: int,
    n_both: int,
    dist: SurfaceDistances | None,
    spacing: np.ndarray,
    tolerance_mm: float,
    surface: str,
) -> LabelMetrics:
    hd_mm: float | None = None
    hd95_mm: float | None = None
    assd_mm: float | None = None
    if n_pred == 0 and n_ref == 0:
        status, dsc, jac, nsd = "both_empty", 1.0, 1.0, 1.0
        hd_mm = hd95_mm = assd_mm = 0.0
    elif n_pred == 0 or n_ref == 0:
        status, dsc, jac, nsd = ("pred_empty" if n_pred == 0 else "ref_empty"), 0.0, 0.0, 0.0
    elif dist is None:
        raise ValueError(f"label {label}: surface distances are needed when both masks hold it")
    else:
        status, dsc, jac, nsd = (
            "ok",
            dice(n_pred, n_ref, n_both),
            jaccard(n_pred, n_ref, n_both),
            dist.surface_dice(tolerance_mm),
        )
        hd_mm, hd95_mm, assd_mm = dist.hausdorff(), dist.hausdorff_percentile(95.0), dist.average_symmetric()
    return LabelMetrics(
        label=label,
        dice=dsc,
        jaccard=jac,
        hd_mm=hd_mm,
        hd95_mm=hd95_mm,
        assd_mm=assd_mm,
        nsd=nsd,
        volume_pred_ml=volume_ml(n_pred, spacing),
        volume_ref_ml=volume_ml(n_ref, spacing),
        volume_diff_ml=volume_ml(n_pred - n_ref, spacing),
        status=status,
        tolerance_mm=float(tolerance_mm),
        surface=surface,
    )


def evaluate_labels(
    pred,
    ref,
    spacing: Sequence[float],
    *,
    labels: Sequence[int] | None = None,
    tolerance_mm: float = 2.0,
    surface: str = "voxel",
    progress: Callable[[int, int], None] | None = None,
) -> list[LabelMetrics]:
    """Per-label metrics of a predicted label map against a reference.

    Parameters
    ----------
    pred, ref : (Z, Y, X) array_like of whole numbers >= 0
        Label maps on the same voxel grid (0 = background). Floats with whole values
        are accepted; other floats raise :class:`~napari_medseg.errors.MedsegError`.
    spacing : sequence of 3 float
        Voxel size in mm along array axes 0, 1, 2 (distances are in mm).
    labels : sequence of int, optional
        Labels to evaluate; default: every non-zero label present in either map.
        A label absent from both gets a ``both_empty`` record.
    tolerance_mm : float
        Tolerance of the normalised surface Dice, mm (default 2.0).
    surface : {"voxel", "area"}
        Surface elements: face-connected boundary voxels (MONAI), or area-weighted
        2x2x2 surface elements (DeepMind). See the module docstring.
    progress : callable(done, total), optional
        Called after each label.

    Returns
    -------
    list of LabelMetrics
        One per label, in increasing label order.
    """
    pred = as_label_array(pred, "prediction")
    ref = as_label_array(ref, "reference")
    if pred.shape != ref.shape:
        raise MedsegError(f"prediction shape {pred.shape} differs from reference shape {ref.shape}")
    spacing_mm = np.asarray(spacing, dtype=float)
    if spacing_mm.shape != (3,) or not np.all(spacing_mm > 0):
        raise MedsegError(f"spacing must be 3 positive numbers (mm); got {spacing_mm.tolist()}")
    if surface not in SURFACES:
        raise MedsegError(f"surface must be one of {', '.join(SURFACES)}; got {surface!r}")
    if not np.isfinite(tolerance_mm) or tolerance_mm < 0:
        raise MedsegError(f"tolerance must be a finite number of mm >= 0; got {tolerance_mm}")
    pred_voxels, ref_voxels = label_voxel_indices(pred), label_voxel_indices(ref)
    wanted = sorted(set(pred_voxels) | set(ref_voxels)) if labels is None else sorted({int(v) for v in labels})
    if wanted and wanted[0] < 1:
        raise MedsegError(f"labels to evaluate must be >= 1 (0 is background); got {wanted[0]}")
    empty = np.empty(0, dtype=np.int64)
    records: list[LabelMetrics] = []
    for done, label in enumerate(wanted, start=1):
        pi, ri = pred_voxels.get(label, empty), ref_voxels.get(label, empty)
        dist, n_both = None, 0
        if pi.size and ri.size:
            n_both = count_overlap(ref, pi, label)
            dist = surface_distances(pred, pi, ref, ri, label, spacing_mm, surface)[2]
        records.append(_record(label, pi.size, ri.size, n_both, dist, spacing_mm, tolerance_mm, surface))
        if progress is not None:
            progress(done, len(wanted))
    return records


@dataclass(frozen=True)
class Evaluation:
    """The records of :func:`evaluate_volumes` and how the grids were matched.

    Attributes
    ----------
    records : list of LabelMetrics
    resampled : bool
        True when the prediction was resampled (nearest neighbour) onto the
        reference grid before evaluation.
    note : str
        One line for the user saying so ("" when not resampled).
    """

    records: list[LabelMetrics]
    resampled: bool = False
    note: str = ""


def evaluate_volumes(pred, ref, *, resample: bool = False, **options) -> Evaluation:
    """Per-label metrics of two label :class:`~napari_medseg.volume.Volume` s.

    Spacing (mm) comes from the reference's affine. The volumes must be on the same
    voxel grid (shape and voxel centres within 1e-3 mm), else
    :class:`~napari_medseg.errors.GridMismatchError` names both grids; with
    ``resample=True`` the prediction is resampled onto the reference grid by nearest
    neighbour instead, and the result says so. A sheared reference grid (axes not
    perpendicular) raises :class:`~napari_medseg.errors.MedsegError`. ``options`` are those of
    :func:`evaluate_labels` (``labels``, ``tolerance_mm``, ``surface``, ``progress``).
    """
    from .grids import check_same_grid, resample_labels_nearest

    gram = ref.direction.T @ ref.direction
    if np.abs(gram - np.eye(3)).max() > 1e-3:
        raise MedsegError(
            f"reference grid axes are not perpendicular ({ref.describe_grid()}; a sheared grid, "
            "e.g. CT with gantry tilt): distances from voxel spacing would be wrong. "
            "Resample both volumes onto a rectilinear grid first."
        )
    resampled, note = False, ""
    if not pred.same_grid(ref):
        if not resample:
            check_same_grid(pred, ref)
        note = (
            f"prediction resampled (nearest neighbour) from {pred.describe_grid()} "
            f"onto the reference grid {ref.describe_grid()}"
        )
        pred, resampled = resample_labels_nearest(pred, ref), True
    records = evaluate_labels(pred.array, ref.array, ref.spacing, **options)
    return Evaluation(records, resampled, note)
