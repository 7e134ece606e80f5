"""Screenshots on a 1366 x 768 screen: our docks opened from the Plugins menu share one tabbed dock.

Opens Segment (U-Net), Interactive SAM and Evaluate from napari's *Plugins* menu, as a user
does, then runs the three first-day flows and saves the whole window after each:

* docs/img/layout_1366_sam.png: the sample CT, one box on the organ, its preview;
* docs/img/layout_1366_segment.png: the sample MRI segmented by the brain-tissue U-Net;
* docs/img/layout_1366_evaluate.png: that result scored against the sample tissue labels;
* docs/img/series_chooser.png: pydicom's dicomdirtests study opened: the series chooser.

Prints the canvas size after each (the part of the screen left to the image).
Run: ``xvfb-run -a -s "-screen 0 1366x768x24" python docs/layout_screenshots.py``
"""

from __future__ import annotations

import time
from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

OUT = Path(__file__).parent / "img"
PLUGIN = "napari-medseg"


def pump(seconds: float = 0.5, until=None, timeout: float = 600) -> None:
    """Run the event loop for ``seconds``, or until ``until()`` is true."""
    end = time.time() + (timeout if until else seconds)
    while time.time() < end and not (until and until()):
        QApplication.processEvents()
        time.sleep(0.03)
    pump_once = 20
    for _ in range(pump_once):
        QApplication.processEvents()


def open_from_plugins_menu(viewer, title: str):
    """Trigger *Plugins > MedSeg > title* and return the docked widget."""

    def leaves(menu):
        menu.aboutToShow.emit()
        out = {}
        for action in menu.actions():
            out.update(leaves(action.menu()) if action.menu() is not None else {action.text(): action})
        return out

    next(a for text, a in leaves(viewer.window.plugins_menu).items() if text.startswith(title)).trigger()
    pump()
    return docked(viewer, title)


def docked(viewer, title: str):
    return next(w for name, w in viewer.window.dock_widgets.items() if name.startswith(title))


def front(widget) -> None:
    """Bring ``widget``'s tab to the front (its Qt parent is its dock, as napari documents)."""
    dock = getattr(widget, "native", widget).parent()
    dock.show()
    dock.raise_()
    pump()


def shoot(viewer, name: str) -> None:
    canvas = viewer.screenshot(canvas_only=True, flash=False)
    viewer.screenshot(str(OUT / name), canvas_only=False, flash=False)
    print(f"wrote {OUT / name}: canvas {canvas.shape[1]} x {canvas.shape[0]} px")


def session(title: str):
    """A 1366 x 768 napari window with Segment, Interactive SAM and Evaluate opened from the Plugins menu."""
    viewer = napari.Viewer(title=f"napari-medseg: {title}")
    viewer.window.resize(1366, 740)
    widgets = [open_from_plugins_menu(viewer, name) for name in ("Segment (U-Net)", "Interactive SAM", "Evaluate")]
    return viewer, *widgets


def sam_flow() -> None:
    from napari_medseg.io import read_volume
    from napari_medseg.samples import ct_phantom_paths

    viewer, _, sam, _ = session("first SAM box")
    (ct,) = viewer.open_sample(PLUGIN, "ct_series")
    front(sam)
    sam.reset_choices()
    sam.image_combo.value = ct
    organ = read_volume(ct_phantom_paths()[1]).array > 0
    k = int(np.flatnonzero(organ.any(axis=(1, 2))).mean())
    viewer.dims.set_current_step(0, k)
    rows, cols = np.nonzero(organ[k])
    r0, r1, c0, c1 = rows.min() - 4, rows.max() + 4, cols.min() - 4, cols.max() + 4
    sam.box_mode()
    sam.layers.boxes.add_rectangles(np.array([[k, r0, c0], [k, r0, c1], [k, r1, c1], [k, r1, c0]], float))
    pump(until=lambda: not sam.busy and sam.layers.preview is not None and sam.layers.preview.data.any())
    shoot(viewer, "layout_1366_sam.png")
    sam.shutdown()
    viewer.close()


def unet_flow() -> None:
    viewer, segment, _, evaluate = session("first U-Net result")
    _, reference = viewer.open_sample(PLUGIN, "brain_mri")
    reference.visible = False
    front(segment)
    segment.reset_choices()
    segment.run()
    pump(until=lambda: segment.worker is None)
    result = next(layer for layer in viewer.layers if layer.name.endswith("[brain-tissue]"))
    result.opacity = 0.5
    shoot(viewer, "layout_1366_segment.png")
    front(evaluate)
    evaluate.reset_choices()
    evaluate.pred.value, evaluate.ref.value = result, reference
    evaluate.run()
    pump(until=lambda: evaluate.run_button.enabled)
    shoot(viewer, "layout_1366_evaluate.png")
    viewer.close()


def chooser_flow() -> None:
    import pydicom

    viewer, *_ = session("series chooser")
    viewer.open(str(Path(pydicom.__file__).parent / "data" / "test_files" / "dicomdirtests"), plugin=PLUGIN)
    pump()
    shoot(viewer, "series_chooser.png")
    viewer.close()


if __name__ == "__main__":
    import sys

    for flow in sys.argv[1:] or ["sam", "unet", "chooser"]:
        globals()[f"{flow}_flow"]()
