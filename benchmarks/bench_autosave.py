"""How long autosave holds napari's event loop on a 512 x 512 x 300 labels layer, vs writing on the GUI thread.

One painted labels layer (uint8, 300 x 512 x 512, 0.7 x 0.7 x 1.0 mm). Ours: the watcher
copies the layer on the GUI thread and writes the snapshot in a worker; we time the copy
and the longest gap between event-loop turns while the worker writes (a 5 ms loop, as
painting would see it). Baseline: the same snapshot written on the GUI thread (the loop
is blocked for the whole write). Run under Xvfb:

``xvfb-run -a python benchmarks/bench_autosave.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

SHAPE = (300, 512, 512)
AFFINE = np.array([[0, 0, 0.7, 0], [0, 0.7, 0, 0], [1.0, 0, 0, 0], [0, 0, 0, 1.0]])  # array -> LPS mm


def main(repeats: int) -> None:
    os.environ.setdefault("NAPARI_MEDSEG_AUTOSAVE", tempfile.mkdtemp(prefix="bench-autosave-"))
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_medseg._napari.autosave import AutosaveWatcher
    from napari_medseg._napari.layers import labels_layer_data, volume_from_layer
    from napari_medseg.autosave import save_snapshot
    from napari_medseg.volume import Volume

    viewer = napari.Viewer(show=False)
    reference = Volume(np.zeros(SHAPE, np.int16), AFFINE, meta={"path": "/nonexistent/ct.nii.gz"})
    data, kwargs, _ = labels_layer_data(np.zeros(SHAPE, np.uint8), reference, "organ")
    layer = viewer.add_labels(data, **kwargs)
    layer.data[100:200, 150:350, 150:350] = 1
    watcher = AutosaveWatcher(viewer, delay_s=3600, max_wait_s=3600)
    ours_copy, ours_gap, baseline = [], [], []
    for k in range(repeats):
        layer.paint((150, 256, 256 + k), 2)
        start = time.perf_counter()
        watcher.save_now()
        ours_copy.append(time.perf_counter() - start)
        gaps, last = [], time.perf_counter()
        while watcher.worker is not None:
            QApplication.processEvents()
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
            time.sleep(0.005)
        ours_gap.append(max(gaps))
        start = time.perf_counter()
        copy = np.array(layer.data, copy=True)
        save_snapshot(copy, volume_from_layer(layer).with_array(copy), "organ-sync")
        baseline.append(time.perf_counter() - start)
    viewer.close()
    med = statistics.median
    print(f"labels {SHAPE} uint8, {repeats} runs (median)")
    print(
        f"  ours: copy on the GUI thread {1000 * med(ours_copy):.0f} ms, longest event-loop gap while the worker "
        f"writes {1000 * med(ours_gap):.0f} ms"
    )
    print(f"  baseline (write on the GUI thread): loop blocked {1000 * med(baseline):.0f} ms")
    print(f"  ratio longest stall ours / baseline: {max(med(ours_copy), med(ours_gap)) / med(baseline):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("bench_autosave: skipped, napari needs a display (run it under xvfb-run)")  # make bench goes on
    else:
        main(repeats)
