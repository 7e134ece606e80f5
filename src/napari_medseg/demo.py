"""``medseg demo``: a headless end-to-end run on the shipped sample data.

Each step is a plain function call on :class:`Volume` objects; the outputs (NIfTI
volumes, CSV metrics and a PNG overview) go to one folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .io import read_volume, write_labels, write_volume
from .metrics import evaluate_volumes
from .metrics.report import format_table, records_to_rows, write_csv
from .overview import save_overview
from .samples import BRAIN_TISSUE_NAMES, ct_phantom_paths, load_brain_mri
from .volume import Volume

BOX_MARGIN_VOXELS = (1, 4, 4)  # how loosely the demo's "user" draws the box around the organ


def box_around(mask: np.ndarray, margin: tuple[int, int, int]) -> tuple[int, ...]:
    """Inclusive (a0, a1, a2, b0, b1, b2) array-index box around a mask, grown by ``margin``."""
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(axis=0) - margin, 0)
    hi = np.minimum(idx.max(axis=0) + margin, np.array(mask.shape) - 1)
    return tuple(int(v) for v in (*lo, *hi))


def _brain_step(out: Path, report: Callable[[str], None], device: str) -> tuple[list[Path], tuple, list[dict]]:
    from .models.segment import segment_volume

    t1, reference = load_brain_mri()
    report(f"sample brain MRI: shape {t1.shape}, spacing {tuple(round(float(s), 2) for s in t1.spacing)} mm")
    seg = segment_volume(t1, "brain-tissue", device=device)
    report(f"brain-tissue U-Net on {seg.device}: {seg.seconds:.1f} s")
    written = [
        write_volume(out / "brain_t1.nii.gz", t1.array, t1),
        write_labels(out / "brain_tissue_unet.nii.gz", seg.labels, t1),
    ]
    evaluation = evaluate_volumes(t1.with_array(seg.labels), t1.with_array(reference.array))
    report(
        "brain-tissue vs the sample's reference labels:\n" + format_table(evaluation.records, names=BRAIN_TISSUE_NAMES)
    )
    rows = records_to_rows(evaluation.records, case="brain_mri", names=BRAIN_TISSUE_NAMES)
    return written, ("sample MRI: brain-tissue U-Net (1 grey matter, 2 white matter, 3 CSF)", t1, seg.labels), rows


def _ct_step(out: Path, report: Callable[[str], None], device: str) -> tuple[list[Path], tuple, list[dict]]:
    from .models.sam import segment_box_3d

    folder, truth_path = ct_phantom_paths()
    ct = read_volume(folder)
    truth = read_volume(truth_path).array > 0
    report(f"sample CT series: shape {ct.shape}, spacing {tuple(round(float(s), 2) for s in ct.spacing)} mm")
    box = box_around(truth, BOX_MARGIN_VOXELS)
    t0 = time.perf_counter()
    mask = segment_box_3d(ct, box, slice_axis=0, model="litemedsam", device=device)
    report(
        f"LiteMedSAM, box {box} (array indices z0,y0,x0,z1,y1,x1) propagated over "
        f"{box[3] - box[0] + 1} slices: {time.perf_counter() - t0:.1f} s"
    )
    written = [
        write_volume(out / "ct_phantom.nii.gz", ct.array, ct),
        write_labels(out / "ct_organ_litemedsam.nii.gz", mask, ct),
    ]
    evaluation = evaluate_volumes(ct.with_array(mask), ct.with_array(truth.astype(np.uint8)))
    names = {1: "organ"}
    report("LiteMedSAM vs the phantom's organ truth:\n" + format_table(evaluation.records, names=names))
    rows = records_to_rows(evaluation.records, case="ct_phantom", names=names)
    return written, ("sample CT: LiteMedSAM box prompt, propagated", ct, mask), rows


def run_demo(out_dir: str | Path, report: Callable[[str], None] = print, device: str = "auto") -> list[Path]:
    """Run the demo and return the files written.

    1. The sample brain MRI is segmented by the shipped ``brain-tissue`` U-Net and scored
       against the sample's reference tissue labels.
    2. The sample CT DICOM series is converted to NIfTI and its liver-like organ segmented by
       LiteMedSAM from one box around it, propagated through the slices, then scored
       against the organ's truth.
    3. Metrics go to ``metrics.csv`` and an overview of both results to ``overview.png``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    written: list[Path] = []
    tiles: list[tuple[str, Volume, np.ndarray]] = []
    rows: list[dict] = []
    for step in (_brain_step, _ct_step):
        files, tile, metric_rows = step(out, report, device)
        written += files
        tiles.append(tile)
        rows += metric_rows
    written.append(write_csv(out / "metrics.csv", rows))
    written.append(save_overview(out / "overview.png", tiles))
    for p in written:
        report(f"wrote {p}")
    report(f"demo finished in {time.perf_counter() - t0:.1f} s")
    return written
