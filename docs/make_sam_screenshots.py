"""Screenshots of the Interactive SAM widget on the sample CT for docs/sam.md.

Run under a display or Xvfb: ``xvfb-run -a .venv/bin/python docs/make_sam_screenshots.py``.
Writes docs/img/sam_box_prompt.png (a box on one slice and its preview) and
docs/img/sam_propagated.png (the accepted, propagated organ).
"""
from __future__ import annotations

from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from napari_medseg._napari.layers import image_layer_data
from napari_medseg._napari.sam_widget import SamWidget
from napari_medseg.io import read_volume
from napari_medseg.samples import sample_dir

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"


def wait(widget: SamWidget) -> None:
    app = QApplication.instance()
    while widget._busy or widget._pending:
        app.processEvents()


def main() -> None:
    volume = read_volume(sample_dir() / "ct_phantom")
    organ = read_volume(sample_dir() / "ct_phantom_organ.nii.gz").array > 0
    viewer = napari.Viewer(title="napari-medseg: Interactive SAM")
    viewer.window.resize(1400, 900)
    data, kwargs, _ = image_layer_data(volume, name="sample CT")
    image = viewer.add_image(data, **kwargs)
    widget = SamWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Interactive SAM", area="right")
    widget.image_combo.value = image
    zs = np.flatnonzero(organ.any(axis=(1, 2)))
    k = int(zs[len(zs) // 2])
    viewer.dims.set_current_step(0, k)
    rows, cols = np.nonzero(organ[k])
    r0, r1, c0, c1 = rows.min() - 2, rows.max() + 2, cols.min() - 2, cols.max() + 2
    widget.boxes.add_rectangles(np.array([[k, r0, c0], [k, r0, c1], [k, r1, c1], [k, r1, c0]], float))
    wait(widget)
    viewer.layers.selection.active = widget.boxes
    viewer.screenshot(str(OUT / "sam_box_prompt.png"), canvas_only=False)
    widget.accept()
    widget.first.value, widget.last.value = int(zs[0]) - 2, int(zs[-1]) + 2
    widget.propagate()
    wait(widget)
    widget.accept()
    viewer.dims.set_current_step(0, int(zs[len(zs) // 4]))
    viewer.layers.selection.active = widget.labels_combo.value
    viewer.screenshot(str(OUT / "sam_propagated.png"), canvas_only=False)
    labels = np.asarray(widget.labels_combo.value.data)
    dice = 2 * ((labels == 1) & organ).sum() / ((labels == 1).sum() + organ.sum())
    print(f"propagated Dice to the organ truth: {dice:.3f}")
    viewer.close()


if __name__ == "__main__":
    main()
