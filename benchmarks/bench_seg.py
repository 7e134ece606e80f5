"""DICOM SEG: our write and read against highdicom's own calls, on one CT series and its label map.

A synthetic CT series (``--shape`` columns, rows, slices; 0.8 mm pixels, 1.5 mm slices) on disk
and a label map of ``--segments`` ellipsoids on its grid. In one process, alternating
``--repeats`` times (medians):

* write, napari-medseg: ``write_segmentation(path, labels, volume, names)`` (it finds the
  series' files again from the volume and reads their headers);
* write, highdicom: ``pydicom.dcmread`` of every image, ``hd.seg.Segmentation(...)`` with the
  same segment descriptions, ``save_as``;
* read, napari-medseg: ``read_segmentation`` + ``segmentation_to_labels`` (labels on the CT grid);
* read, highdicom: ``hd.seg.segread`` + ``get_volume(combine_segments=True)``;
  both readers time the file highdicom wrote.

Both writers produce a binary SEG with empty frames omitted. The script checks that each
reader gives the label map back (ours on the CT grid; highdicom's volume over the frames it
holds) and prints the time ratios ours / highdicom (below 1: ours is faster) of the medians
and of the best runs (on a shared machine the best run is the least disturbed one).

    .venv/bin/python benchmarks/bench_seg.py [--shape 512 512 300] [--segments 10]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_medseg.io.dicom_derived import PATIENT_STUDY_TYPE2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def make_case(folder: Path, shape, segments: int, seed: int = 0):
    """Write the CT series; return its volume and a label map of ``segments`` ellipsoids (no overlaps)."""
    from dicom_factory import write_series
    from napari_medseg.io import read_volume

    cols, rows, n = shape
    rng = np.random.default_rng(seed)
    stored = rng.normal(1064, 20, size=(n, rows, cols)).astype(np.int16)
    write_series(
        folder, stored, pixel_spacing=(0.8, 0.8), slice_spacing=1.5, origin=(-200.0, -200.0, -100.0), intercept=-1024
    )
    volume = read_volume(folder)
    z, y, x = np.ogrid[: volume.shape[0], : volume.shape[1], : volume.shape[2]]
    labels = np.zeros(volume.shape, np.uint8)
    for k in range(1, segments + 1):
        c = rng.uniform(0.25, 0.75, 3) * volume.shape
        r = rng.uniform(0.05, 0.15, 3) * volume.shape
        inside = ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 <= 1
        labels[inside & (labels == 0)] = k
    return volume, labels


def names_of(segments: int) -> dict[int, str]:
    return {k: f"organ {k}" for k in range(1, segments + 1)}


def our_write(out: Path, volume, labels, segments: int) -> None:
    from napari_medseg.io.seg_write import write_segmentation

    write_segmentation(out, labels, volume, names_of(segments), algorithm_type="AUTOMATIC")


def highdicom_write(out: Path, files: list[Path], stacked: np.ndarray, segments: int) -> None:
    """highdicom as its documentation shows it: read the images, describe the segments, write."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    sources = [pydicom.dcmread(f) for f in files]
    for ds in sources:  # highdicom needs the Type 2 patient/study attributes present
        for keyword in PATIENT_STUDY_TYPE2:
            setattr(ds, keyword, ds.get(keyword, ""))
    algorithm = hd.AlgorithmIdentificationSequence(
        name="bench", version="1", family=codes.cid7162.ArtificialIntelligence
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=k,
            segment_label=name,
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type="AUTOMATIC",
            algorithm_identification=algorithm,
            display_color=hd.color.CIELabColor.from_rgb(200, 50, 50),
        )
        for k, name in names_of(segments).items()
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=stacked,
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=999,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="bench",
        manufacturer_model_name="bench",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(out)


def our_read(path: Path, volume) -> np.ndarray:
    from napari_medseg.io.seg import read_segmentation, segmentation_to_labels

    return segmentation_to_labels(read_segmentation(path), volume).labels


def highdicom_read(path: Path):
    import highdicom as hd

    return hd.seg.segread(path).get_volume(combine_segments=True)


