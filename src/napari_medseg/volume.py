"""The volume type that flows through napari-medseg, and its one geometry convention.

Convention (the only one used inside the package)
-------------------------------------------------
* **Patient space is LPS, in millimetres** (DICOM / ITK): +x towards the patient's
  Left, +y towards Posterior, +z towards Superior. NIfTI's RAS is converted on read
  and back on write; nothing else in the package sees RAS.
* **Array axes are (z, y, x)-like**: every reader reorders the voxel array, with
  transposes and flips only (lossless, no resampling), so that array axis 0 points
  closest to +z (Superior), axis 1 closest to +y (Posterior) and axis 2 closest to
  +x (Left). ``volume.array[k]`` is therefore an axial slice seen the radiological
  way: anterior at the top, the patient's right on the left of the screen.
* ``Volume.affine`` is a 4x4 matrix mapping an array index ``(a0, a1, a2, 1)``
  (voxel centres) to patient LPS coordinates ``(x, y, z, 1)`` in mm.
* **napari world axes are LPS reversed**: ``(z, y, x) = (S, P, L)`` in mm. With the
  array in the orientation above, the napari transform is (nearly) diagonal with
  positive scales, so the default camera shows slices radiologically and the cursor
  reads scanner millimetres.
* ``Volume.file_order`` remembers how the array was reordered from the voxel order
  of the file it came from, so labels are written back on the source's exact grid,
  voxel order and affine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "FileOrder",
    "affine_problem",
    "Volume",
    "canonical_file_order",
    "napari_affine",
    "affine_from_napari",
    "smallest_label_dtype",
]

_LPS_TO_NAPARI = np.array(
    [[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=float
)  # swaps x and z: LPS (x, y, z) <-> napari world (z, y, x); its own inverse
_AXES = _LPS_TO_NAPARI[:3, :3]  # canonical directions: array axis 0 -> +z, 1 -> +y, 2 -> +x


@dataclass(frozen=True)
class FileOrder:
    """How a volume's array was reordered from its file's voxel order.

    ``array = np.flip(file_array, flips).transpose(perm)``: array axis ``n`` is file
    axis ``perm[n]``, and the file axes listed in ``flips`` were reversed first.
    """

    perm: tuple[int, int, int] = (0, 1, 2)
    flips: tuple[int, ...] = ()

    def to_canonical(self, file_array: np.ndarray) -> np.ndarray:
        """Reorder an array from file voxel order to the volume's (z, y, x) order (a view)."""
        return np.flip(file_array, self.flips).transpose(self.perm) if self.flips else file_array.transpose(self.perm)

    def to_file(self, array: np.ndarray) -> np.ndarray:
        """Reorder an array from the volume's order back to file voxel order (a view)."""
        restored = array.transpose(np.argsort(self.perm))
        return np.flip(restored, self.flips) if self.flips else restored

    def index_transform(self, file_shape: tuple[int, ...]) -> np.ndarray:
        """4x4 matrix mapping a canonical array index to the file's voxel index."""
        t = np.zeros((4, 4))
        t[3, 3] = 1.0
        for new_axis, file_axis in enumerate(self.perm):
            if file_axis in self.flips:
                t[file_axis, new_axis] = -1.0
                t[file_axis, 3] = file_shape[file_axis] - 1
            else:
                t[file_axis, new_axis] = 1.0
        return t


#: Axes closer to collinear than this (|det| over the product of the voxel sizes) make no volume.
MIN_AXES_VOLUME = 1e-6
#: No scanner places a voxel a kilometre away: larger affine entries are a broken header.
MAX_COORDINATE_MM = 1e6


