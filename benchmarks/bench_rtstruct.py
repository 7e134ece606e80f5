"""RT structure sets: a CT folder with its structure set -> one mask per ROI, ours against rt-utils.

A synthetic CT series (``--shape`` columns, rows, slices; 0.9 mm pixels, 2.5 mm slices) and an
RT structure set of ``--rois`` ellipsoid-like ROIs written by napari-medseg's own writer (from
label maps, so the truth is known). Both readers start from the folder, in one process,
alternating ``--repeats`` times (medians):

* napari-medseg: ``read_volume`` (the series) + ``read_structure_set`` + ``structures_to_labels``;
* rt-utils: ``RTStructBuilder.create_from`` + ``get_roi_mask_by_name`` for every ROI.

It reports the time ratio and, per reader, the share of ROIs whose voxels equal the label maps
the set was written from. rt-utils is not a dependency of the project (it pins opencv-python,
which clashes with opencv-python-headless); install it beside it without its dependencies:

    .venv/bin/pip install --no-deps rt-utils
    .venv/bin/python benchmarks/bench_rtstruct.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def make_case(folder: Path, shape, rois: int, seed: int = 0):
    """Write the CT series and its structure set; return (series folder, rtstruct path, truth labels)."""
    from dicom_factory import write_series
    from napari_medseg.io import read_volume
    from napari_medseg.io.rtstruct_write import write_structure_set

    cols, rows, n = shape
    rng = np.random.default_rng(seed)
    stored = rng.normal(1064, 20, size=(n, rows, cols)).astype(np.int16)
    study = folder / "study"
    write_series(
        study, stored, pixel_spacing=(0.9, 0.9), slice_spacing=2.5, origin=(-200.0, -200.0, -100.0), intercept=-1024
    )
    volume = read_volume(study)
    z, y, x = np.ogrid[: volume.shape[0], : volume.shape[1], : volume.shape[2]]
    labels = np.zeros(volume.shape, np.uint8)
    for k in range(1, rois + 1):
        c = rng.uniform(0.25, 0.75, 3) * volume.shape
        r = rng.uniform(0.06, 0.18, 3) * volume.shape
        inside = ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 <= 1
        labels[inside & (labels == 0)] = k  # no overlaps: each ROI's truth is exact
    rt = write_structure_set(folder / "rs.dcm", labels, volume, names={k: f"roi{k}" for k in range(1, rois + 1)})
    return study, rt, labels


def ours(study: Path, rt: Path, rois: int) -> dict[str, np.ndarray]:
    from napari_medseg.io import read_volume
    from napari_medseg.io.rtstruct import read_structure_set, structures_to_labels

    volume = read_volume(study)
    drawn = structures_to_labels(read_structure_set(rt), volume)
    return {name: (drawn.labels == k, volume) for k, name in drawn.names.items()}


def theirs(study: Path, rt: Path, rois: int) -> dict[str, np.ndarray]:
    from rt_utils import RTStructBuilder

    builder = RTStructBuilder.create_from(dicom_series_path=str(study), rt_struct_path=str(rt))
    return {name: builder.get_roi_mask_by_name(name) for name in builder.get_roi_names()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=(512, 512, 120), metavar=("COLS", "ROWS", "SLICES"))
    ap.add_argument("--rois", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    try:
        import rt_utils  # noqa: F401
    except ImportError:
        print("bench_rtstruct skipped: rt-utils is not installed (.venv/bin/pip install --no-deps rt-utils)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        study, rt, truth = make_case(Path(tmp), args.shape, args.rois)
        times = {"napari-medseg": [], "rt-utils": []}
        for _ in range(args.repeats):
            for name, reader in (("napari-medseg", ours), ("rt-utils", theirs)):
                start = time.perf_counter()
                masks = reader(study, rt, args.rois)
                times[name].append(time.perf_counter() - start)
                if name == "napari-medseg":
                    our_masks = masks
                else:
                    their_masks = masks
        equal_ours = sum(np.array_equal(m, truth == int(n[3:])) for n, (m, _) in our_masks.items())
        # rt-utils gives (rows, columns, slices) in its own slice order (by position): compare in LPS
        volume = next(iter(our_masks.values()))[1]
        equal_theirs = 0
        for n, m in their_masks.items():
            mine = truth == int(n[3:])
            file_order = volume.to_file_order(mine)  # (column, row, slice) in stacking order
            equal_theirs += np.array_equal(np.transpose(m, (1, 0, 2)), file_order)
        t_ours, t_theirs = np.median(times["napari-medseg"]), np.median(times["rt-utils"])
        print(f"{args.shape[0]}x{args.shape[1]}x{args.shape[2]} CT, {args.rois} ROIs, medians of {args.repeats}:")
        print(f"  napari-medseg {t_ours:.2f} s, rt-utils {t_theirs:.2f} s, ratio {t_ours / t_theirs:.2f}")
        print(
            f"  ROIs equal to the labels they were written from: napari-medseg {equal_ours}/{args.rois}, "
            f"rt-utils {equal_theirs}/{args.rois}"
        )


if __name__ == "__main__":
    main()
