"""`medseg segment` against `python -m monai.bundle run` of the same bundle on the same volume.

The bundle is a spleen-style CT bundle in the model zoo's layout (the recipe and the network
of MONAI's spleen_ct_segmentation: UNet 16-32-64-128-256, Orientationd RAS, Spacingd
1.5x1.5x2 mm, ScaleIntensityRanged, SlidingWindowInferer 96^3, Activationsd, Invertd,
AsDiscreted, SaveImaged) with seeded random weights. Each run is a fresh child process that
imports its libraries before the clock starts; peak memory is the child's VmHWM. The three
runs alternate ``--repeats`` times and medians are reported (other jobs share the CPU). Our side
runs twice: default post-processing (the bundle's own order: identical labels) and
``--argmax-first`` (labels differ on boundary voxels only). Ours runs its windows through ONNX
Runtime on the CPU; the export cache starts empty, so the first of our runs includes the export.

    .venv/bin/python benchmarks/bench_unet.py                      # CPU, 512x512x120 CT-like input
    .venv/bin/python benchmarks/bench_unet.py --device cuda        # GPU, 512x512x300 input, volumes/minute
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
mode, args = sys.argv[1], sys.argv[2:]
import torch
torch.set_num_threads({threads})
if mode == "monai":
    import monai.bundle.scripts as scripts
    import monai, ignite  # imported before the clock, like ours
    start = time.perf_counter()
    scripts.run(**dict(a.lstrip("-").split("=", 1) for a in args))
else:
    import monai.bundle, monai.transforms, monai.inferers, monai.networks.nets, monai.data  # as the other side
    from napari_medseg.cli import main
    import napari_medseg.models.segment, napari_medseg.models.unet.bundle, napari_medseg.io  # imported before the clock
    start = time.perf_counter()
    assert main(["segment", *args]) == 0
seconds = time.perf_counter() - start
if torch.cuda.is_available():
    torch.cuda.synchronize()
peak = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
print(json.dumps({{"seconds": seconds, "peak_mib": peak}}))
"""


def make_input(path: Path, shape, spacing, seed: int = 0) -> Path:
    """A CT-like volume (int16 HU): smooth random 'organs' in a body-shaped ellipse, LPS-stored."""
    from scipy.ndimage import gaussian_filter, zoom

    rng = np.random.default_rng(seed)
    coarse = gaussian_filter(rng.normal(size=tuple(max(s // 8, 4) for s in shape)), 1.0)
    field = zoom(coarse, [s / c for s, c in zip(shape, coarse.shape)], order=1)[: shape[0], : shape[1], : shape[2]]
    x, y = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    body = (x**2 / 0.9 + y**2 / 0.6) < 1
    ct = np.where(body[..., None], 40 + 80 * field / field.std(), -1000).astype(np.int16)
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])  # LPS-like storage, not RAS
    nib.save(nib.Nifti1Image(ct, affine), path)
    return path


def child(mode: str, args: list[str], threads: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(threads=threads), mode, *args], capture_output=True, text=True, timeout=3600
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_run(runs: list[dict]) -> dict:
    return {k: float(np.median([r[k] for r in runs])) for k in runs[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--shape", type=int, nargs=3, help="input voxels (default 512 512 120 on cpu, 512 512 300 on cuda)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="rounds of the three runs, alternating; medians reported")
    args = ap.parse_args()
    from test_bundle_parity import write_spleen_style_bundle

    shape = tuple(args.shape or ((512, 512, 120) if args.device == "cpu" else (512, 512, 300)))
    spacing = (0.8, 0.8, 2.5) if args.device == "cpu" else (0.7, 0.7, 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        import os

        os.environ["MEDSEG_CONFIG_DIR"] = str(tmp / "config")
        os.environ["NAPARI_MEDSEG_CACHE"] = str(tmp / "cache")  # empty: our first run exports the network
        bundle = write_spleen_style_bundle(tmp / "spleen_style", channels=(16, 32, 64, 128, 256), roi=(96, 96, 96))
        data = tmp / "data"
        data.mkdir()
        src = make_input(data / "ct.nii.gz", shape, spacing)
        print(
            f"input {shape} voxels at {spacing} mm, bundle {bundle.name}, device {args.device}, {args.threads} threads",
            flush=True,
        )
        monai_args = [
            f"--config_file={bundle / 'configs' / 'inference.json'}",
            f"--meta_file={bundle / 'configs' / 'metadata.json'}",
            f"--bundle_root={bundle}",
            f"--dataset_dir={data}",
            f"--output_dir={tmp / 'monai_out'}",
        ]
        base = [str(src), "--model", str(bundle), "--device", args.device, "--trust-bundle", "--quiet"]
        runs = {"monai": [], "ours": [], "fast": []}
        for _ in range(args.repeats):  # alternate, so load changes from other jobs hit every path alike
            runs["monai"].append(child("monai", monai_args, args.threads))
            runs["ours"].append(child("medseg", base + ["--out", str(tmp / "ours.nii.gz")], args.threads))
            runs["fast"].append(
                child("medseg", base + ["--out", str(tmp / "fast.nii.gz"), "--argmax-first"], args.threads)
            )
        theirs, ours, fast = (median_run(runs[k]) for k in ("monai", "ours", "fast"))
        ref = np.rint(np.asanyarray(nib.load(tmp / "monai_out" / "ct_seg.nii.gz").dataobj).squeeze())
        agree = {
            name: float((np.asanyarray(nib.load(tmp / f"{name}.nii.gz").dataobj) == ref).mean())
            for name in ("ours", "fast")
        }
    rows = [
        ("python -m monai.bundle run", theirs, 1.0),
        ("medseg segment", ours, agree["ours"]),
        ("medseg segment --argmax-first", fast, agree["fast"]),
    ]
    print(
        f"medians of {args.repeats} alternating runs; times (s) per run: "
        + "; ".join(f"{k} " + ", ".join(f"{r['seconds']:.1f}" for r in v) for k, v in runs.items())
    )
    print(f"{'path':<32} {'time (s)':>9} {'peak RSS (MiB)':>15} {'voxels equal to bundle':>23}")
    for name, r, a in rows:
        print(f"{name:<32} {r['seconds']:>9.2f} {r['peak_mib']:>15.0f} {100 * a:>22.3f}%")
    print(
        f"time ratio medseg / monai.bundle: {ours['seconds'] / theirs['seconds']:.2f} (default), "
        f"{fast['seconds'] / theirs['seconds']:.2f} (--argmax-first); target <= 0.7 on CPU"
    )
    print(
        f"peak memory ratio: {ours['peak_mib'] / theirs['peak_mib']:.2f} (default), "
        f"{fast['peak_mib'] / theirs['peak_mib']:.2f} (--argmax-first)"
    )
    if args.device == "cuda":
        print(
            f"volumes/minute ({shape}): medseg {60 / ours['seconds']:.1f}, --argmax-first "
            f"{60 / fast['seconds']:.1f}, monai.bundle {60 / theirs['seconds']:.1f}"
        )


if __name__ == "__main__":
    main()
