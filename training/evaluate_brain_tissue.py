"""Dice of the shipped ``brain-tissue`` model on the sample MRI and on held-out variants of it.

Each variant is built from the 1 mm MNI ICBM152 T1 and its GM/WM probability maps
(nilearn), on grids and with intensity changes the training never produced exactly;
its truth follows the sample's rule (:func:`napari_medseg.samples.brain_tissue_labels`
on the probability maps resampled the same way). The model runs through the product
path, :func:`napari_medseg.models.segment.segment_volume` on the CPU, so resampling to
2 mm and back to each variant's grid is part of what is measured.

Run::

    .venv/bin/python training/evaluate_brain_tissue.py                  # prints the table
    .venv/bin/python training/evaluate_brain_tissue.py --write-readme   # and updates the bundle README

Deterministic: fixed seeds, no random state outside them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nibabel as nib
import nilearn
import numpy as np
import torch
from nibabel.processing import resample_from_to
from scipy.ndimage import gaussian_filter

from napari_medseg.models.segment import segment_volume
from napari_medseg.samples import brain_tissue_labels, load_brain_mri
from napari_medseg.volume import Volume

MNI = str(Path(nilearn.__file__).parent / "datasets" / "data" / "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz")
README = (
    Path(__file__).resolve().parents[1] / "src" / "napari_medseg" / "models" / "bundles" / "brain_tissue" / "README.md"
)
BEGIN, END = "<!-- held-out table: begin -->", "<!-- held-out table: end -->"
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def rotation(axis, degrees: float) -> np.ndarray:
    """3x3 rotation about ``axis`` (Rodrigues)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    a = np.deg2rad(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def mni() -> dict[str, nib.Nifti1Image]:
    """The 1 mm T1 and the GM/WM probability maps (float32, probabilities in [0, 1])."""
    out = {}
    for key in ("t1", "gm", "wm"):
        img = nib.load(MNI.format(key))
        data = np.asanyarray(img.dataobj).astype(np.float32)
        out[key] = nib.Nifti1Image(data if key == "t1" else data / 255.0, img.affine)
    return out


def on_grid(images: dict, voxel_mm: float, rotate_deg: float = 0.0, offset_mm=(0.0, 0.0, 0.0)):
    """T1 and truth labels on an isotropic ``voxel_mm`` grid, optionally rotated (oblique).

    The 1 mm images are smoothed to the target resolution (Gaussian, FWHM = voxel size)
    before linear resampling, as an acquisition at that resolution would average.

    Returns
    -------
    (t1, labels) : Volume, Volume
    """
    src = images["t1"]
    centre = src.affine[:3, :3] @ (np.array(src.shape) - 1) / 2 + src.affine[:3, 3]
    extent = np.array(src.shape) * 1.0
    shape = tuple(int(np.ceil(e / voxel_mm)) + 2 for e in extent)
    lin = rotation([1.0, 0.4, 0.2], rotate_deg) * voxel_mm
    affine = np.eye(4)
    affine[:3, :3] = lin
    affine[:3, 3] = centre - lin @ (np.array(shape) - 1) / 2 + np.asarray(offset_mm)
    sigma = max(voxel_mm**2 - 1.0, 0.0) ** 0.5 / 2.355
    smooth = {
        k: nib.Nifti1Image(
            gaussian_filter(np.asanyarray(v.dataobj), sigma) if sigma else np.asanyarray(v.dataobj), v.affine
        )
        for k, v in images.items()
    }
    grid = (shape, affine)
    t1 = resample_from_to(smooth["t1"], grid, order=1).get_fdata(dtype=np.float32)
    gm = resample_from_to(smooth["gm"], grid, order=1).get_fdata(dtype=np.float32)
    wm = resample_from_to(smooth["wm"], grid, order=1).get_fdata(dtype=np.float32)
    t1[t1 < 1e-3] = 0
    lps = _RAS_TO_LPS @ affine
    return (
        Volume.from_file_order(np.round(t1).astype(np.int16), lps),
        Volume.from_file_order(brain_tissue_labels(gm, wm), lps),
    )


def bias_field(shape, strength: float = 0.35, seed: int = 7) -> np.ndarray:
    """A smooth multiplicative field in [1 - strength, 1 + strength] (random low-order polynomial)."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij")
    field = sum(rng.uniform(-1, 1) * g + rng.uniform(-1, 1) * g**2 for g in grids)
    field = field / np.abs(field).max()
    return 1.0 + strength * field


def with_intensity(volume: Volume, array: np.ndarray) -> Volume:
    out = np.where(volume.array > 0, np.clip(array, 1, None), 0)
    return volume.with_array(np.round(out).astype(np.int16))


def variants():
    """(name, description, T1 volume, truth volume) for the sample and each held-out variant."""
    t1, truth = load_brain_mri()
    base = t1.array.astype(np.float32)
    brain = base > 0
    top = np.percentile(base[brain], 99.5)
    rng = np.random.default_rng(11)
    yield "sample (2 mm)", "the shipped sample as is", t1, truth
    yield (
        "bias field",
        "x a smooth polynomial field, 0.65-1.35",
        with_intensity(t1, base * bias_field(base.shape)),
        truth,
    )
    yield (
        "gamma 0.6",
        "intensities^0.6 (flatter contrast)",
        with_intensity(t1, top * (base / top).clip(0) ** 0.6),
        truth,
    )
    yield (
        "gamma 1.8",
        "intensities^1.8 (darker grey matter)",
        with_intensity(t1, top * (base / top).clip(0) ** 1.8),
        truth,
    )
    yield (
        "noise 5 %",
        "Gaussian noise, sd 5 % of the 99.5th percentile",
        with_intensity(t1, base + rng.normal(0, 0.05 * top, base.shape)),
        truth,
    )
    yield (
        "inverted (T2-like)",
        "brain intensities reversed: CSF bright, white matter dark",
        with_intensity(t1, 1.1 * top - base),
        truth,
    )
    images = mni()
    for name, desc, kwargs in (
        ("rotated 15 deg", "oblique 2 mm grid, 15 deg about (1, 0.4, 0.2)", {"voxel_mm": 2.0, "rotate_deg": 15.0}),
        ("1.5 mm", "1.5 mm grid, shifted 0.3 mm", {"voxel_mm": 1.5, "offset_mm": (0.3, -0.3, 0.3)}),
        ("3 mm", "3 mm grid, shifted 0.5 mm", {"voxel_mm": 3.0, "offset_mm": (0.5, 0.5, -0.5)}),
    ):
        v_t1, v_truth = on_grid(images, **kwargs)
        yield name, desc, v_t1, v_truth


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / total) if total else float("nan")


def evaluate() -> list[dict]:
    rows = []
    for name, desc, t1, truth in variants():
        start = time.perf_counter()
        result = segment_volume(t1, "brain-tissue", device="cpu")
        seconds = time.perf_counter() - start
        assert result.labels.shape == truth.shape
        rows.append(
            {
                "variant": name,
                "description": desc,
                "shape": "x".join(map(str, t1.shape)),
                "dice_gm": dice(result.labels == 1, truth.array == 1),
                "dice_wm": dice(result.labels == 2, truth.array == 2),
                "seconds": seconds,
            }
        )
        print(f"{name:<20} GM {rows[-1]['dice_gm']:.3f}  WM {rows[-1]['dice_wm']:.3f}  ({seconds:.1f} s)", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| variant | what changed | grid | Dice grey matter | Dice white matter | CPU time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['description']} | {r['shape']} | {r['dice_gm']:.3f} | "
            f"{r['dice_wm']:.3f} | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = README.read_text()
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    README.write_text(readme[:start] + "\n" + text + "\n" + readme[end:])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-readme", action="store_true", help=f"replace the table in {README}")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    text = table(evaluate())
    print(text)
    if args.write_readme:
        write_readme(text)
        print(f"updated {README}")


if __name__ == "__main__":
    main()
