"""Regenerate docs/img/structures.png: a DICOM folder with an RT structure set opened in napari.

Copies the sample CT phantom into a temporary folder, writes an RT structure set beside it
whose ROIs ("organ", "vertebra") are the outlines of the phantom's organ truth and of its
bone, traced slice by slice with OpenCV, opens the folder through the plugin's reader and
saves the window.

Run under a display or Xvfb:
``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/structures_screenshot.py``
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main(out: Path = ROOT / "docs" / "img" / "structures.png") -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from dicom_factory import mask_outlines, write_rtstruct
    from napari_medseg.io import dicom, read_volume
    from napari_medseg.samples import ct_phantom_paths

    folder, organ_path = ct_phantom_paths()
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "study"
        shutil.copytree(folder, study)
        (series,) = dicom.scan(study)
        ct = series.load()
        organ = read_volume(organ_path).array > 0
        bone = ct.array > 400
        write_rtstruct(
            study / "rtstruct.dcm",
            series.series_uid,
            [
                ("organ", (230, 160, 40), mask_outlines(organ, ct.affine)),
                ("vertebra", (80, 160, 255), mask_outlines(bone, ct.affine)),
            ],
        )
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1300, 850)
        image, structures = viewer.open(str(study), plugin="napari-medseg")
        structures.opacity = 0.55
        viewer.dims.set_point(0, float(image.data_to_world((20, 0, 0))[0]))
        viewer.layers.selection.active = structures
        for _ in range(20):
            QApplication.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(out), canvas_only=False)
        drawn = structures.data == 1
        dice = 2 * (drawn & organ).sum() / (drawn.sum() + organ.sum())
        print(f"wrote {out}; organ drawn from its outlines vs the organ truth: Dice {dice:.3f}")
        viewer.close()


if __name__ == "__main__":
    main()
