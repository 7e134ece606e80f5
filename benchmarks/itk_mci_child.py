"""Child process of bench_interpolate.py: ITK's MorphologicalContourInterpolator on a batch of masks.

ITK 5.4's wheels abort now and then when the interpreter shuts down ("malloc_consolidate():
unaligned fastbin chunk detected": 2 of 4 runs beside nibabel, 1 of 12 runs of this child with
numpy and itk alone, every time after the results were complete). So ITK runs here, in its own
process, which writes its results and then leaves with ``os._exit(0)``, skipping that teardown.

Usage: ``python itk_mci_child.py IN.npz OUT.npz``; IN holds ``mask_<i>`` (uint8, numpy axis
order), ``axis_<i>`` (numpy axis) and ``spacing_<i>`` (mm per numpy axis); OUT gets ``out_<i>``
(bool) and ``seconds_<i>`` (wall time of the filter alone, one work unit).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np


def main(source: str, target: str) -> None:
    import itk

    itk.MorphologicalContourInterpolator  # noqa: B018 - ITK loads lazily (about a minute, once): not timed
    jobs = np.load(source)
    out = {}
    for key in [k for k in jobs.files if k.startswith("mask_")]:
        i = key[len("mask_") :]
        start = time.perf_counter()
        image = itk.image_from_array(np.ascontiguousarray(jobs[key]))
        image.SetSpacing([float(s) for s in reversed(jobs[f"spacing_{i}"])])
        filt = itk.MorphologicalContourInterpolator.New(image)
        filt.SetAxis(2 - int(jobs[f"axis_{i}"]))  # ITK indexes (x, y, z): numpy axis a is ITK axis 2 - a
        filt.SetLabel(1)
        filt.SetNumberOfWorkUnits(1)
        filt.Update()
        out[f"out_{i}"] = itk.array_from_image(filt.GetOutput()) > 0
        out[f"seconds_{i}"] = time.perf_counter() - start
    np.savez(target, **out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
    sys.stdout.flush()
    os._exit(0)  # skip ITK's teardown (see the module docstring); the results are on disk
