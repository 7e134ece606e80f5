"""In napari: a folder of several DICOM series opens the series chooser; only the ticked series become layers."""

from __future__ import annotations

import numpy as np

from dicom_factory import write_series
from test_series_choice import STUDY_98892003

PLUGIN = "napari-medseg"


def open_with_chooser(viewer, folder):
    """Open ``folder`` as a user would; the chooser the reader docked (no layer is added yet)."""
    from napari_medseg._napari.series_chooser import WIDGET

    assert viewer.open(str(folder), plugin=PLUGIN) == []
    dock, chooser = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)  # the docked one, not a new one
    assert not dock.isHidden()  # shown (the test viewer window itself is never shown)
    return chooser


def open_every_series(viewer, folder):
    """Open ``folder``, tick every series in the chooser and open them; the layers added."""
    chooser = open_with_chooser(viewer, folder)
    for box in chooser.boxes:
        box.value = True
    return chooser.open_ticked()


def test_the_98892003_study_lists_every_series_unticked_and_opens_exactly_the_ticked_ones(make_napari_viewer):
    viewer = make_napari_viewer()
    chooser = open_with_chooser(viewer, STUDY_98892003)
    assert len(viewer.layers) == 0
    names = [box.text for box in chooser.boxes]
    assert len(names) == 17 and len(set(names)) == 17
    assert not any(box.value for box in chooser.boxes)  # all localizers: nothing ticked by default
    assert all("localizer" in box.tooltip for box in chooser.boxes)
    assert chooser.open_ticked() == [] and len(viewer.layers) == 0

    picked = [chooser.boxes[0], chooser.boxes[7], chooser.boxes[-1]]
    for box in picked:
        box.value = True
    added = chooser.open_ticked()
    assert [layer.name for layer in viewer.layers] == [box.text for box in picked]
    assert added == list(viewer.layers)
    assert all(1 in layer.data.shape for layer in added)  # each a single 2D image, never stacked


def test_a_study_opens_the_scan_ticked_and_the_topogram_unticked(make_napari_viewer, tmp_path):
    rng = np.random.default_rng(8)
    scan = rng.integers(0, 900, (6, 10, 12)).astype(np.int16)
    write_series(tmp_path / "study", scan, description="Abdomen 2.5mm", series_number=3, slice_spacing=2.5)
    write_series(
        tmp_path / "study",
        rng.integers(0, 900, (1, 20, 20)).astype(np.int16),
        description="Topogram",
        series_number=1,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        names="random",
        rng=rng,
    )
    viewer = make_napari_viewer()
    chooser = open_with_chooser(viewer, tmp_path / "study")
    ticks = {box.text: box.value for box in chooser.boxes}
    assert ticks == {"3: Abdomen 2.5mm": True, "1: Topogram": False}
    (layer,) = chooser.open_ticked()
    assert layer.name == "3: Abdomen 2.5mm" and [lay.name for lay in viewer.layers] == ["3: Abdomen 2.5mm"]
    np.testing.assert_array_equal(layer.data, scan)
    assert all(str(u) == "millimeter" for u in layer.units)


def test_the_chooser_from_the_menu_lists_a_folder_and_says_when_it_holds_no_dicom(make_napari_viewer, tmp_path):
    from napari_medseg._napari.series_chooser import WIDGET

    write_series(tmp_path / "study", np.zeros((3, 8, 8), np.int16), description="T1", series_number=2)
    (tmp_path / "empty").mkdir()
    viewer = make_napari_viewer()
    _, chooser = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    chooser.folder.value = tmp_path / "study"  # as picking the folder in the widget does
    assert [box.text for box in chooser.boxes] == ["2: T1"] and chooser.boxes[0].value
    chooser.folder.value = tmp_path / "empty"
    assert chooser.boxes == [] and "no DICOM image series" in chooser.status.value


def test_opening_a_study_reuses_the_chooser_opened_from_the_menu(make_napari_viewer, tmp_path):
    from napari_medseg._napari.series_chooser import SeriesChooser

    write_series(tmp_path / "study" / "a", np.zeros((3, 8, 8), np.int16), description="T1", series_number=2)
    write_series(tmp_path / "study" / "b", np.zeros((2, 8, 8), np.int16), description="T2", series_number=3)
    viewer = make_napari_viewer()
    menu = viewer.window.file_menu
    menu.aboutToShow.emit()
    (io_menu,) = [a.menu() for a in menu.actions() if a.menu() is not None and "IO Utilities" in a.text()]
    io_menu.aboutToShow.emit()
    next(a for a in io_menu.actions() if "Open DICOM series" in a.text()).trigger()
    assert viewer.open(str(tmp_path / "study"), plugin=PLUGIN) == []
    (chooser,) = [w for w in viewer.window.dock_widgets.values() if isinstance(w, SeriesChooser)]
    assert [box.text for box in chooser.boxes] == ["2: T1", "3: T2"]


def test_a_row_names_its_structure_set_and_opening_it_adds_the_structures(make_napari_viewer, tmp_path):
    from dicom_factory import write_marked_series, write_rtstruct

    written, (box,) = write_marked_series(tmp_path / "study" / "ct", [(1000, slice(2, 6), slice(10, 30), slice(5, 40))])
    write_rtstruct(tmp_path / "study" / "ct" / "rs.dcm", written.series_uid, [("PTV", (255, 0, 0), box)])
    write_series(
        tmp_path / "study" / "scout",
        np.zeros((1, 20, 20), np.int16),
        description="Topogram",
        series_number=9,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    viewer = make_napari_viewer()
    chooser = open_with_chooser(viewer, tmp_path / "study")
    rows = {box.text: (box.value, choice.detail_lines()) for box, choice in zip(chooser.boxes, chooser.choices)}
    assert rows["1: synthetic"][0] and rows["1: synthetic"][1][-1] == "+ rs.dcm"
    assert not rows["9: Topogram"][0]
    image, structures = chooser.open_ticked()
    assert image.name == "1: synthetic" and structures.name == "synthetic (structures)"
    assert list(structures.features["name"]) == ["background", "PTV"]
    np.testing.assert_array_equal(structures.data == 1, image.data == 1000)
