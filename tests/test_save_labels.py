"""Saving labels from napari: by extension with the plugin's writer, as labels, with names and colours."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from napari_medseg.io.label_table import read_label_table
from napari_medseg.samples import brain_mri_paths

PLUGIN = "napari-medseg"


def _painted(viewer, image):
    """A labels layer drawn on ``image``'s grid, the way napari's New Labels button makes it."""
    from napari.utils.colormaps import DirectLabelColormap

    labels = viewer.add_labels(
        np.zeros(image.data.shape, np.uint8),
        name="organ",
        affine=image.affine,
        units=image.units,
        features={"index": [0, 1, 2], "name": ["background", "liver", "spleen"]},
        colormap=DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), 1: "#ff0000", 2: "#00ff80"}),
    )
    labels.data_setitem((np.array([40, 40, 41]), np.array([50, 51, 50]), np.array([30, 30, 31])), 1)
    labels.data_setitem((np.array([20]), np.array([60]), np.array([45])), 2)
    return labels


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_napari_save_by_extension_uses_our_writer_and_reopens_as_named_labels(make_napari_viewer, tmp_path, suffix):
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(brain_mri_paths()[0]), plugin=PLUGIN)
    labels = _painted(viewer, image)
    viewer.layers.selection.active = labels
    out = tmp_path / f"organ{suffix}"
    written = viewer.layers.save(str(out), selected=True)  # napari's own save path, no plugin named
    assert written[0] == str(out) and written[1] == str(tmp_path / "organ.labels.txt")
    names, colours = read_label_table(tmp_path / "organ.labels.txt")
    assert names == {1: "liver", 2: "spleen"} and colours == {1: "#ff0000", 2: "#00ff80"}
    if suffix.startswith(".nii"):
        assert nib.load(str(out)).header.get_intent()[0] == "label"
        assert nib.load(str(out)).shape == nib.load(str(brain_mri_paths()[0])).shape  # the source's grid

    (reopened,) = viewer.open(str(out), plugin=PLUGIN)
    assert reopened._type_string == "labels"
    np.testing.assert_array_equal(reopened.data, labels.data)
    np.testing.assert_allclose(reopened.affine.affine_matrix, image.affine.affine_matrix, atol=1e-5)
    assert dict(zip(reopened.features["index"], reopened.features["name"])) == {
        0: "background",
        1: "liver",
        2: "spleen",
    }
    np.testing.assert_allclose(
        reopened.colormap.map(np.array([1, 2]))[:, :3], [[1, 0, 0], [0, 1, 128 / 255]], atol=1e-3
    )
    # edit the reopened label map and save it back over itself (not refused like an image would be)
    reopened.data_setitem((np.array([10]), np.array([10]), np.array([10])), 2)
    assert reopened.save(str(out))[0] == str(out)


def test_a_nifti_with_label_intent_opens_as_labels_without_a_sidecar(make_napari_viewer, tmp_path):
    from napari_medseg.io import read_volume, write_labels

    image = read_volume(brain_mri_paths()[0])
    labels = np.zeros(image.shape, np.uint16)
    labels[5:9, 5:9, 5:9] = 300
    write_labels(tmp_path / "mask.nii.gz", labels, image)
    assert not (tmp_path / "mask.labels.txt").exists()
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path / "mask.nii.gz"), plugin=PLUGIN)
    assert layer._type_string == "labels" and int(layer.data.max()) == 300


def test_saving_over_the_opened_image_is_refused(make_napari_viewer, tmp_path):
    import shutil

    source = tmp_path / "t1.nii.gz"
    shutil.copy(brain_mri_paths()[0], source)
    before = source.read_bytes()
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(source), plugin=PLUGIN)
    labels = _painted(viewer, image)
    with pytest.raises(Exception, match="refusing to overwrite"):
        labels.save(str(source), plugin=PLUGIN)
    assert source.read_bytes() == before


def test_save_labels_button_proposes_a_file_beside_the_image(make_napari_viewer, tmp_path):
    import shutil

    from napari_medseg._napari.save_labels import SaveLabels

    source = tmp_path / "t1.nii.gz"
    shutil.copy(brain_mri_paths()[0], source)
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(source), plugin=PLUGIN)
    widget = SaveLabels(viewer)
    labels = _painted(viewer, image)
    widget.select(labels)
    assert widget.path.value == tmp_path / "t1_organ.nii.gz"
    widget.button.clicked.emit()
    assert (tmp_path / "t1_organ.nii.gz").is_file() and (tmp_path / "t1_organ.labels.txt").is_file()
    (reopened,) = viewer.open(str(tmp_path / "t1_organ.nii.gz"), plugin=PLUGIN)
    np.testing.assert_array_equal(reopened.data, labels.data)


def test_the_labels_layer_selected_in_the_layer_list_is_the_one_to_save(make_napari_viewer, tmp_path):
    from napari_medseg._napari.save_labels import SaveLabels

    viewer = make_napari_viewer()
    (image,) = viewer.open(str(brain_mri_paths()[0]), plugin=PLUGIN)
    first = viewer.add_labels(np.zeros(image.data.shape, np.uint8), name="first")
    widget = SaveLabels(viewer)
    second = viewer.add_labels(np.zeros(image.data.shape, np.uint8), name="second")
    viewer.layers.selection.active = first
    assert widget.layer.value is first and widget.names.layer is first
    viewer.layers.selection.active = second
    assert widget.layer.value is second and widget.names.layer is second
    assert "second" in widget.path.value.name  # the file name proposed follows too
    viewer.layers.selection.active = image  # an image: the choice stays
    assert widget.layer.value is second


def test_ordinary_images_are_not_claimed_by_our_reader(make_napari_viewer, tmp_path):
    import npe2
    import tifffile

    pm = npe2.PluginManager.instance()
    claimed = {
        name: PLUGIN in {r.plugin_name for r in pm.iter_compatible_readers([str(tmp_path / name)])}
        for name in ("a.tif", "a.png", "a.csv", "a.zarr", "a.nii.gz", "a.nrrd", "a.mha", "a.dcm")
    }
    assert claimed == {
        "a.tif": False,
        "a.png": False,
        "a.csv": False,
        "a.zarr": False,
        "a.nii.gz": True,
        "a.nrrd": True,
        "a.mha": True,
        "a.dcm": True,
    }
    assert PLUGIN in {r.plugin_name for r in pm.iter_compatible_readers([str(tmp_path)])}  # DICOM folders
    tif = tmp_path / "cells.tif"
    tifffile.imwrite(tif, np.arange(64, dtype=np.uint8).reshape(8, 8))
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tif))  # no "which reader?" question: napari's reader alone
    assert layer.data.shape == (8, 8)


def test_save_labels_docks_from_the_plugins_menu(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Save labels")
    assert widget.button.text == "Save labels"
    viewer.add_labels(np.zeros((4, 5, 6), np.uint8), name="drawn")
    assert widget.layer.value.name == "drawn"  # follows the viewer's labels layers


def test_file_save_selected_layers_with_the_medseg_file_type(make_napari_viewer, tmp_path, monkeypatch):
    """napari's own menu and dialog; the user types organ.nii.gz and picks our entry in 'Files of type'."""
    from qtpy.QtWidgets import QFileDialog

    out = tmp_path / "organ.nii.gz"
    offered = []

    def answer(*args, filter="", **kwargs):  # what the user does in the dialog
        offered.extend(filter.split(";;"))
        return str(out), next(f for f in offered if f.startswith("MedSeg labels on source grid"))

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answer))
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(brain_mri_paths()[0]), plugin=PLUGIN)
    labels = _painted(viewer, image)
    viewer.layers.selection.active = labels
    (save,) = [a for a in viewer.window.file_menu.actions() if a.text().startswith("Save Selected Layer")]
    save.trigger()
    assert "MedSeg labels on source grid (*.nii.gz *.nii *.nrrd *.mha)" in offered
    assert nib.load(str(out)).header.get_intent()[0] == "label"
    assert read_label_table(tmp_path / "organ.labels.txt")[0] == {1: "liver", 2: "spleen"}
    (reopened,) = viewer.open(str(out), plugin=PLUGIN)
    assert reopened._type_string == "labels"