def affine_problem(affine_lps: np.ndarray) -> str | None:
    """What makes an affine unusable as voxel geometry, or None when it is usable.

    Parameters
    ----------
    affine_lps : (4, 4) array_like
        Voxel index -> LPS mm.

    Returns
    -------
    str or None
        A NaN or infinite entry, an entry beyond :data:`MAX_COORDINATE_MM`, a zero voxel
        size along an axis, or axes that are (nearly) collinear: such a header places no
        voxel anywhere sensible.
    """
    affine = np.asarray(affine_lps, dtype=float)
    if not np.all(np.isfinite(affine)):
        return "its geometry (voxel size, orientation or origin) holds NaN or infinite values"
    if np.abs(affine[:3]).max() > MAX_COORDINATE_MM:
        return f"its geometry places voxels {np.abs(affine[:3]).max():.3g} mm away (over {MAX_COORDINATE_MM:g} mm)"
    sizes = np.linalg.norm(affine[:3, :3], axis=0)
    if np.any(sizes == 0):
        return f"a voxel size of 0 mm along axis {int(np.argmin(sizes))}"
    if abs(np.linalg.det(affine[:3, :3])) <= MIN_AXES_VOLUME * float(np.prod(sizes)):
        return "its voxel axes are parallel (singular orientation)"
    return None


def canonical_file_order(affine_lps: np.ndarray) -> FileOrder:
    """The reordering that makes array axes point closest to (+z, +y, +x) in LPS.

    Parameters
    ----------
    affine_lps : (4, 4) ndarray
        Maps the file's voxel index to LPS mm.

    Raises
    ------
    ValueError
        For an unusable affine (see :func:`affine_problem`).
    """
    import nibabel.orientations as nio

    problem = affine_problem(affine_lps)
    if problem is not None:
        raise ValueError(problem)
    ornt = nio.io_orientation(affine_lps)  # per file axis: (LPS axis, sign)
    perm = [0, 0, 0]
    flips = []
    for file_axis, (lps_axis, sign) in enumerate(ornt):
        perm[2 - int(lps_axis)] = file_axis
        if sign < 0:
            flips.append(file_axis)
    return FileOrder((perm[0], perm[1], perm[2]), tuple(flips))


