"""In napari: a DICOMDIR opens its series, and each phase of a two-phase series is its own layer."""

import numpy as np

from test_dicom_media import DICOMDIR_TESTS, _two_phases
from test_series_chooser import open_every_series

PLUGIN = "napari-medseg"


def test_each_phase_of_a_two_phase_series_opens_as_its_own_layer(make_napari_viewer, tmp_path):
    _, phases = _two_phases(tmp_path, "TemporalPositionIdentifier")
    viewer = make_napari_viewer()
    layers = open_every_series(viewer, tmp_path)
    assert len(layers) == 2
    for layer, stored in zip(layers, phases):
        np.testing.assert_array_equal(np.asarray(layer.data), stored)  # axial, ascending: (slice, row, column)


def test_a_dicomdir_opens_in_napari(make_napari_viewer):
    """npe2 matches reader patterns against the lower-cased pattern but the file name as it is, so
    no pattern can claim an upper-case ``DICOMDIR`` without claiming every file (``*``): napari
    opens it through its folder, and our reader hook reads the DICOMDIR file itself."""
    from napari_medseg._napari.reader import get_reader

    viewer = make_napari_viewer()
    by_dir = open_every_series(viewer, DICOMDIR_TESTS)
    assert len(by_dir) >= 3 and all(type(layer).__name__ == "Image" for layer in by_dir)
    assert get_reader(str(DICOMDIR_TESTS / "DICOMDIR"))(str(DICOMDIR_TESTS / "DICOMDIR")) == [(None,)]  # the chooser
    _, chooser = viewer.window.add_plugin_dock_widget(PLUGIN, "Open DICOM series")
    assert [box.text for box in chooser.boxes] == [layer.name for layer in by_dir]  # the DICOMDIR lists the same