def test_convert_keeps_a_label_map_a_label_map_with_its_names(tmp_path):
    from napari_medseg.cli import main
    from napari_medseg.io import read_volume, write_labels

    image = read_volume(brain_mri_paths()[0])
    labels = np.zeros(image.shape, np.uint8)
    labels[10:20, 10:20, 10:20] = 3
    write_labels(tmp_path / "organ.nii.gz", labels, image, {3: "kidney"}, {3: "#123456"})
    assert main(["convert", str(tmp_path / "organ.nii.gz"), str(tmp_path / "organ.nrrd")]) == 0
    converted = read_volume(tmp_path / "organ.nrrd")
    assert converted.meta["labels"] and converted.meta["label_names"] == {3: "kidney"}
    assert converted.meta["label_colours"] == {3: "#123456"}
    np.testing.assert_array_equal(converted.array, labels)


def test_a_name_and_colour_typed_in_the_label_table_reach_the_saved_file(make_napari_viewer, tmp_path):
    from napari_medseg._napari.save_labels import SaveLabels

    viewer = make_napari_viewer()
    (image,) = viewer.open(str(brain_mri_paths()[0]), plugin=PLUGIN)
    labels = viewer.add_labels(
        np.zeros(image.data.shape, np.uint8), name="drawn", affine=image.affine, units=image.units
    )
    labels.data_setitem((np.array([40]), np.array([50]), np.array([30])), 1)
    widget = SaveLabels(viewer)
    widget.select(labels)
    table = widget.names
    assert list(table.rows()) == [1]  # the painted label
    table.table.data[0] = ["liver", "#00ff00"]  # what typing in the two cells does
    assert labels.features["name"].tolist() == ["background", "liver"]
    np.testing.assert_allclose(labels.colormap.map(np.array([1]))[0], [0, 1, 0, 1])
    added = table.add_label()
    assert added == 2 and labels.selected_label == 2 and table.rows()[2][0] == "label 2"
    labels.paint((30, 30, 30), 2)
    assert labels.colormap.map(np.array([2]))[0][3] == 1  # the new label paints visibly
    table.table.data[1] = ["spleen", "not a colour"]  # a bad colour keeps the old one
    widget.path.value = tmp_path / "organs.nii.gz"
    widget.button.clicked.emit()
    names, colours = read_label_table(tmp_path / "organs.labels.txt")
    assert names == {1: "liver", 2: "spleen"} and colours[1] == "#00ff00"
    (reopened,) = viewer.open(str(tmp_path / "organs.nii.gz"), plugin=PLUGIN)
    assert reopened.features["name"].tolist() == ["background", "liver", "spleen"]


