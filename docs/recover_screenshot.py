"""Regenerate docs/img/recover_labels.png: a painted layer autosaved, removed, and restored.

Opens the sample MRI through the plugin's reader (which starts autosave), paints a blob on a
new Labels layer, waits for its snapshot, removes the layer (as a crash would lose it) and
restores it with the Recover labels widget. Snapshots go to a temporary folder.

Run under a display or Xvfb: ``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/recover_screenshot.py``
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def main(out: Path = Path(__file__).parent / "img" / "recover_labels.png") -> None:
    os.environ["NAPARI_MEDSEG_AUTOSAVE"] = tempfile.mkdtemp()
    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication

    import napari_medseg._napari.autosave as autosave
    from napari_medseg.samples import brain_mri_paths

    autosave.DELAY_S = 0.3
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1300, 800)
    (image,) = viewer.open(str(brain_mri_paths()[0]), plugin="napari-medseg")
    lesion = viewer.add_labels(
        np.zeros(image.data.shape, np.uint8), name="lesion", affine=image.affine, units=image.units
    )
    lesion.brush_size = 12
    for point in [(47, 60, 40), (47, 62, 44), (47, 58, 47)]:
        lesion.paint(point, 1)
    watcher = autosave.ensure_autosave(viewer)
    deadline = time.time() + 30
    while not watcher.saved and time.time() < deadline:
        QApplication.processEvents()
        time.sleep(0.05)
    viewer.layers.remove(lesion)
    _, recover = viewer.window.add_plugin_dock_widget("napari-medseg", "Recover labels")
    recover.restore()
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}: {recover.status}")
    viewer.close()


if __name__ == "__main__":
    main()