def on_grid(their_volume, volume) -> np.ndarray:
    """highdicom's volume (its own axis order, over the frames it holds) placed on the CT's grid, file order."""
    m = np.linalg.inv(volume.file_affine) @ their_volume.affine  # their index -> our file index
    r, t = np.round(m[:3, :3]).astype(int), np.round(m[:3, 3]).astype(int)
    perm = [int(np.argmax(np.abs(r[:, a]))) for a in range(3)]
    arr = their_volume.array
    for a in range(3):
        if r[perm[a], a] < 0:
            arr = np.flip(arr, a)
    arr = arr.transpose(np.argsort(perm))
    start = np.minimum(t, t + r @ (np.array(their_volume.array.shape) - 1))
    out = np.zeros(volume.file_shape, arr.dtype)
    out[tuple(slice(b, b + n) for b, n in zip(start, arr.shape))] = arr
    return out


def timed(func, *args) -> tuple[float, object]:
    gc.collect()  # the previous call's garbage is not charged to this one
    start = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - start, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=(512, 512, 300), metavar=("COLS", "ROWS", "SLICES"))
    ap.add_argument("--segments", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import warnings

    import highdicom

    from napari_medseg.io import dicom

    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        volume, labels = make_case(tmp / "ct", args.shape, args.segments)
        files = dicom.scan(tmp / "ct")[0].files
        stacked = np.ascontiguousarray(volume.to_file_order(labels).transpose(2, 1, 0))  # (slice, row, column)
        times = {k: [] for k in ("our write", "highdicom write", "our read", "highdicom read")}
        our_write(tmp / "ours.dcm", volume, labels, args.segments)  # warm-up: imports and caches on both sides
        highdicom_write(tmp / "theirs.dcm", files, stacked, args.segments)
        our_read(tmp / "theirs.dcm", volume)
        highdicom_read(tmp / "theirs.dcm")
        calls = {
            "our write": (our_write, tmp / "ours.dcm", volume, labels, args.segments),
            "highdicom write": (highdicom_write, tmp / "theirs.dcm", files, stacked, args.segments),
            "our read": (our_read, tmp / "theirs.dcm", volume),  # both readers read highdicom's file
            "highdicom read": (highdicom_read, tmp / "theirs.dcm"),
        }
        for k in range(args.repeats):
            for name in list(calls) if k % 2 == 0 else list(calls)[::-1]:  # alternate who goes first
                times[name].append(timed(*calls[name])[0])
        ours = our_read(tmp / "theirs.dcm", volume)
        ours_ok = bool(np.array_equal(ours, labels)) and bool(
            np.array_equal(our_read(tmp / "ours.dcm", volume), labels)
        )
        theirs_ok = bool(
            np.array_equal(on_grid(highdicom_read(tmp / "ours.dcm"), volume), volume.to_file_order(labels))
        )
        med = {k: statistics.median(v) for k, v in times.items()}
        best = {k: min(v) for k, v in times.items()}
        frames = int(highdicom.seg.segread(tmp / "ours.dcm").NumberOfFrames)
    print(
        f"CT {args.shape[0]}x{args.shape[1]}x{args.shape[2]}, {args.segments} segments, {frames} frames; "
        f"highdicom {highdicom.__version__}; {args.repeats} repeats"
    )
    for k, v in med.items():
        print(f"  {k:16s} median {v:7.3f} s, best {best[k]:7.3f} s  (all: {' '.join(f'{t:.2f}' for t in times[k])})")
    print(f"  ours reads both SEGs back exactly: {ours_ok}; highdicom reads ours back exactly: {theirs_ok}")
    for label, t in (("medians", med), ("best runs", best)):
        w = t["our write"] / t["highdicom write"]
        r = t["our read"] / t["highdicom read"]
        total = (t["our write"] + t["our read"]) / (t["highdicom write"] + t["highdicom read"])
        print(f"time ratio ours / highdicom ({label}): write {w:.2f}, read {r:.2f}, write + read {total:.2f}")


if __name__ == "__main__":
    main()
