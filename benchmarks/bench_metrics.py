"""Our full metric set vs MONAI 1.6 on one 512x512x200 CT-like pair, in one process.

The pair: 200 x 512 x 512 voxels (z, y, x) at (2.5, 0.8, 0.8) mm; the reference is an
irregular ~1.4 M-voxel structure (an ellipsoid with a smooth random radius); the
prediction is the reference shifted by (1, 4, -3) voxels, grown by one voxel, with 30 %
of its boundary voxels flipped off and 25 small false-positive islands scattered in the
body. Ours computes dice, jaccard, hd, hd95, assd, nsd and the volumes for the label;
MONAI computes dice + hd + hd95 + assd + nsd (each distance function on its own, as a
user calls them). Input tensors for MONAI are built before its clock starts.

Peak extra memory is the rise of the process's peak resident set (VmHWM, reset through
/proc/self/clear_refs) above the resident set just before each run.

Run: ``python benchmarks/bench_metrics.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from scipy import ndimage

SHAPE = (200, 512, 512)
SPACING = (2.5, 0.8, 0.8)
TOLERANCE_MM = 2.0


def make_pair(seed: int = 0, islands: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, reference) uint8 label maps (label 1) on the benchmark grid."""
    rng = np.random.default_rng(seed)
    box = (96, 290, 290)
    axes = [(np.arange(n) - n / 2 + 0.5) * s for n, s in zip(box, SPACING)]
    z, y, x = np.meshgrid(*axes, indexing="ij", sparse=True)
    radius = np.sqrt((z / 84.0) ** 2 + (y / 84.0) ** 2 + (x / 75.0) ** 2)
    bumps = ndimage.zoom(rng.standard_normal((10, 14, 14)), np.array(box) / (10, 14, 14), order=3)
    structure = radius < 1.0 + 0.12 * bumps / bumps.std()
    ref = np.zeros(SHAPE, np.uint8)
    corner = [(n - b) // 2 for n, b in zip(SHAPE, box)]
    region = tuple(slice(c, c + b) for c, b in zip(corner, box))
    ref[region] = structure
    pred = np.roll(ref, (1, 4, -3), axis=(0, 1, 2))
    grown_region = tuple(slice(c - 4, c + b + 4) for c, b in zip(corner, box))
    grown = ndimage.binary_dilation(pred[grown_region].astype(bool))
    edge = grown & ~ndimage.binary_erosion(grown)
    grown[edge & (rng.random(grown.shape) < 0.3)] = False
    pred[grown_region] = grown
    for _ in range(islands):  # small islands anywhere in the body
        c = [int(rng.integers(10, n - 10)) for n in SHAPE]
        pred[c[0] - 1 : c[0] + 1, c[1] - 2 : c[1] + 2, c[2] - 2 : c[2] + 2] = 1
    return pred, ref


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(fn):
    """(seconds, peak extra MiB, result) of ``fn()``."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        baseline = _rss_kib("VmRSS")
    except OSError:
        baseline = None
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    extra = (_rss_kib("VmHWM") - baseline) / 1024 if baseline is not None else float("nan")
    return seconds, extra, result


def ours(pred, ref, surface="voxel"):
    from napari_medseg.metrics import evaluate_labels

    return evaluate_labels(pred, ref, SPACING, labels=[1], tolerance_mm=TOLERANCE_MM, surface=surface)[0]


def monai_set(p, r):
    from monai.metrics import (
        compute_average_surface_distance,
        compute_dice,
        compute_hausdorff_distance,
        compute_surface_dice,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "dice": float(compute_dice(p, r)),
            "hd_mm": float(compute_hausdorff_distance(p, r, spacing=SPACING)),
            "hd95_mm": float(compute_hausdorff_distance(p, r, spacing=SPACING, percentile=95)),
            "assd_mm": float(compute_average_surface_distance(p, r, symmetric=True, spacing=SPACING)),
            "nsd": float(compute_surface_dice(p, r, [TOLERANCE_MM], spacing=SPACING)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours (best and median reported)")
    parser.add_argument(
        "--islands",
        type=int,
        default=25,
        help="false-positive islands in the prediction (0: a compact pair, MONAI's best case)",
    )
    args = parser.parse_args()
    import monai.metrics  # noqa: F401  (import time is not part of the comparison)
    import torch

    torch.set_num_threads(min(4, os.cpu_count() or 1))
    pred, ref = make_pair(islands=args.islands)
    print(
        f"pair: {SHAPE} voxels at {SPACING} mm; reference {np.count_nonzero(ref):,} voxels, "
        f"prediction {np.count_nonzero(pred):,} voxels with {args.islands} islands"
    )
    runs = [measure(lambda: ours(pred, ref)) for _ in range(args.repeats)]
    t_ours = float(np.median([r[0] for r in runs]))
    mem_ours = max(r[1] for r in runs)
    record = runs[0][2]
    p = torch.from_numpy(pred == 1)[None, None]
    r = torch.from_numpy(ref == 1)[None, None]
    t_monai, mem_monai, values = measure(lambda: monai_set(p, r))
    print(f"{'metric':<10}{'ours':>14}{'MONAI 1.6':>14}{'rel diff':>11}")
    for key, value in values.items():
        mine = getattr(record, key)
        print(f"{key:<10}{mine:>14.6f}{value:>14.6f}{abs(mine - value) / max(abs(value), 1e-12):>11.1e}")
    print(
        f"time   ours {t_ours:.3f} s (median of {args.repeats}; best {min(r[0] for r in runs):.3f} s, "
        f"all metrics + volumes)  MONAI {t_monai:.3f} s (dice, hd, hd95, assd, nsd)  "
        f"ratio {t_ours / t_monai:.3f} (target <= 0.1)"
    )
    print(
        f"memory ours {mem_ours:.0f} MiB extra  MONAI {mem_monai:.0f} MiB extra  "
        f"ratio {mem_ours / mem_monai:.3f} (target <= 0.25)"
    )
    t_area, mem_area, area = measure(lambda: ours(pred, ref, "area"))
    print(
        f"area-weighted variant (ours, surface='area'): {t_area:.3f} s, {mem_area:.0f} MiB extra; "
        f"hd95 {area.hd95_mm:.4f} mm, assd {area.assd_mm:.4f} mm, nsd {area.nsd:.4f} "
        f"(voxel: {record.hd95_mm:.4f}, {record.assd_mm:.4f}, {record.nsd:.4f})"
    )


if __name__ == "__main__":
    main()
