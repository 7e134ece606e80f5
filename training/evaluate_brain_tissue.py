"""Dice of the shipped ``brain-tissue`` model on the sample MRI and on held-out whole-head variants.

The variants are built here, not by the training generator, and the training never sees
them: the brain is the template's own T1 (real intensities and partial volumes, where the
training draws random intensities per tissue), and the head around it is a fixed, T1-like
scalp and skull around a *closed hull* of the brain (the training's shells follow the brain
mask itself, with random thicknesses and intensities). T2-like, PD-like and FLAIR-like variants
remap the same image's tissue intensities (grey above white matter; CSF bright, or dark in
FLAIR). Each variant is
then resampled, like an acquisition, to its grid (smoothed to the voxel size, optionally
oblique), with a bias field and Rician noise where stated.

Truth on each variant's grid follows the training's rule on the template's probability maps
resampled the same way: the sample's grey/white rule
(:func:`napari_medseg.samples.brain_tissue_labels`) and CSF for the rest of the brain mask.
The model runs through the product path, :func:`napari_medseg.models.segment.segment_volume`
on the CPU, so the resampling to the model's grid (1.5 mm) and back is part of what is measured.

Run::

    .venv/bin/python training/evaluate_brain_tissue.py                  # prints the table
    .venv/bin/python training/evaluate_brain_tissue.py --write-readme   # and updates the bundle README
    .venv/bin/python training/evaluate_brain_tissue.py --weights /tmp/model.pt   # a training checkpoint
    .venv/bin/python training/evaluate_brain_tissue.py --bundle old/brain_tissue  # an earlier release

Deterministic: fixed seeds, no random state outside them.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from scipy.ndimage import binary_closing, distance_transform_edt, gaussian_filter, map_coordinates
from synthetic_heads import MNI, labels_from_maps, template_maps

from napari_medseg.models.segment import segment_volume
from napari_medseg.samples import load_brain_mri
from napari_medseg.volume import Volume

BUNDLE = Path(__file__).resolve().parents[1] / "src" / "napari_medseg" / "models" / "bundles" / "brain_tissue"
README = BUNDLE / "README.md"
BEGIN, END = "<!-- held-out table: begin -->", "<!-- held-out table: end -->"
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: Brain T1 knots (template intensities of CSF, grey and white matter) and what each contrast maps them to.
_T1_KNOTS = (0.0, 72.0, 170.0, 220.0, 255.0)
_REMAP = {
    "T1": _T1_KNOTS,
    "T2": (0.0, 235.0, 150.0, 105.0, 95.0),
    "PD": (0.0, 215.0, 185.0, 150.0, 140.0),
    "FLAIR": (0.0, 35.0, 150.0, 115.0, 110.0),
}
#: Head layers outside the brain: (name, thickness mm, intensity per contrast T1 / T2 / PD).
_LAYERS = (
    ("csf", 2.0, {"T1": 60, "T2": 235, "PD": 215, "FLAIR": 35}),
    ("inner table", 1.5, {"T1": 12, "T2": 10, "PD": 15, "FLAIR": 10}),
    ("diploe", 3.0, {"T1": 160, "T2": 110, "PD": 150, "FLAIR": 120}),
    ("outer table", 1.5, {"T1": 12, "T2": 10, "PD": 15, "FLAIR": 10}),
    ("muscle", 4.0, {"T1": 100, "T2": 70, "PD": 140, "FLAIR": 80}),
    ("fat", 4.5, {"T1": 235, "T2": 160, "PD": 200, "FLAIR": 170}),
    ("skin", 1.5, {"T1": 140, "T2": 120, "PD": 170, "FLAIR": 120}),
)


def rotation(axis, degrees: float) -> np.ndarray:
    """3x3 rotation about ``axis`` (Rodrigues)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    a = np.deg2rad(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def whole_heads() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """1 mm whole-head images per contrast, the maps for the truth, and their RAS affine.

    Returns
    -------
    heads : {"T1", "T2", "PD", "FLAIR"} -> (X, Y, Z) float32, RAS voxel order, 1 mm
    maps : (3, X, Y, Z) float32, grey matter, white matter and brain mask
    affine : (4, 4)
    """
    maps, affine = template_maps()
    gm, wm, brain, distance = maps
    t1_brain = np.asanyarray(nib.load(MNI.format("t1")).dataobj).astype(np.float32)
    pad = [(int(round(-(affine[i, 3] - nib.load(MNI.format("t1")).affine[i, 3]))),) for i in range(3)]
    t1_brain = np.pad(t1_brain, [(p[0], s - t1_brain.shape[i] - p[0]) for i, (p, s) in enumerate(zip(pad, gm.shape))])
    # The skull follows a closed hull of the brain (no sulci), not the brain mask itself.
    hull = binary_closing(brain > 0.5, np.ones((9, 9, 9), bool), iterations=1) | (brain > 0.5)
    hull_distance = distance_transform_edt(~hull).astype(np.float32)
    outside = brain < 0.5
    heads = {}
    for contrast in _REMAP:
        image = np.interp(t1_brain, _T1_KNOTS, _REMAP[contrast]).astype(np.float32)
        edge = 0.0
        for _, thickness, value in _LAYERS:
            layer = outside & (hull_distance > edge) & (hull_distance <= edge + thickness)
            if edge == 0.0:
                layer |= outside & hull  # sulcal and extra-cerebral CSF inside the hull
            image[layer] = value[contrast]
            edge += thickness
        image[distance < -0.5] = _LAYERS[4][2][contrast]  # the neck: muscle
        heads[contrast] = gaussian_filter(image, 0.5)
    return heads, np.stack([gm, wm, brain]), affine


def acquire(image: np.ndarray, maps: np.ndarray, affine: np.ndarray, voxel_mm, rotate_deg: float = 0.0,
            offset_mm=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Resample a 1 mm image and its truth maps to a (possibly oblique, anisotropic) grid.

    The image is smoothed to the voxel size first (Gaussian, FWHM = voxel size per axis),
    as an acquisition at that resolution averages.

    Returns
    -------
    image : (X', Y', Z') float32, labels : (X', Y', Z') uint8, affine : (4, 4) RAS
    """
    voxel = np.broadcast_to(np.asarray(voxel_mm, float), (3,))
    centre = affine[:3, :3] @ (np.array(image.shape) - 1) / 2 + affine[:3, 3]
    shape = tuple(int(np.ceil(e / v)) for e, v in zip(np.array(image.shape) * 0.92, voxel))
    lin = rotation([1.0, 0.4, 0.2], rotate_deg) @ np.diag(voxel)
    out = np.eye(4)
    out[:3, :3] = lin
    out[:3, 3] = centre - lin @ (np.array(shape) - 1) / 2 + np.asarray(offset_mm)
    # Smoothing along the grid's axes, approximated in the 1 mm frame (small rotations).
    sigma = np.sqrt(np.clip(voxel**2 - 1.0, 0, None)) / 2.355
    idx = np.indices(shape, dtype=np.float32).reshape(3, -1)
    src = (np.linalg.inv(affine) @ out)[:3]
    coords = src[:, :3] @ idx + src[:, 3:4]

    def sample(a: np.ndarray) -> np.ndarray:
        smooth = gaussian_filter(a, sigma) if sigma.any() else a
        return map_coordinates(smooth, coords, order=1, mode="constant").reshape(shape).astype(np.float32)

    gm, wm, brain = (sample(m) for m in maps)
    return sample(image), labels_from_maps(gm, wm, brain), out


def bias_field(shape, strength: float, seed: int = 7) -> np.ndarray:
    """A smooth multiplicative field in [1 - strength, 1 + strength] (random low-order polynomial)."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij")
    field = sum(rng.uniform(-1, 1) * g + rng.uniform(-1, 1) * g**2 for g in grids)
    return 1.0 + strength * field / np.abs(field).max()


def rician(image: np.ndarray, sd: float, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.hypot(image + rng.normal(0, sd, image.shape), rng.normal(0, sd, image.shape)).astype(np.float32)


def as_volumes(image: np.ndarray, labels: np.ndarray, affine: np.ndarray) -> tuple[Volume, Volume]:
    lps = _RAS_TO_LPS @ affine
    return (
        Volume.from_file_order(np.round(image).clip(0, 32767).astype(np.int16), lps),
        Volume.from_file_order(labels, lps),
    )


#: (name, what changed, contrast, voxel mm, rotation deg, bias strength, noise sd)
VARIANTS = (
    ("T1 1 mm", "whole head, oblique 10 deg, bias +-20 %", "T1", 1.0, 10.0, 0.2, 4.0),
    ("T1 1.5 mm", "whole head, oblique 12 deg, bias +-30 %, noise", "T1", 1.5, 12.0, 0.3, 6.0),
    ("T1 3 mm", "whole head, 3 mm isotropic, shifted 0.5 mm", "T1", 3.0, 0.0, 0.0, 4.0),
    ("T1 rotated 15 deg", "whole head 1.5 mm, oblique 15 deg", "T1", 1.5, 15.0, 0.0, 4.0),
    ("T1 strong bias", "whole head 1.5 mm, bias +-50 %", "T1", 1.5, 0.0, 0.5, 4.0),
    ("T1 1x1x5 mm", "whole head, 5 mm slices", "T1", (1.0, 1.0, 5.0), 0.0, 0.2, 4.0),
    ("T2-like 1.5 mm", "whole head, CSF bright, grey > white, oblique 8 deg, bias +-20 %", "T2", 1.5, 8.0, 0.2, 5.0),
    ("PD-like 1.5 mm", "whole head, CSF > grey > white (flat), bias +-20 %", "PD", 1.5, 0.0, 0.2, 5.0),
    (
        "FLAIR-like 1x1x3 mm",
        "whole head, CSF dark, grey > white, 3 mm slices, bias +-20 %",
        "FLAIR",
        (1.0, 1.0, 3.0),
        0.0,
        0.2,
        5.0,
    ),
)


def variants():
    """(name, description, image volume, truth volume) for the sample and each held-out variant."""
    t1, truth = load_brain_mri()
    yield "sample (2 mm)", "the shipped skull-stripped sample as is", t1, truth
    heads, maps, affine = whole_heads()
    for name, desc, contrast, voxel, rotate, bias, noise in VARIANTS:
        offset = (0.5, 0.5, -0.5) if voxel == 3.0 else (0.3, -0.3, 0.3)
        image, labels, grid = acquire(heads[contrast], maps, affine, voxel, rotate, offset)
        if bias:
            image = image * bias_field(image.shape, bias)
        image = rician(image, noise)
        yield (name, desc, *as_volumes(image, labels, grid))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / total) if total else float("nan")


def evaluate(model) -> list[dict]:
    rows = []
    for name, desc, image, truth in variants():
        start = time.perf_counter()
        result = segment_volume(image, model, device="cpu", trust_bundle=True)
        seconds = time.perf_counter() - start
        assert result.labels.shape == truth.shape
        pred, ref = result.labels, truth.array
        csf = dice(pred == 3, ref == 3) if (ref == 3).any() else float("nan")
        rows.append(
            {
                "variant": name,
                "description": desc,
                "shape": "x".join(map(str, image.file_shape)),
                "dice_gm": dice(pred == 1, ref == 1),
                "dice_wm": dice(pred == 2, ref == 2),
                "dice_csf": csf,
                "dice_brain": dice(pred > 0, ref > 0) if (ref == 3).any() else float("nan"),
                "seconds": seconds,
            }
        )
        r = rows[-1]
        print(
            f"{name:<20} GM {r['dice_gm']:.3f}  WM {r['dice_wm']:.3f}  CSF {r['dice_csf']:.3f}  "
            f"brain {r['dice_brain']:.3f}  ({seconds:.1f} s)",
            flush=True,
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        (
            "| variant | what changed | grid (file order) | Dice grey matter | Dice white matter | Dice CSF | "
            "Dice brain mask | CPU time (s) |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['description']} | {r['shape']} | {r['dice_gm']:.3f} | "
            f"{r['dice_wm']:.3f} | {r['dice_csf']:.3f} | {r['dice_brain']:.3f} | {r['seconds']:.1f} |"
        )
    return "\n".join(lines).replace("| nan |", "| - |")


def write_readme(text: str) -> None:
    readme = README.read_text()
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    README.write_text(readme[:start] + "\n" + text + "\n" + readme[end:])


def bundle_with(weights: Path, folder: Path) -> Path:
    """A copy of the shipped bundle with other weights (a training checkpoint)."""
    root = folder / "brain_tissue"
    shutil.copytree(BUNDLE, root, ignore=shutil.ignore_patterns("model.pt"))
    shutil.copy(weights, root / "models" / "model.pt")
    return root


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-readme", action="store_true", help=f"replace the table in {README}")
    ap.add_argument("--weights", type=Path, help="evaluate these weights instead of the bundle's")
    ap.add_argument("--bundle", type=Path, help="evaluate this bundle folder (e.g. an earlier release) instead")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.bundle or (bundle_with(args.weights, Path(tmp)) if args.weights else "brain-tissue")
        text = table(evaluate(model))
    print(text)
    if args.write_readme:
        write_readme(text)
        print(f"updated {README}")


if __name__ == "__main__":
    main()
