"""Regenerate docs/img/orientation_coronal.png and orientation_sagittal.png: the orientation guide.

Opens the sample CT (coronal view) and the sample brain MRI (sagittal view) at 1366x768, puts the
cursor readout on a voxel and saves the window: superior up, the plane's edge letters and the
cursor in RAS/LPS mm with the value (HU for the CT) in the top-left overlay.

Run under a display or Xvfb: ``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/orientation_screenshot.py``
"""

from __future__ import annotations

import time
from pathlib import Path

IMG = Path(__file__).parent / "img"


def _settle(app, seconds: float = 1.0) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.05)


def shoot(sample: str, order: tuple[int, int, int], out: Path) -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_medseg._napari.orientation import ensure_orientation

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1366, 768)
    layers = viewer.open_sample("napari-medseg", sample)
    guide = ensure_orientation(viewer)
    viewer.dims.order = order
    viewer.reset_view()
    image = layers[0]
    centre = [(lo + hi) / 2 for lo, hi in zip(*image.extent.world)]
    viewer.dims.set_point(order[0], centre[order[0]])
    guide.move(tuple(centre))  # as if the mouse rested at the volume's centre
    _settle(QApplication.instance())
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}: {viewer.canvas.overlays['text'].text!r}")
    viewer.close()


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    shoot("ct_series", (1, 0, 2), IMG / "orientation_coronal.png")
    shoot("brain_mri", (2, 0, 1), IMG / "orientation_sagittal.png")


if __name__ == "__main__":
    main()
