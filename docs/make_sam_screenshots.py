"""Screenshots of the Interactive SAM widget on the sample CT for docs/sam.md.

Run under a display or Xvfb: ``xvfb-run -a .venv/bin/python docs/make_sam_screenshots.py``.
Writes docs/img/sam_box_prompt.png (a sloppy box on one slice and its preview, propagated),
docs/img/sam_correction.png (an outside click [Shift-W] removing what the box took in too
much, inside clicks [W] adding what it missed) and docs/img/sam_propagated.png (the accepted
organ). Prints the Dice to the organ's truth after each step.
"""

from __future__ import annotations

from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from napari_medseg._napari.layers import image_layer_data
from napari_medseg._napari.sam_widget import SamWidget
from napari_medseg.io import read_volume
from napari_medseg.models.sam.simulated_user import next_click
from napari_medseg.samples import sample_dir

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"


def wait(widget: SamWidget) -> None:
    app = QApplication.instance()
    app.processEvents()
    while widget.busy:
        app.processEvents()


def dice(a, b) -> float:
    return 2 * (a & b).sum() / max(a.sum() + b.sum(), 1)


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
    wait(widget)
    zs = np.flatnonzero(organ.any(axis=(1, 2)))
    k = int(zs[len(zs) // 2])
    viewer.dims.set_current_step(0, k)
    rows, cols = np.nonzero(organ[k])
    r0, r1, c0, c1 = rows.min() - 4, rows.max() + 14, cols.min() - 4, cols.max() + 14  # too large a box
    widget.box_mode()
    widget.layers.boxes.add_rectangles(np.array([[k, r0, c0], [k, r0, c1], [k, r1, c1], [k, r1, c0]], float))
    wait(widget)
    widget.propagate()
    wait(widget)
    preview = widget.layers.preview.data > 0
    print(f"box + propagation: Dice {dice(preview, organ):.3f}; slice {k}: {dice(preview[k], organ[k]):.3f}")
    viewer.screenshot(str(OUT / "sam_box_prompt.png"), canvas_only=False)
    for _ in range(3):  # the slice the user looks at: click where the preview is most wrong
        c, r, inside = next_click(widget.layers.preview.data[k] > 0, organ[k])
        widget.point_mode(inside)
        widget.layers.points.add(np.array([[k, r, c]], float))
        wait(widget)
        preview = widget.layers.preview.data > 0
        print(
            f"{'inside' if inside else 'outside'} click at ({r}, {c}): Dice {dice(preview, organ):.3f}; "
            f"slice {k}: {dice(preview[k], organ[k]):.3f}"
        )
    viewer.layers.selection.active = widget.layers.points
    viewer.screenshot(str(OUT / "sam_correction.png"), canvas_only=False)
    widget.accept()
    viewer.dims.set_current_step(0, int(zs[len(zs) // 4]))
    viewer.layers.selection.active = widget.labels_combo.value
    viewer.screenshot(str(OUT / "sam_propagated.png"), canvas_only=False)
    labels = np.asarray(widget.labels_combo.value.data)
    print(f"accepted: Dice to the organ truth {dice(labels == 1, organ):.3f}")
    widget.shutdown()
    viewer.close()


if __name__ == "__main__":
    main()
