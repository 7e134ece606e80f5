"""Regenerate docs/img/segment_widget.png: the Segment widget and its result on the sample MRI.

Opens napari with the sample brain MRI, runs ``brain-tissue`` through the widget (worker
thread, progress bar) and saves the whole window once the labels layer has arrived.

Run under a display or Xvfb: ``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/segment_screenshot.py``
"""

from __future__ import annotations

import time
from pathlib import Path


def main(out: Path = Path(__file__).parent / "img" / "segment_widget.png") -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_medseg._napari.segment_widget import SegmentWidget

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 900)
    image, reference = viewer.open_sample("napari-medseg", "brain_mri")
    reference.visible = False
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Segment (U-Net)", area="right")
    widget._device.value = "cpu"
    widget.run()
    deadline = time.time() + 300
    while widget.worker is not None and time.time() < deadline:
        QApplication.processEvents()
        time.sleep(0.05)
    result = [layer for layer in viewer.layers if layer.name.endswith("[brain-tissue]")][0]
    result.opacity = 0.45
    viewer.layers.selection.active = result
    viewer.dims.set_point(0, viewer.dims.point[0])
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}: {widget.status}")
    viewer.close()


if __name__ == "__main__":
    main()
