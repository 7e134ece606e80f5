"""DICOM series loading: napari-medseg's reader against SimpleITK's ImageSeriesReader.

Generates a 512x512x300 CT series (int16, RescaleSlope 1, RescaleIntercept -1024,
random file names without extension, InstanceNumber against slice order) in a
temporary folder, then loads it with each reader in its own subprocess, alternating,
``--repeats`` times. Each child reports its wall time (find the series + decode +
rescale + stack) and its peak resident memory (VmHWM, which also counts C allocations
that tracemalloc cannot see). Both readers must return the same voxels.

Usage: ``python benchmarks/bench_io.py [--slices 300] [--repeats 3] [--workers N]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_series(folder: Path, slices: int, size: int = 512) -> None:
    """A CT-like series: smooth body, noise, stored as HU + 1024."""
    sys.path.insert(0, str(ROOT / "tests"))
    from dicom_factory import write_series

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    body = ((yy - size / 2) ** 2 / (0.4 * size) ** 2 + (xx - size / 2) ** 2 / (0.45 * size) ** 2) < 1
    stored = np.empty((slices, size, size), np.int16)
    for k in range(slices):
        hu = np.where(body, 40, -1000) + rng.normal(0, 15, (size, size))
        stored[k] = np.clip(hu + 1024, 0, 4095).astype(np.int16)
    write_series(
        folder,
        stored,
        origin=(-250.0, -250.0, -400.0),
        pixel_spacing=(0.98, 0.98),
        slice_spacing=1.25,
        intercept=-1024,
        instance_order="reversed",
        names="random",
        rng=rng,
    )


def peak_rss_mib() -> float:
    """This process's resident-memory high-water mark (VmHWM; ru_maxrss survives exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(reader: str, folder: str, workers: int | None) -> None:
    """Load once, print JSON: seconds, peak RSS (MiB), RSS after imports, checksum."""
    if reader == "medseg":  # libraries are imported before the clock starts, for both readers
        import pydicom  # noqa: F401  (imported lazily by the reader)

        from napari_medseg.io import dicom
    else:
        import SimpleITK as sitk
    base = peak_rss_mib()
    t0 = time.perf_counter()
    if reader == "medseg":
        (series,) = dicom.scan(folder, workers=workers)
        arr = series.load(workers=workers).to_file_order()
    else:
        rd = sitk.ImageSeriesReader()
        rd.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder))
        image = rd.Execute()
        arr = sitk.GetArrayViewFromImage(image)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mib()
    checksum = float(np.asarray(arr, dtype=np.float64).sum())
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mib": peak,
                "base_mib": base,
                "checksum": checksum,
                "shape": list(arr.shape),
                "dtype": str(arr.dtype),
            }
        )
    )


def run_child(reader: str, folder: Path, workers: int | None) -> dict:
    cmd = [sys.executable, __file__, "--child", reader, "--folder", str(folder)]
    if workers:
        cmd += ["--workers", str(workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="decoding threads for medseg (default: automatic)")
    ap.add_argument("--child", choices=["medseg", "sitk"])
    ap.add_argument("--folder")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.folder, args.workers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ct"
        t0 = time.perf_counter()
        make_series(folder, args.slices)
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        print(f"generated 512x512x{args.slices} int16 CT series: {size_mb:.0f} MiB in {time.perf_counter() - t0:.1f} s")
        results = {"medseg": [], "sitk": []}
        for _ in range(args.repeats):
            for reader in results:  # alternate so both see the same cache state
                results[reader].append(run_child(reader, folder, args.workers))
    ours, theirs = results["medseg"], results["sitk"]
    if abs(ours[0]["checksum"] - theirs[0]["checksum"]) > 1e-6 * abs(theirs[0]["checksum"]) or sorted(
        ours[0]["shape"]
    ) != sorted(theirs[0]["shape"]):
        raise SystemExit(f"readers disagree: {ours[0]} vs {theirs[0]}")
    t_ours = float(np.median([r["seconds"] for r in ours]))
    t_sitk = float(np.median([r["seconds"] for r in theirs]))
    for name, rs, t in (("napari-medseg", ours, t_ours), ("SimpleITK", theirs, t_sitk)):
        peak = max(r["peak_mib"] for r in rs)
        extra = max(r["peak_mib"] - r["base_mib"] for r in rs)
        print(
            f"{name:14s} median {t:6.2f} s over {len(rs)} runs; peak RSS {peak:6.0f} MiB "
            f"(+{extra:.0f} MiB over imports); output {rs[0]['dtype']}"
        )
    print(f"time ratio (napari-medseg / SimpleITK): {t_ours / t_sitk:.2f}  (target <= 1.0)")


if __name__ == "__main__":
    main()
