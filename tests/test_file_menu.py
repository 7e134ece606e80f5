"""napari's File menu: File > IO Utilities holds the series chooser and Save labels (our writer, any extension)."""

from __future__ import annotations

import numpy as np

PLUGIN = "napari-medseg"


def _io_utilities(viewer) -> dict:
    """Text -> QAction of napari's File > IO Utilities submenu (built when the menu shows)."""
    menu = viewer.window.file_menu
    menu.aboutToShow.emit()
    (sub,) = [a.menu() for a in menu.actions() if a.menu() is not None and "IO Utilities" in a.text()]
    sub.aboutToShow.emit()
    return {a.text(): a for a in sub.actions()}


def test_file_io_utilities_opens_the_series_chooser_and_save_labels_that_saves_a_nii_gz(make_napari_viewer, tmp_path):
    from napari_medseg.io import read_volume
    from napari_medseg.samples import brain_mri_paths

    viewer = make_napari_viewer()
    (image,) = viewer.open(str(brain_mri_paths()[0]), plugin=PLUGIN)
    labels = viewer.add_labels(np.zeros(image.data.shape, np.uint8), affine=image.affine, name="organ")
    labels.data_setitem((np.array([40]), np.array([50]), np.array([45])), 1)
    actions = _io_utilities(viewer)
    chooser_text = next(t for t in actions if "Open DICOM series" in t)
    save_text = next(t for t in actions if "Save labels" in t)

    assert not any("Save labels" in name or "Open DICOM series" in name for name in viewer.window.dock_widgets)
    actions[chooser_text].trigger()
    actions[save_text].trigger()
    docked = dict(viewer.window.dock_widgets)
    save = next(w for name, w in docked.items() if "Save labels" in name)
    chooser = next(w for name, w in docked.items() if "Open DICOM series" in name)
    assert chooser.boxes == [] and "choose a DICOM folder" in chooser.status.value

    save.layer.value = labels
    save.path.value = tmp_path / "organ.nii.gz"  # the name a user types; no file type to pick
    save.save()
    saved = read_volume(tmp_path / "organ.nii.gz")
    assert saved.meta["labels"] and int(saved.array.max()) == 1 and saved.shape == image.data.shape
