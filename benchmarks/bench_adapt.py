"""Adapting LiteMedSAM to one structure from K corrected slices: before / after, time, memory.

For each structure, K slices spread evenly over its extent (axis 0) are taken as the user's
corrected slices (the truth there); an adapter is trained on them (``models.sam.adapter``:
a copy of the mask decoder, boxes from the masks jittered, flips, AdamW 1e-4, batch 2) and
the other slices of the structure (the not-corrected ones) are scored two ways, with the
base model and with the adapter:

* **box**: each slice prompted with its truth mask's box (as propagation draws it), pooled Dice;
* **propagated**: the structure propagated through the volume from the K corrected slices
  (``InteractiveSession.add_slices`` + ``propagate``), Dice over the not-corrected slices.

*other* is the box Dice of the other structures of the same image with the base model (what
the GUI and CLI use for them) and, to show why an adapter is tied to its label, with the
adapter wrongly applied. Wall time and peak memory (process RSS above the start, sampled
every 20 ms) are those of adapting; the load average is printed because the CPU is shared.

Cases: ``interactive_cases.py``: deep structures of the MNI T1 at 2 mm (``mni_deep``) and
synthetic CT organs (``ct_organs``); the same rule on nilearn's 1 mm ICBM152 2009a (T1 and
its GM / WM maps). Run:
``.venv/bin/python benchmarks/bench_adapt.py [--ks 3,5,10] [--steps 100] [--mni 3] [--mni1 2] [--ct 2]``
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interactive_cases import ct_organ_volume, mni_deep  # noqa: E402

from napari_medseg.models.sam import InteractiveSession, load_predictor  # noqa: E402
from napari_medseg.models.sam.adapter import adapt, adapted_predictor  # noqa: E402
from napari_medseg.models.sam.propagation import default_margin, mask_box  # noqa: E402


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def box_dice(predictor, session, truth: np.ndarray, slices) -> float:
    """Pooled Dice over ``slices`` (axis 0), each prompted with its truth box."""
    stack, key = session.volume.stack(0), session.volume.key_function(0)
    geo, margin = predictor.transform.geometry(*truth.shape[1:]), default_margin(truth.shape[1:])
    predicted = np.zeros_like(truth)
    for i in slices:
        embedding = predictor.embed([stack[i]], [key(i)])[0]
        predicted[i] = predictor.decode_boxes(embedding, geo, [mask_box(truth[i], margin)])[0][0]
    return dice(predicted[slices], truth[slices])


def propagated_dice(predictor, session, truth: np.ndarray, corrected, others) -> float:
    """Propagate from the corrected (truth) slices with ``predictor``; Dice over ``others``."""
    session.set_predictor(predictor)
    session.set_target(truth.astype(np.uint8), 1)
    session.mask[[i for i in range(truth.shape[0]) if i not in corrected]] = False
    session.add_slices(0, corrected)
    session.propagate(0)
    return dice(session.mask[others], truth[others])


class PeakRss:
    """Peak resident memory of this process above its level at the start (bytes), sampled in a thread."""

    def __enter__(self):
        self.process, self.start, self.peak, self._stop = psutil.Process(), 0, 0, threading.Event()
        self.start = self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def above_start_gb(self) -> float:
        return (self.peak - self.start) / 1e9


def mni_deep_1mm():
    """``interactive_cases.mni_deep`` on nilearn's 1 mm ICBM152 2009a (T1, GM and WM maps):
    the same rule with depths and sizes scaled to 1 mm voxels (components over 50,000 voxels,
    deep grey matter joined to the cortex, are left out)."""
    import nilearn
    from scipy import ndimage

    from napari_medseg.io import read_volume
    from napari_medseg.samples import brain_tissue_labels

    data = Path(nilearn.__file__).parent / "datasets" / "data"
    t1, gm, wm = (
        read_volume(data / f"mni_icbm152_{part}_tal_nlin_sym_09a_converted.nii.gz") for part in ("t1", "gm", "wm")
    )
    labels = brain_tissue_labels(gm.array, wm.array)
    brain = ndimage.binary_fill_holes(labels > 0)
    depth = ndimage.distance_transform_edt(brain)
    found = {}
    for value, name, min_depth in ((1, "nucleus", 18), (0, "ventricle", 14)):
        candidate = ndimage.binary_opening((labels == value) & (depth > min_depth) & brain, iterations=2)
        comps, n = ndimage.label(candidate)
        sizes = ndimage.sum(candidate, comps, range(1, n + 1))
        for i in np.argsort(sizes)[::-1][:8]:
            if 1200 <= sizes[i] <= 50_000:  # larger: deep grey matter joined to the cortex, not a nucleus
                found[f"{name}{len(found)}"] = comps == i + 1
    return t1.array.astype(np.float32), found


def images(n_mni: int, n_mni_1mm: int, n_ct: int):
    """(family, image name, image, {structure: mask}) with the structures to adapt listed first."""
    mni = list(mni_deep()) if n_mni > 0 else []
    if mni:
        yield "mni_deep 2 mm", "MNI T1", mni[0][2], {name: mask for _, name, _, mask in mni}
    for seed in range(n_ct):
        hu, structures = ct_organ_volume(1000 + seed)
        yield "ct_organs", f"ct v{seed}", hu, structures
    if n_mni_1mm > 0:
        yield ("mni_deep 1 mm", "MNI T1 1mm", *mni_deep_1mm())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="3,5,10")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--mni", type=int, default=3, help="MNI structures to adapt (largest first)")
    parser.add_argument("--mni1", type=int, default=2, help="MNI structures at 1 mm to adapt")
    parser.add_argument("--ct", type=int, default=2, help="CT volumes (their target organ is adapted)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ks = [int(k) for k in args.ks.split(",")]
    predictor = load_predictor("litemedsam", device="cpu")
    print(
        f"# load average at start: {' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs; "
        f"{args.steps} steps, batch 2, AdamW 1e-4, flips"
    )
    print(
        "| family | structure | K | box before | box after | propagated before | propagated after | "
        "other structures base / adapter wrongly applied | adapt s | peak GB | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for family, image_name, image, structures in images(args.mni, args.mni1, args.ct):
        session = InteractiveSession(predictor, image)
        base = session.predictor
        names = list(structures)
        count = args.mni if family == "mni_deep 2 mm" else args.mni1 if family.startswith("mni") else 1
        targets = list(dict.fromkeys(names[:1] + [n for n in names if n.startswith("ventricle")][:1] + names))[:count]
        others_base = {
            n: box_dice(base, session, m, np.flatnonzero(m.any(axis=(1, 2)))) for n, m in list(structures.items())[:5]
        }
        for name in targets:
            truth = structures[name]
            extent = np.flatnonzero(truth.any(axis=(1, 2)))
            for k in ks:
                if len(extent) < k + 2:
                    continue
                corrected = sorted({int(extent[i]) for i in np.linspace(0, len(extent) - 1, k).round().astype(int)})
                others = [int(i) for i in extent if i not in corrected]
                with PeakRss() as memory:
                    started = time.perf_counter()
                    adapter = adapt(
                        base,
                        session.volume.stack(0),
                        truth,
                        corrected,
                        label=1,
                        steps=args.steps,
                        held_out=[],
                        keys=session.volume.key_function(0),
                    )
                    seconds = time.perf_counter() - started
                adapted = adapted_predictor(base, adapter)
                scores = [
                    box_dice(base, session, truth, others),
                    box_dice(adapted, session, truth, others),
                    propagated_dice(base, session, truth, corrected, others),
                    propagated_dice(adapted, session, truth, corrected, others),
                ]
                other = [
                    (others_base[n], box_dice(adapted, session, m, np.flatnonzero(m.any(axis=(1, 2)))))
                    for n, m in list(structures.items())[:5]
                    if n != name
                ]
                other_text = ", ".join(f"{b:.2f}/{a:.2f}" for b, a in other) or "-"
                print(
                    f"| {family} | {image_name} {name} | {k} | "
                    + " | ".join(f"{s:.2f}" for s in scores)
                    + f" | {other_text} | {seconds:.0f} | {memory.above_start_gb:.2f} | {os.getloadavg()[0]:.1f} |",
                    flush=True,
                )
        session.set_predictor(base)


if __name__ == "__main__":
    main()
