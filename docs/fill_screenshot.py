"""Regenerate docs/img/fill_between.png: an organ drawn on every 4th CT slice, filled between.

Opens the sample CT phantom, puts its organ's true outline on every 4th axial slice of a new
Labels layer (as a user drawing a few slices would), runs the Fill between slices widget and
shows the coronal plane, where the filled slices between the drawn ones are visible.

Run under a display or Xvfb: ``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/fill_screenshot.py``
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def main(out: Path = Path(__file__).parent / "img" / "fill_between.png") -> None:
    os.environ["NAPARI_MEDSEG_AUTOSAVE"] = tempfile.mkdtemp()
    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication

    from napari_medseg.io import read_volume
    from napari_medseg.samples import ct_phantom_paths

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1600, 800)
    folder, organ_path = ct_phantom_paths()
    (image,) = viewer.open(str(folder), plugin="napari-medseg")
    organ = read_volume(organ_path).array > 0
    drawn = np.zeros(organ.shape, np.uint8)
    slices = np.flatnonzero(organ.any(axis=(1, 2)))[::4]
    drawn[slices] = organ[slices]
    labels = viewer.add_labels(drawn, name="organ (every 4th slice drawn)", affine=image.affine, units=image.units)
    labels.selected_label = 1
    _, widget = viewer.window.add_plugin_dock_widget("napari-medseg", "Fill between slices")
    widget.labels_combo.value = labels
    widget.fill()
    viewer.dims.order = (1, 0, 2)  # slice across rows: a coronal plane, the axial slices stacked upwards
    viewer.dims.set_current_step(1, int(np.median(np.nonzero(organ)[1])))
    viewer.camera.orientation2d = ("up", "right")  # superior up
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    viewer.reset_view()
    QApplication.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}: {widget.status.value}")
    viewer.close()


if __name__ == "__main__":
    main()
