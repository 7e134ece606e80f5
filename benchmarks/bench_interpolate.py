"""Fill between slices: signed-distance interpolation (ours) beside ITK's MorphologicalContourInterpolator.

Protocol: for each structure, keep its true cross-sections on every 4th slice along one
axis (from its first slice: k0, k0 + 4, ...), erase the rest, fill between the kept
slices with each method, and compare with the truth by Dice over the span from the first
to the last kept slice (slices beyond the last kept one cannot be filled by either
method and are left out for both). Times are wall seconds per structure, one CPU thread
for ITK (``SetNumberOfWorkUnits(1)``, the filter alone) and ours (single-threaded scipy).

Structures
----------
compact organs (target Dice >= 0.95): the sample CT phantom's liver-like organ
    (1 x 1 x 2.5 mm, so every 4th slice is every 10 mm) and four synthetic organ-like
    blobs (ellipsoids with smooth random radial harmonics, 30-120 ml) on the same grid;
lobed or thin (target Dice >= 0.85): the lateral ventricles and the deep grey nuclei
    (thalamus, caudate, putamen; several components per slice) of the 1 mm MNI ICBM152
    template (from nilearn's grey / white matter maps: ventricles = brain interior with
    GM + WM < 0.3, nuclei = GM > 0.5 deeper than 14 mm inside the brain, both in a box
    around the midline), along each of the three axes; a synthetic five-lobed column that
    twists along its axis and a curved tube 3 mm in radius (1 mm voxels).

ITK's filter comes from ``pip install itk-morphologicalcontourinterpolation`` (it pulls
the ``itk`` packages, about 280 MB of wheels); without it only our column is printed. ITK runs in
a child process (``itk_mci_child.py``): its wheels abort now and then in the interpreter's teardown.

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_interpolate.py
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import nilearn
import numpy as np
from scipy import ndimage as ndi

from napari_medseg.interpolate import fill_between_slices
from napari_medseg.io import read_volume
from napari_medseg.samples import ct_phantom_paths

STEP = 4
MNI = str(Path(nilearn.__file__).parent / "datasets" / "data" / "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz")


def organ_blob(shape, spacing, volume_ml: float, seed: int) -> np.ndarray:
    """An organ-like blob: an ellipsoid whose radius varies smoothly with direction (low harmonics)."""
    rng = np.random.default_rng(seed)
    mm = [(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)]
    z, y, x = np.meshgrid(*mm, indexing="ij")
    semi = rng.uniform(0.7, 1.3, 3)
    semi *= (3 * volume_ml * 1000 / (4 * np.pi * np.prod(semi))) ** (1 / 3)
    r = np.sqrt((z / semi[0]) ** 2 + (y / semi[1]) ** 2 + (x / semi[2]) ** 2) + 1e-9
    theta, phi = np.arccos(np.clip(z / semi[0] / r, -1, 1)), np.arctan2(y / semi[1], x / semi[2])
    radius = 1.0
    for _ in range(4):
        lm = rng.integers(1, 4, 2)
        radius = radius + rng.uniform(-0.08, 0.08) * np.cos(lm[0] * theta + rng.uniform(0, 6)) * np.cos(
            lm[1] * phi + rng.uniform(0, 6)
        )
    return r < radius


def lobed_column(shape=(90, 120, 120), lobes: int = 5) -> np.ndarray:
    """A column whose cross-section has ``lobes`` lobes, twisting by 60 degrees along axis 0 (1 mm voxels)."""
    z, y, x = np.indices(shape, dtype=float)
    y, x = y - shape[1] / 2, x - shape[2] / 2
    angle = np.arctan2(y, x) - np.deg2rad(60) * z / shape[0]
    radius = 30 + 14 * np.cos(lobes * angle) - 10 * np.abs(z / shape[0] - 0.5)
    inside = np.hypot(y, x) < radius
    inside[:5], inside[-5:] = False, False
    return inside


def curved_tube(shape=(90, 100, 100), radius_mm: float = 3.0) -> np.ndarray:
    """A tube of ``radius_mm`` whose centre line bends in both in-plane directions along axis 0 (1 mm voxels)."""
    z, y, x = np.indices(shape, dtype=float)
    cy = shape[1] / 2 + 25 * np.sin(z / shape[0] * np.pi)
    cx = shape[2] / 2 + 20 * np.sin(z / shape[0] * 2 * np.pi)
    inside = np.hypot(y - cy, x - cx) < radius_mm
    inside[:5], inside[-5:] = False, False
    return inside


def mni_structures() -> dict[str, np.ndarray]:
    """Lateral ventricles and deep grey nuclei of the 1 mm MNI template (RAS voxel order, 1 mm)."""
    gm_img = nib.load(MNI.format("gm"))
    gm = np.asanyarray(gm_img.dataobj) / 255.0
    wm = np.asanyarray(nib.load(MNI.format("wm")).dataobj) / 255.0
    ijk = np.indices(gm.shape).reshape(3, -1)
    x, y, z = (gm_img.affine[:3, :3] @ ijk + gm_img.affine[:3, 3:]).reshape((3, *gm.shape))
    brain = ndi.binary_fill_holes(gm + wm > 0.5)
    depth = ndi.distance_transform_edt(brain)

    def box(half_x, ys, zs):
        return (np.abs(x) < half_x) & (y > ys[0]) & (y < ys[1]) & (z > zs[0]) & (z < zs[1])

    def big_parts(mask, min_voxels=300):
        lab, n = ndi.label(mask)
        sizes = ndi.sum(mask, lab, range(1, n + 1))
        return np.isin(lab, 1 + np.flatnonzero(sizes >= min_voxels))

    return {
        "lateral ventricles": big_parts(brain & (gm + wm < 0.3) & box(30, (-50, 35), (-10, 35)) & (depth > 8)),
        "deep grey nuclei": big_parts((gm > 0.5) & box(35, (-40, 30), (-15, 25)) & (depth > 14)),
    }


def structures():
    """(name, group, mask, spacing (mm, array axes), axes to test)."""
    ct = read_volume(ct_phantom_paths()[1])
    organ = ct.array > 0
    out = [("CT phantom liver-like organ", "compact", organ, tuple(ct.spacing), (0,))]
    grid, spacing = (64, 200, 200), (2.5, 1.0, 1.0)
    for seed, ml in zip(range(4), (30, 60, 90, 120)):
        out.append((f"synthetic organ {ml} ml", "compact", organ_blob(grid, spacing, ml, seed), spacing, (0,)))
    for name, mask in mni_structures().items():
        out.append((f"MNI {name}", "lobed/thin", mask, (1.0, 1.0, 1.0), (0, 1, 2)))
    out.append(("twisting five-lobed column", "lobed/thin", lobed_column(), (1.0, 1.0, 1.0), (0,)))
    out.append(("curved tube, radius 3 mm", "lobed/thin", curved_tube(), (1.0, 1.0, 1.0), (0,)))
    return out


def sparse_contours(mask: np.ndarray, axis: int) -> tuple[np.ndarray, slice]:
    """The mask on every STEP-th slice of its extent along ``axis`` (uint8), and the span they cover."""
    present = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
    kept = np.arange(present[0], present[-1] + 1, STEP)
    sparse = np.zeros(mask.shape, np.uint8)
    index = [slice(None)] * 3
    index[axis] = kept
    sparse[tuple(index)] = mask[tuple(index)]
    return sparse, slice(int(kept[0]), int(kept[-1]) + 1)


def itk_fill_all(jobs: list[tuple[np.ndarray, int, tuple]]) -> list[tuple[np.ndarray, float]] | None:
    """ITK's MorphologicalContourInterpolator (3D Slicer's defaults) on each (sparse mask, axis, spacing).

    Runs in a child process (``itk_mci_child.py``, numpy and itk only). Returns (filled mask,
    seconds) per job, or None when ``itk-morphologicalcontourinterpolation`` is not installed.
    """
    if importlib.util.find_spec("itk") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        arrays = {}
        for i, (sparse, axis, spacing) in enumerate(jobs):
            arrays.update({f"mask_{i}": sparse, f"axis_{i}": axis, f"spacing_{i}": np.asarray(spacing, float)})
        np.savez(source, **arrays)
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("itk_mci_child.py")), str(source), str(target)], check=True
        )
        done = np.load(target)
        return [(done[f"out_{i}"], float(done[f"seconds_{i}"])) for i in range(len(jobs))]


def dice_in_span(result: np.ndarray, truth: np.ndarray, axis: int, span: slice) -> float:
    index = [slice(None)] * 3
    index[axis] = span
    a, b = result[tuple(index)], truth[tuple(index)]
    return float(2 * np.logical_and(a, b).sum() / (a.sum() + b.sum()))


def main() -> None:
    rows, jobs = [], []
    for name, group, mask, spacing, axes in structures():
        for axis in axes:
            sparse, span = sparse_contours(mask, axis)
            start = time.perf_counter()
            ours = fill_between_slices(sparse, 1, axis, spacing) == 1
            seconds = time.perf_counter() - start
            rows.append(
                (
                    name,
                    group,
                    axis,
                    mask.sum() * np.prod(spacing) / 1000,
                    dice_in_span(ours, mask, axis, span),
                    seconds,
                    mask,
                    span,
                )
            )
            jobs.append((sparse, axis, spacing))
    theirs = itk_fill_all(jobs)
    print(f"contours kept on every {STEP}th slice; Dice over the span of the kept slices; seconds per structure\n")
    print("| structure | group | axis | volume (ml) | Dice signed distance (ours) | Dice ITK MCI | s ours | s ITK |")
    print("|---|---|---|---|---|---|---|---|")
    groups: dict[str, dict[str, list[float]]] = {}
    for i, (name, group, axis, ml, d_ours, t_ours, mask, span) in enumerate(rows):
        d_itk = dice_in_span(theirs[i][0], mask, axis, span) if theirs else float("nan")
        itk_s = f"{theirs[i][1]:.2f}" if theirs else "-"
        groups.setdefault(group, {"ours": [], "itk": []})
        groups[group]["ours"].append(d_ours)
        groups[group]["itk"].append(d_itk)
        print(f"| {name} | {group} | {axis} | {ml:.1f} | {d_ours:.3f} | {d_itk:.3f} | {t_ours:.2f} | {itk_s} |")
    print()
    for group, d in groups.items():
        print(
            f"{group}: mean Dice ours {np.mean(d['ours']):.3f} (min {np.min(d['ours']):.3f}), "
            f"ITK {np.mean(d['itk']):.3f} (min {np.min(d['itk']):.3f})"
        )


if __name__ == "__main__":
    main()
