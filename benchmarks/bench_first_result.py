"""Time to first result on a first day: each main flow in a fresh process, through the widgets' own calls.

Flows (each a new Python process, so imports and model loading count, as for a user who
has just installed the plugin; the SAM embedding cache starts empty):

* ``napari``: napari's window with our Segment, Interactive SAM and Evaluate docks
  (``import napari``, ``napari.Viewer``, ``add_plugin_dock_widget`` x 3; Qt offscreen).
* ``sam``: open the sample CT (``read_volume``, as *File > Open Sample*), load LiteMedSAM
  (``load_predictor``, as the SAM widget's worker), one box on the organ's middle slice
  (``InteractiveSession.add_box``: the first preview), then propagation through the organ
  (``InteractiveSession.propagate``, *Propagate [Shift-G]*).
* ``unet``: open the sample brain MRI (``load_brain_mri``) and segment it with the shipped
  ``brain-tissue`` U-Net (``segment_volume``, as the Segment widget's worker).
* ``evaluate``: the Evaluate widget's worker (``evaluate_layers_data``: Dice, HD95, NSD and
  the boundary-error map) on the U-Net result against the sample tissue labels.
* ``save``: *Save labels* (``write_labels`` with names: NIfTI + ITK-SNAP label description).

Prints a Markdown table (seconds per stage, median of ``--repeats`` processes) with the
machine's CPU count and load average before and after. Usage::

    python benchmarks/bench_first_result.py [--repeats 3] [--flows napari,sam,unet,evaluate,save]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

FLOWS = ("napari", "sam", "unet", "evaluate", "save")


def _clock():
    start = time.perf_counter()
    return lambda: round(time.perf_counter() - start, 3)


def flow_napari() -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    since = _clock()
    import napari

    imported = since()
    viewer = napari.Viewer(show=False)
    window = since()
    for name in ("Segment (U-Net)", "Interactive SAM", "Evaluate"):
        viewer.window.add_plugin_dock_widget("napari-medseg", name, tabify=True)
    docked = since()
    viewer.close()
    return {"import napari": imported, "viewer window": window - imported, "3 docks": docked - window}


def flow_sam() -> dict:
    since = _clock()
    import numpy as np

    from napari_medseg.io import read_volume
    from napari_medseg.models.sam import InteractiveSession, load_predictor
    from napari_medseg.samples import ct_phantom_paths

    imported = since()
    folder, truth_path = ct_phantom_paths()
    ct = read_volume(folder)
    opened = since()
    predictor = load_predictor("litemedsam", device="cpu", cache_dir=tempfile.mkdtemp(prefix="bench-sam-cache-"))
    session = InteractiveSession(predictor, np.asarray(ct.array))
    loaded = since()
    organ = read_volume(truth_path).array > 0
    zs = np.flatnonzero(organ.any(axis=(1, 2)))
    k = int(zs[len(zs) // 2])
    rows, cols = np.nonzero(organ[k])
    session.add_box(0, k, (cols.min() - 4, rows.min() - 4, cols.max() + 4, rows.max() + 4))  # a loose box
    boxed = since()
    session.propagate(0)
    propagated = since()
    return {
        "imports": imported,
        "open sample CT": opened - imported,
        "load LiteMedSAM": loaded - opened,
        "first box (one slice)": boxed - loaded,
        "propagate through the organ": propagated - boxed,
    }


def flow_unet() -> dict:
    since = _clock()
    from napari_medseg.models.segment import segment_volume
    from napari_medseg.samples import load_brain_mri

    imported = since()
    t1, _ = load_brain_mri()
    opened = since()
    segment_volume(t1, "brain-tissue", device="cpu")
    done = since()
    return {"imports": imported, "open sample MRI": opened - imported, "brain-tissue U-Net": done - opened}


def flow_evaluate() -> dict:
    from napari_medseg.models.segment import segment_volume
    from napari_medseg.samples import load_brain_mri

    t1, reference = load_brain_mri()
    predicted = reference.with_array(segment_volume(t1, "brain-tissue", device="cpu").labels)
    since = _clock()
    from napari_medseg._napari.evaluate_widget import evaluate_layers_data

    imported = since()
    evaluate_layers_data(predicted, reference, tolerance_mm=2.0, surface="voxel", resample=False, with_error_map=True)
    return {"imports": imported, "evaluate (Dice, HD95, NSD, error map)": since() - imported}


def flow_save() -> dict:
    import numpy as np

    from napari_medseg.samples import load_brain_mri

    t1, reference = load_brain_mri()
    since = _clock()
    from napari_medseg.io import write_labels

    imported = since()
    out = os.path.join(tempfile.mkdtemp(prefix="bench-save-"), "tissue.nii.gz")
    write_labels(out, np.asarray(reference.array), t1, {1: "grey matter", 2: "white matter"})
    return {"imports": imported, "save labels (.nii.gz + names)": since() - imported}


def run_child(flow: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, __file__, "--child", flow], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"flow {flow} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(repeats: int, flows: list[str]) -> None:
    load_before = os.getloadavg()
    results: dict[str, list[dict]] = {}
    wall: dict[str, list[float]] = {}
    for _ in range(repeats):
        for flow in flows:
            start = time.perf_counter()
            results.setdefault(flow, []).append(run_child(flow))
            wall.setdefault(flow, []).append(time.perf_counter() - start)
    load_after = os.getloadavg()
    print(f"{os.cpu_count()} CPUs; load average (1, 5, 15 min) before {load_before}, after {load_after}")
    print(f"median of {repeats} fresh processes per flow\n")
    print("| flow | stage | seconds |")
    print("|---|---|---|")
    for flow in flows:
        for stage in results[flow][0]:
            print(f"| {flow} | {stage} | {statistics.median(r[stage] for r in results[flow]):.2f} |")
        print(f"| {flow} | **whole process (python start to exit)** | **{statistics.median(wall[flow]):.2f}** |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flows", default=",".join(FLOWS))
    parser.add_argument("--child", choices=FLOWS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(globals()[f"flow_{args.child}"]()))
    else:
        main(args.repeats, args.flows.split(","))
