"""A folder of cases: ``medseg segment IN_DIR --out OUT_DIR`` against ``python -m monai.bundle run``
over the same folder (the bundle's own dataloader over every file) and against one ``medseg segment``
process per case (what a shell loop does).

The bundle is bench_unet.py's spleen-style CT bundle (seeded random weights); the cases are
CT-like int16 NIfTI volumes stored LPS. Every path runs in fresh processes with 2 torch threads
and its imports inside the clock (a researcher's command, start to finish); the three paths
alternate ``--repeats`` times and the medians are reported, with the share of voxels equal to
the bundle's own outputs.

    .venv/bin/python benchmarks/bench_batch.py                  # 4 cases of 256x256x80
    .venv/bin/python benchmarks/bench_batch.py --cases 8 --shape 320 320 96
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=4)
    ap.add_argument("--shape", type=int, nargs=3, default=(256, 256, 80))
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from bench_unet import make_input

    from test_bundle_parity import write_spleen_style_bundle

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "2",
            "MEDSEG_CONFIG_DIR": str(tmp / "config"),
            "NAPARI_MEDSEG_CACHE": str(tmp / "cache"),
        }
        bundle = write_spleen_style_bundle(tmp / "spleen_style", channels=(16, 32, 64, 128, 256), roi=(96, 96, 96))
        data = tmp / "data"
        data.mkdir()
        for i in range(args.cases):
            make_input(data / f"case{i}.nii.gz", tuple(args.shape), (0.8, 0.8, 2.5), seed=i)
        medseg = str(Path(sys.executable).with_name("medseg"))
        base = ["--model", str(bundle), "--device", "cpu", "--trust-bundle", "--quiet"]
        subprocess.run(
            [medseg, "segment", str(data / "case0.nii.gz"), *base, "--out", str(tmp / "warm.nii.gz")],
            check=True,
            env=env,
            capture_output=True,
        )  # trust recorded, ONNX export cached
        monai_cmd = [
            sys.executable,
            "-m",
            "monai.bundle",
            "run",
            f"--config_file={bundle / 'configs' / 'inference.json'}",
            f"--meta_file={bundle / 'configs' / 'metadata.json'}",
            f"--bundle_root={bundle}",
            f"--dataset_dir={data}",
            f"--output_dir={tmp / 'monai_out'}",
        ]
        times = {
            "monai.bundle run (one process)": [],
            "medseg segment IN_DIR (one process)": [],
            "medseg segment per case (a process each)": [],
        }
        for _r in range(args.repeats):
            times["monai.bundle run (one process)"].append(timed(monai_cmd, env))
            times["medseg segment IN_DIR (one process)"].append(
                timed([medseg, "segment", str(data), *base, "--overwrite", "--out", str(tmp / "folder_out")], env)
            )
            start = time.perf_counter()
            for i in range(args.cases):
                timed(
                    [
                        medseg,
                        "segment",
                        str(data / f"case{i}.nii.gz"),
                        *base,
                        "--out",
                        str(tmp / "loop_out" / f"case{i}.nii.gz"),
                    ],
                    env,
                )
            times["medseg segment per case (a process each)"].append(time.perf_counter() - start)
        equal = []
        for i in range(args.cases):
            ref = np.rint(np.asanyarray(nib.load(tmp / "monai_out" / f"case{i}_seg.nii.gz").dataobj).squeeze())
            equal.append(float((np.asanyarray(nib.load(tmp / "folder_out" / f"case{i}.nii.gz").dataobj) == ref).mean()))
    theirs = float(np.median(times["monai.bundle run (one process)"]))
    print(f"{args.cases} cases of {tuple(args.shape)} voxels, 2 threads, medians of {args.repeats} alternating runs")
    print(f"{'path':<44} {'time (s)':>9} {'per case (s)':>13} {'ratio':>7}  runs")
    for name, values in times.items():
        m = float(np.median(values))
        print(
            f"{name:<44} {m:>9.1f} {m / args.cases:>13.2f} {m / theirs:>7.2f}  " + ", ".join(f"{v:.1f}" for v in values)
        )
    print(f"voxels equal to the bundle's outputs (folder run): min {100 * min(equal):.3f} % over {args.cases} cases")


if __name__ == "__main__":
    main()