def test_a_name_typed_in_the_label_table_names_the_rt_structure_set_roi(make_napari_viewer, tmp_path):
    from napari_medseg._napari.sample_data import ct_series
    from napari_medseg._napari.save_labels import SaveLabels
    from napari_medseg.io.rtstruct import read_structure_set

    viewer = make_napari_viewer()
    for data, kwargs, kind in ct_series():  # the sample CT, a DICOM series
        image = getattr(viewer, f"add_{kind}")(data, **kwargs)
    labels = viewer.add_labels(np.zeros(image.data.shape, np.uint8), name="drawn", affine=image.affine)
    labels.data[10:20, 100:140, 100:140] = 1
    widget = SaveLabels(viewer)
    widget.select(labels)
    widget.names.table.data[0] = ["left kidney", "#aa5500"]
    labels.save(str(tmp_path / "rs.dcm"), plugin=PLUGIN)  # File > Save Selected Layers as .dcm
    (roi,) = read_structure_set(tmp_path / "rs.dcm").structures
    assert roi.name == "left kidney" and roi.colour.lower() == "#aa5500"


def test_a_save_that_cannot_be_written_is_one_notification(make_napari_viewer, tmp_path):
    from napari.utils.notifications import notification_manager

    from napari_medseg._napari.save_labels import SaveLabels

    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(n.message))
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(brain_mri_paths()[0]), plugin=PLUGIN)
    widget = SaveLabels(viewer)
    widget.select(_painted(viewer, image))
    (tmp_path / "a file").write_text("not a folder")
    widget.path.value = tmp_path / "a file" / "organ.nii.gz"
    assert widget.save() == []
    assert any(m.startswith("Labels not saved:") for m in seen)


def test_a_label_intent_file_with_fractional_values_opens_as_an_image(make_napari_viewer, tmp_path):
    img = nib.Nifti1Image(np.full((4, 5, 6), 0.5, np.float32), np.eye(4))
    img.header.set_intent("label")
    nib.save(img, str(tmp_path / "odd.nii.gz"))
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path / "odd.nii.gz"), plugin=PLUGIN)
    assert layer._type_string == "image"
