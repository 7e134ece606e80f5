"""Extra memory of interactive SAM on a 512 x 512 x 300 CT (target: at most 1 GB over the loaded volume).

In a child process: a synthetic int16 CT of 512 x 512 x 300 (an abdomen with a 60 HU organ
spanning ~60 slices) is built, then the LiteMedSAM predictor is loaded and warmed on one
slice (encoder, and the decoder on a batch of 8 boxes, as a click probes); the peak resident
memory (VmHWM) is reset, and one box on the organ's middle slice is
propagated through the whole volume (the default range) by an ``InteractiveSession``, then
one corrective click is made. Printed: the peak over the memory held before the box, which
includes the windowed uint8 copy, the structure mask and every embedding computed.

Run: ``.venv/bin/python benchmarks/bench_sam_memory.py``. The issue's figure for the code
before this work: 2.3 GB for one box.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np


def rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def child() -> None:
    import torch

    from napari_medseg.models.sam import InteractiveSession, load_predictor

    torch.set_num_threads(2)
    shape = (300, 512, 512)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    ct = np.full(shape, -1000, np.int16)
    body = ((y - 256) / 230.0) ** 2 + ((x - 256) / 250.0) ** 2 < 1
    ct[:] = np.where(body, 40, -1000).astype(np.int16)
    organ = ((z - 150) / 30.0) ** 2 + ((y - 220) / 60.0) ** 2 + ((x - 180) / 70.0) ** 2 < 1
    ct[organ] = 160
    ct += np.random.default_rng(0).normal(0, 12, shape).astype(np.int16)
    predictor = load_predictor("litemedsam", device="cpu")
    warm = predictor.embed([np.zeros((512, 512), np.uint8)])[0]  # load and warm the model: encoder and decoder
    predictor.decode_boxes(warm, predictor.transform.geometry(512, 512), [(10, 10, 100, 100)] * 8)
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset VmHWM to the current resident size
    before = rss_kib("VmRSS")
    start = time.perf_counter()
    session = InteractiveSession(predictor, ct)
    rows, cols = np.nonzero(organ[150])
    session.add_box(0, 150, (cols.min(), rows.min(), cols.max(), rows.max()), propagate=True)
    reached = np.flatnonzero(session.mask.any(axis=(1, 2)))
    session.add_click(0, 150, float(cols.max()) + 20, float(rows.mean()), True)
    seconds = time.perf_counter() - start
    peak = rss_kib("VmHWM")
    truth = np.flatnonzero(organ.any(axis=(1, 2)))
    print(
        f"512x512x300 int16 CT ({ct.nbytes / 2**20:.0f} MiB): box + default-range propagation + one click "
        f"in {seconds:.0f} s; mask on slices {reached.min()}..{reached.max()} (organ {truth.min()}..{truth.max()}); "
        f"peak extra memory {(peak - before) / 2**20:.2f} GiB (target <= 1 GiB; before this work 2.3 GiB)"
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        sys.exit(subprocess.call([sys.executable, __file__, "--child"]))
