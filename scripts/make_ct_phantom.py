"""Generate ``ct_phantom/`` (a synthetic abdominal CT DICOM series) and its organ truth.

Run: ``python scripts/make_ct_phantom.py [OUT_DIR]`` (default: the package's ``sample_data/``).
Seeded and with fixed UIDs, so a re-run writes byte-identical files.

Geometry: 40 axial slices of 160 x 160 pixels, 1.0 x 1.0 mm, 2.5 mm apart, centred
on the LPS origin. Stored values are int16 HU + 1024 with RescaleIntercept -1024.
Tissues (HU): air -1000, subcutaneous and intra-abdominal fat -100/-90, abdominal
wall and psoas muscles 45-50, kidneys 30, a compact liver-like organ 60 on the
patient's right, vertebra 750 with posterior elements 850; Gaussian noise
(sigma 12 HU inside the body) after a slight partial-volume blur.

``ct_phantom_organ.nii.gz`` holds the organ (label 1) on the grid of the series as
the reader loads it (written with ``napari_medseg.io.write_labels``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid
from scipy.ndimage import gaussian_filter

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "src" / "napari_medseg" / "sample_data"
sys.path.insert(0, str(ROOT / "tests"))

from dicom_factory import write_series  # noqa: E402
from napari_medseg.io import read_volume, write_labels  # noqa: E402

SHAPE = (40, 160, 160)  # (slice, row, column)
PIXEL_MM, SLICE_MM = 1.0, 2.5
ORIGIN = (-79.5, -79.5, -48.75)  # LPS mm of the first voxel centre
ORGAN_HU = 60.0


def grid_mm() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LPS coordinates (x, y, z) in mm of every voxel centre, each of shape SHAPE."""
    k, r, c = np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij")
    return ORIGIN[0] + c * PIXEL_MM, ORIGIN[1] + r * PIXEL_MM, ORIGIN[2] + k * SLICE_MM


def ellipsoid(x, y, z, centre, semi) -> np.ndarray:
    """Normalised squared radius of an axis-aligned ellipsoid (< 1 inside)."""
    return sum(((v - c) / s) ** 2 for v, c, s in zip((x, y, z), centre, semi))


def organ_mask(x, y, z) -> np.ndarray:
    """The liver-like organ: a smoothly lobed ellipsoid on the patient's right (x < 0)."""
    dx, dy, dz = x + 28.0, y + 12.0, z - 5.0
    angle = np.arctan2(dy, dx)
    lobes = 1.0 + 0.08 * np.cos(2 * angle) + 0.05 * np.sin(3 * angle + 0.4)  # gentle, convex-ish
    return (dx / 22.0) ** 2 + (dy / 20.0) ** 2 + (dz / 25.0) ** 2 < lobes**2


def phantom() -> tuple[np.ndarray, np.ndarray]:
    """(HU image as float, organ mask), both (slice, row, column)."""
    x, y, z = grid_mm()
    rng = np.random.default_rng(20240611)
    body = (x / 72.0) ** 2 + ((y - 5.0) / 58.0) ** 2
    hu = np.full(SHAPE, -1000.0)
    hu[body < 1.0] = -100.0  # subcutaneous fat
    hu[body < 0.88**2] = 45.0  # abdominal wall muscle
    cavity = body < 0.80**2
    hu[cavity] = -90.0  # intra-abdominal fat
    for side in (-1, 1):
        hu[(ellipsoid(x, y, z, (side * 22.0, 38.0, 0.0), (9.0, 12.0, 1e3)) < 1) & cavity] = 50.0  # psoas
        hu[ellipsoid(x, y, z, (side * 45.0, 25.0, -25.0), (13.0, 14.0, 25.0)) < 1] = 30.0  # kidneys
    hu[ellipsoid(x, y, z, (0.0, 35.0, 0.0), (14.0, 12.0, 1e3)) < 1] = 750.0  # vertebral body
    hu[ellipsoid(x, y, z, (0.0, 58.0, 0.0), (7.0, 8.0, 1e3)) < 1] = 850.0  # posterior elements
    hu[ellipsoid(x, y, z, (0.0, 50.0, 0.0), (5.0, 4.0, 1e3)) < 1] = 10.0  # spinal canal
    organ = organ_mask(x, y, z) & cavity
    hu[organ] = ORGAN_HU
    hu = gaussian_filter(hu, sigma=(0.3, 0.6, 0.6))  # partial volume at edges
    inside = body < 1.0
    hu += rng.normal(0.0, 1.0, SHAPE) * np.where(inside, 12.0, 4.0)
    return hu, organ


def main(out_dir: Path = SAMPLE_DATA) -> None:
    """Write ``ct_phantom/`` and ``ct_phantom_organ.nii.gz`` into ``out_dir``."""
    out_dir = Path(out_dir)
    hu, organ = phantom()
    stored = np.clip(np.rint(hu) + 1024, 0, 4095).astype(np.int16)
    out = out_dir / "ct_phantom"
    if out.exists():
        shutil.rmtree(out)
    series_uid = generate_uid(entropy_srcs=["napari-medseg", "ct phantom", "series"])
    write_series(
        out,
        stored,
        origin=ORIGIN,
        pixel_spacing=(PIXEL_MM, PIXEL_MM),
        slice_spacing=SLICE_MM,
        intercept=-1024,
        series_uid=series_uid,
        study_uid=generate_uid(entropy_srcs=["napari-medseg", "ct phantom", "study"]),
        frame_uid=generate_uid(entropy_srcs=["napari-medseg", "ct phantom", "frame"]),
        description="Synthetic abdominal CT phantom",
        window=(40.0, 400.0),
    )
    ct = read_volume(out)
    mask = ct.file_order.to_canonical(
        organ.astype(np.uint8).transpose(2, 1, 0)
    )  # (slice, row, col) -> file (col, row, slice)
    write_labels(out_dir / "ct_phantom_organ.nii.gz", mask, ct)
    slices = np.flatnonzero(organ.any(axis=(1, 2)))
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    print(f"wrote {out} ({len(list(out.iterdir()))} files, {size:.2f} MiB): shape {ct.shape}, spacing {ct.spacing} mm")
    print(
        f"organ: {int(organ.sum())} voxels ({organ.sum() * PIXEL_MM**2 * SLICE_MM / 1000:.1f} mL), "
        f"slices {slices.min()}-{slices.max()} ({len(slices)}), mean {ct.array[mask > 0].mean():.1f} HU; "
        f"surrounding fat {ct.array[(ct.array < -50) & (ct.array > -150)].mean():.1f} HU"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE_DATA)
