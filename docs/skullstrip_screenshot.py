"""Regenerate docs/img/skullstrip_widget.png: the Skull-strip widget on the sample brain in a synthetic head.

Opens napari with :func:`napari_medseg.samples.whole_head_mri` (the sample brain inside a
T1-like scalp and skull), runs the widget (worker thread) and saves the whole window once
the stripped image and the brain mask have arrived.

Run under a display or Xvfb: ``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/skullstrip_screenshot.py``
"""

from __future__ import annotations

import time
from pathlib import Path


def main(out: Path = Path(__file__).parent / "img" / "skullstrip_widget.png") -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_medseg._napari.layers import image_layer_data
    from napari_medseg._napari.skullstrip_widget import SkullStripWidget
    from napari_medseg.samples import whole_head_mri

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 900)
    head, _ = whole_head_mri()
    data, kwargs, _ = image_layer_data(head, "head (T1-like)")
    image = viewer.add_image(data, **kwargs)
    widget = SkullStripWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Skull-strip", area="right")
    widget.image_combo.value = image
    widget.run()
    deadline = time.time() + 300
    while widget.worker is not None and time.time() < deadline:
        QApplication.processEvents()
        time.sleep(0.05)
    viewer.layers[f"{image.name} brain mask"].visible = False
    viewer.grid.enabled = True  # the head and its stripped brain side by side
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}: {widget.status.value}")
    viewer.close()


if __name__ == "__main__":
    main()
