"""Fine-tuning the shipped brain-tissue U-Net on one corrected volume of a contrast it does poorly on.

Cases: two inverted-contrast (T2-like: CSF bright, white matter dark) versions of the
2 mm MNI ICBM152 T1 sample, each with its own smooth random deformation (elastic field
plus a small rotation), bias field and Gaussian noise; the truth is the sample's tissue
labels (1 grey matter, 2 white matter) warped by the same deformation (nearest
neighbour). Volume A is the "corrected" case the model is fine-tuned on; volume B, built
with other seeds, is only used to measure.

Printed: Dice per tissue on B (and A, and the original T1 sample) before and after
fine-tuning with :func:`napari_medseg.models.unet.finetune.finetune_bundle` on A, and the
wall time of fine-tuning and of each segmentation on this CPU (2 threads). Target
(issue 10): Dice >= 0.85 on B after fine-tuning.

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_finetune.py [--epochs 20] [--patches 16]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter, map_coordinates

from napari_medseg.models.segment import segment_volume
from napari_medseg.models.unet.finetune import TrainingCase, TrainingSettings, finetune_bundle
from napari_medseg.samples import load_brain_mri
from napari_medseg.volume import Volume


def smooth_warp(shape, seed: int, magnitude_vox: float = 2.5, sigma_vox: float = 8.0, rotate_deg: float = 6.0):
    """Sampling coordinates (3, *shape) of a smooth random deformation: elastic field + rotation about the centre."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape).astype(np.float32)
    centre = (np.array(shape, np.float32) - 1) / 2
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    a = np.deg2rad(rotate_deg) * rng.choice([-1, 1])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k
    coords = np.tensordot(rot, grid - centre[:, None, None, None], axes=1) + centre[:, None, None, None]
    for d in range(3):
        field = gaussian_filter(rng.normal(size=shape).astype(np.float32), sigma_vox)
        coords[d] += magnitude_vox * field / np.abs(field).max()
    return coords


def inverted_case(t1: Volume, truth: Volume, seed: int) -> tuple[Volume, Volume]:
    """A deformed, inverted-contrast, bias-field and noise version of the sample, with its warped truth."""
    rng = np.random.default_rng(seed + 1000)
    coords = smooth_warp(t1.shape, seed)
    base = map_coordinates(t1.array.astype(np.float32), coords, order=1, cval=0.0)
    labels = map_coordinates(truth.array, coords, order=0, cval=0).astype(np.uint8)
    brain = base > 1.0
    top = np.percentile(base[brain], 99.5)
    grids = np.meshgrid(*[np.linspace(-1, 1, s) for s in base.shape], indexing="ij")
    field = sum(rng.uniform(-1, 1) * g + rng.uniform(-1, 1) * g**2 for g in grids)
    bias = 1.0 + 0.25 * field / np.abs(field).max()
    inverted = (1.1 * top - base) * bias + rng.normal(0, 0.04 * top, base.shape)
    image = np.where(brain, np.clip(inverted, 1, None), 0)
    return (
        t1.with_array(np.round(image).astype(np.int16), path=f"inverted-{seed}"),
        truth.with_array(labels, path=f"inverted-{seed}-truth"),
    )


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / total) if total else float("nan")


def scores(model, cases: dict[str, tuple[Volume, Volume]]) -> dict[str, tuple[float, float, float]]:
    """Per case: (Dice grey matter, Dice white matter, seconds)."""
    out = {}
    for name, (image, truth) in cases.items():
        start = time.perf_counter()
        labels = segment_volume(image, model, device="cpu").labels
        out[name] = (
            dice(labels == 1, truth.array == 1),
            dice(labels == 2, truth.array == 2),
            time.perf_counter() - start,
        )
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--patches", type=int, default=16, help="patches per case per epoch (batch 2)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t1, truth = load_brain_mri()
    train_case = inverted_case(t1, truth, seed=1)
    cases = {
        "B: inverted, held out": inverted_case(t1, truth, seed=2),
        "A: inverted, trained on": train_case,
        "T1 sample (original contrast)": (t1, truth),
    }
    before = scores("brain-tissue", cases)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MEDSEG_CONFIG_DIR"] = str(Path(tmp) / "config")  # trust record of this run only
        start = time.perf_counter()
        result = finetune_bundle(
            [TrainingCase(*train_case, name="A")],
            "brain-tissue",
            Path(tmp) / "tuned",
            TrainingSettings(epochs=args.epochs, patches_per_case=args.patches, learning_rate=args.lr),
        )
        tune_s = time.perf_counter() - start
        after = scores(result.bundle, cases)
    print(
        f"fine-tuning: {args.epochs} epochs x {args.patches} patches of 64^3 (batch 2, "
        f"{args.epochs * args.patches // 2} steps) on 1 case in {tune_s:.0f} s, {args.threads} CPU threads; "
        f"loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}"
    )
    print("| case | Dice GM before | Dice GM after | Dice WM before | Dice WM after | segment s (before / after) |")
    print("|---|---|---|---|---|---|")
    for name in cases:
        b, a = before[name], after[name]
        print(f"| {name} | {b[0]:.3f} | {a[0]:.3f} | {b[1]:.3f} | {a[1]:.3f} | {b[2]:.1f} / {a[2]:.1f} |")


if __name__ == "__main__":
    main()
