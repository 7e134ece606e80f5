"""Regenerate docs/img/evaluate_widget.png: the Evaluate widget on the sample brain MRI.

Reference: the sample tissue labels (1 grey matter, 2 white matter). Prediction: the
same labels perturbed (white matter grown by one voxel in the left hemisphere, grey
matter shifted by one voxel, a false-positive island), standing in for a model result.

Run under a display or Xvfb: ``xvfb-run -a python docs/evaluate_screenshot.py``
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from scipy import ndimage


def perturbed(ref: np.ndarray) -> np.ndarray:
    pred = ref.copy()
    half = ref.shape[2] // 2
    wm = ref == 2
    grown = ndimage.binary_dilation(wm)
    grown[:, :, :half] = wm[:, :, :half]  # grow on one side only (array axis 2 points to the patient's left)
    pred[grown] = 2
    gm_shifted = np.roll(ref == 1, 1, axis=1) & ~grown
    pred[(pred == 1) & ~gm_shifted] = 0
    pred[gm_shifted & (pred == 0)] = 1
    z, y, x = (n // 2 for n in ref.shape)
    pred[z - 2 : z + 2, y + 30 : y + 35, x + 25 : x + 30] = 1  # an island
    return pred


def main(out: Path = Path(__file__).parent / "img" / "evaluate_widget.png") -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_medseg._napari.evaluate_widget import EvaluateWidget

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 900)
    image, ref = viewer.open_sample("napari-medseg", "brain_mri")
    viewer.add_labels(
        perturbed(np.asarray(ref.data)), name="prediction (perturbed)", affine=ref.affine, units=ref.units, opacity=0.5
    )
    ref.visible = False
    widget = EvaluateWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Evaluate", area="right")
    widget.run()
    deadline = time.time() + 120
    while not widget.run_button.enabled and time.time() < deadline:
        QApplication.processEvents()
        time.sleep(0.05)
    viewer.dims.set_point(0, viewer.dims.point[0])  # axial slice through the middle
    viewer.layers["prediction (perturbed)"].visible = False
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}")
    viewer.close()


if __name__ == "__main__":
    main()