@dataclass
class Volume:
    """A 3D image or label volume with its geometry.

    Attributes
    ----------
    array : (Z, Y, X) ndarray
        Voxel values, axes ordered closest to (Superior, Posterior, Left); see the
        module docstring. Intensities are already rescaled (DICOM slope/intercept,
        NIfTI scl_slope).
    affine : (4, 4) ndarray
        Array index -> patient LPS mm.
    file_order : FileOrder
        How ``array`` was reordered from the source file's voxel order.
    meta : dict
        Provenance: ``path``, ``modality``, ``series_uid``, ``description``,
        ``warnings`` (list of str) and reader-specific entries.
    """

    array: np.ndarray
    affine: np.ndarray
    file_order: FileOrder = FileOrder()
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.affine = np.asarray(self.affine, dtype=float)
        if self.array.ndim != 3:
            raise ValueError(f"a Volume is 3D; got an array of shape {self.array.shape}")
        if self.affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4; got {self.affine.shape}")
        self.meta.setdefault("warnings", [])

    @classmethod
    def from_file_order(cls, file_array: np.ndarray, file_affine_lps: np.ndarray, meta: dict | None = None) -> Volume:
        """Build a volume from an array in file voxel order and its LPS affine.

        The array is reordered (a view: transposes and flips only) to the package's
        (z, y, x) convention and the affine adjusted to match.

        Raises
        ------
        VolumeReadError
            An unusable affine (NaN, zero voxel size, parallel axes) or an empty axis;
            the message names ``meta['path']``.
        """
        from .errors import VolumeReadError

        source = (meta or {}).get("path", "volume")
        if 0 in file_array.shape:
            raise VolumeReadError(f"{source}: an image with no voxels (shape {tuple(file_array.shape)})")
        try:
            order = canonical_file_order(file_affine_lps)
        except ValueError as exc:
            raise VolumeReadError(f"{source}: unusable geometry: {exc}") from None
        affine = np.asarray(file_affine_lps, float) @ order.index_transform(file_array.shape)
        return cls(order.to_canonical(file_array), affine, order, dict(meta or {}))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)

    @property
    def spacing(self) -> np.ndarray:
        """Voxel size along array axes 0, 1, 2 in mm."""
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    @property
    def direction(self) -> np.ndarray:
        """Unit direction (LPS) of each array axis, as columns of a 3x3 matrix."""
        return self.affine[:3, :3] / self.spacing

    @property
    def origin(self) -> np.ndarray:
        """LPS position (mm) of the centre of voxel (0, 0, 0)."""
        return self.affine[:3, 3].copy()

    @property
    def is_oblique(self) -> bool:
        """True when some array axis is tilted away from its patient axis (> 1e-4 rad)."""
        return bool(np.abs(self.direction - _AXES).max() > 1e-4)

    @property
    def obliquity_deg(self) -> float:
        """Largest angle (degrees) between an array axis and the patient axis it stands for."""
        cosines = np.clip(np.sum(self.direction * _AXES, axis=0), -1.0, 1.0)
        return float(np.degrees(np.arccos(cosines.min())))

    @property
    def file_shape(self) -> tuple[int, ...]:
        return tuple(np.array(self.array.shape)[np.argsort(self.file_order.perm)])

    @property
    def file_affine(self) -> np.ndarray:
        """LPS affine of the source file's voxel order."""
        t = self.file_order.index_transform(self.file_shape)
        return self.affine @ np.linalg.inv(t)

    def to_file_order(self, array: np.ndarray | None = None) -> np.ndarray:
        """An array on this volume's grid, reordered to the source file's voxel order."""
        return self.file_order.to_file(self.array if array is None else array)

    def with_array(self, array: np.ndarray, **meta: Any) -> Volume:
        """A new volume on the same grid (e.g. a label map), sharing the geometry."""
        if array.shape != self.array.shape:
            raise ValueError(f"array shape {array.shape} does not match the volume's grid {self.array.shape}")
        new_meta = {k: v for k, v in self.meta.items() if k not in ("warnings",)}
        new_meta.update(meta)
        return Volume(array, self.affine.copy(), self.file_order, new_meta)

    def same_grid(self, other: Volume, atol: float = 1e-3) -> bool:
        """True when both volumes have the same shape and voxel centres (within ``atol`` mm)."""
        return self.shape == other.shape and np.allclose(self.affine, other.affine, atol=atol)

    def describe_grid(self) -> str:
        """One line: shape, spacing and origin, for error messages."""
        sp = ", ".join(f"{s:.4g}" for s in self.spacing)
        og = ", ".join(f"{o:.4g}" for o in self.origin)
        return f"shape {self.shape}, spacing ({sp}) mm, origin ({og}) mm LPS"


def napari_affine(affine_lps: np.ndarray) -> np.ndarray:
    """napari layer affine (data index -> world (z, y, x) = (S, P, L) mm) for an LPS affine."""
    return _LPS_TO_NAPARI @ np.asarray(affine_lps, float)


def affine_from_napari(layer_affine: np.ndarray) -> np.ndarray:
    """Inverse of :func:`napari_affine`: the LPS affine of a napari layer's data."""
    return _LPS_TO_NAPARI @ np.asarray(layer_affine, float)


def smallest_label_dtype(labels: np.ndarray) -> np.dtype:
    """Smallest unsigned integer dtype that holds every value of ``labels``.

    Raises ``ValueError`` for negative or non-integer labels.
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        return np.dtype(np.uint8)
    lo, hi = labels.min(), labels.max()
    if lo < 0:
        raise ValueError(f"labels must be >= 0; found {lo}")
    if labels.dtype.kind == "f" and not np.all(np.mod(labels, 1) == 0):
        raise ValueError("labels must be whole numbers")
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if hi <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ValueError(f"label value {hi} too large")
