"""Regenerate docs/img/finetune_widget.png: the Fine-tune (U-Net) widget after a short run on the sample MRI.

Opens the sample brain MRI with its reference tissue labels (standing in for corrected labels),
fine-tunes ``brain-tissue`` on them for one short epoch into a temporary folder (the trust
record goes to a temporary config folder too) and takes the screenshot when it is done.

Run under a display or Xvfb: ``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/finetune_screenshot.py``
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def main(out: Path = Path(__file__).parent / "img" / "finetune_widget.png") -> None:
    tmp = Path(tempfile.mkdtemp())
    os.environ["NAPARI_MEDSEG_AUTOSAVE"] = str(tmp / "autosave")
    os.environ["MEDSEG_CONFIG_DIR"] = str(tmp / "config")
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 850)
    viewer.open_sample("napari-medseg", "brain_mri")
    _, widget = viewer.window.add_plugin_dock_widget("napari-medseg", "Fine-tune (U-Net)")
    widget.image_combo.value = viewer.layers["MNI152 T1 (2 mm)"]
    widget.labels_combo.value = viewer.layers["tissue (reference)"]
    widget.epochs.value, widget.patches.value = 1, 4
    widget.out_dir.value = tmp / "brain-tissue-tuned"
    widget.run()
    deadline = time.time() + 600
    while widget.worker is not None and time.time() < deadline:
        QApplication.processEvents()
        time.sleep(0.05)
    viewer.dims.set_current_step(0, 50)
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}: {widget.status.value}")
    viewer.close()


if __name__ == "__main__":
    main()
