"""Labels are written only on a grid we can prove: the image they were drawn on, never a guess."""

from __future__ import annotations

import numpy as np
import pytest

from dicom_factory import write_marked_series
from napari_medseg.io import read_volume, write_volume

PLUGIN = "napari-medseg"
WRITERS = {
    "labels.nii.gz": PLUGIN,
    "labels.nrrd": PLUGIN,
    "rs.dcm": "napari-medseg.write_rtstruct",
    "seg.dcm": "napari-medseg.write_seg",
}


@pytest.fixture
def ct_folder(tmp_path):
    """A small DICOM CT series stored right to left (its file order differs from ours)."""
    write_marked_series(tmp_path / "ct", [(1000, slice(2, 6), slice(10, 30), slice(5, 40))], iop=(-1.0, 0, 0, 0, 1, 0))
    return tmp_path / "ct"


def _paint(labels) -> None:
    labels.data_setitem((np.array([2, 3, 5]), np.array([12, 13, 20]), np.array([7, 8, 30])), 1)
    labels.data_setitem((np.array([4]), np.array([20]), np.array([30])), 2)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_labels_layer_from_another_reader_is_refused_with_how_to_fix_it(make_napari_viewer, ct_folder, name):
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(ct_folder), plugin=PLUGIN)
    # what napari-nifti or a hand-made layer gives: the same voxels, a geometry of its own and no provenance
    foreign = viewer.add_labels(np.zeros(image.data.shape, np.uint8), scale=(2.0, 0.7, 0.8), translate=(30, -80, 100))
    _paint(foreign)
    out = ct_folder.parent / "out" / name
    with pytest.raises(Exception, match="lies on no image opened with napari-medseg") as refused:
        foreign.save(str(out), plugin=WRITERS[name])
    assert "Layers > New Labels" in str(refused.value) and "plugin='napari-medseg'" in str(refused.value)
    assert not out.exists()


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_labels_moved_off_the_image_they_were_drawn_on_are_refused(make_napari_viewer, ct_folder, name):
    from napari_medseg._napari.layers import labels_layer_kwargs, volume_from_layer

    viewer = make_napari_viewer()
    (image,) = viewer.open(str(ct_folder), plugin=PLUGIN)
    kwargs = labels_layer_kwargs(volume_from_layer(image), "x")
    labels = viewer.add_labels(np.zeros(image.data.shape, np.uint8), **kwargs)
    _paint(labels)
    labels.translate = (0.0, 0.0, 5.0)  # dragged 5 mm to the patient's left
    out = ct_folder.parent / "out" / name
    with pytest.raises(Exception, match="no longer lies on the grid of the image it was drawn on"):
        labels.save(str(out), plugin=WRITERS[name])
    assert not out.exists()


def test_labels_on_our_image_save_voxel_for_voxel_on_its_file_grid(make_napari_viewer, ct_folder):
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(ct_folder), plugin=PLUGIN)
    # napari's Layers > New Labels copies the image's transform, not its metadata
    labels = viewer.add_labels(np.zeros(image.data.shape, np.uint8), affine=image.affine, units=image.units)
    _paint(labels)
    out = ct_folder.parent / "labels.nii.gz"
    labels.save(str(out), plugin=PLUGIN)
    saved, source = read_volume(out), read_volume(ct_folder)
    assert saved.same_grid(source, atol=1e-4)
    np.testing.assert_array_equal(saved.array, np.asarray(labels.data))


@pytest.mark.parametrize("with_provenance", [True, False])
def test_a_same_grid_nifti_opened_after_the_dicom_does_not_change_the_rt_source(
    make_napari_viewer, ct_folder, with_provenance
):
    from napari_medseg._napari.layers import labels_layer_kwargs, volume_from_layer
    from napari_medseg.io.rtstruct import read_structure_set, structures_to_labels

    nifti = ct_folder.parent / "ct.nii.gz"
    dicom = read_volume(ct_folder)
    write_volume(nifti, dicom.array, dicom)  # the same grid, as `medseg convert` writes it
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(ct_folder), plugin=PLUGIN)
    if with_provenance:  # made by one of our widgets on the DICOM image
        kwargs = labels_layer_kwargs(volume_from_layer(image), "organ")
    else:  # added by hand with the DICOM image's transform, nothing selected: no provenance, only the grid
        viewer.layers.selection.clear()
        kwargs = {"affine": image.affine, "name": "organ"}
    labels = viewer.add_labels(np.zeros(image.data.shape, np.uint8), **kwargs)
    assert bool((labels.metadata.get("medseg") or {}).get("source_id")) == with_provenance
    _paint(labels)
    (copy,) = viewer.open(str(nifti), plugin=PLUGIN)
    np.testing.assert_allclose(copy.affine.affine_matrix, image.affine.affine_matrix, atol=1e-5)

    out = ct_folder.parent / "rs.dcm"
    labels.save(str(out), plugin="napari-medseg.write_rtstruct")
    structures = read_structure_set(out)
    assert structures.series_uids == (dicom.meta["series_uid"],)
    np.testing.assert_array_equal(structures_to_labels(structures, dicom).labels, np.asarray(labels.data))


def test_the_save_labels_button_tells_why_a_foreign_layer_is_not_saved(make_napari_viewer, ct_folder):
    from napari.utils.notifications import notification_manager

    from napari_medseg._napari.save_labels import SaveLabels

    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(n.message))
    viewer = make_napari_viewer()
    viewer.open(str(ct_folder), plugin=PLUGIN)
    foreign = viewer.add_labels(np.zeros((8, 40, 48), np.uint8), scale=(2.0, 0.7, 0.8), name="from elsewhere")
    _paint(foreign)
    widget = SaveLabels(viewer)
    widget.select(foreign)
    widget.path.value = ct_folder.parent / "elsewhere.nii.gz"
    assert widget.save() == []
    (message,) = [m for m in seen if m.startswith("Labels not saved:")]
    assert "'from elsewhere' lies on no image opened with napari-medseg" in message and "New Labels" in message
    assert not (ct_folder.parent / "elsewhere.nii.gz").exists()


def test_new_labels_on_one_of_two_same_grid_images_keep_the_link_to_that_image(make_napari_viewer, ct_folder):
    nifti = ct_folder.parent / "ct.nii.gz"
    dicom = read_volume(ct_folder)
    write_volume(nifti, dicom.array, dicom)
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(ct_folder), plugin=PLUGIN)
    (copy,) = viewer.open(str(nifti), plugin=PLUGIN)
    for base in (image, copy):
        viewer.layers.selection.active = base  # Layers > New Labels copies the selected image's transform
        labels = viewer.add_labels(np.zeros(base.data.shape, np.uint8), affine=base.affine, name=f"on {base.name}")
        assert labels.metadata["medseg"]["source_id"] == base.metadata["medseg"]["source_id"]
        _paint(labels)
        out = ct_folder.parent / f"{base.name}_labels.nii.gz"
        labels.save(str(out), plugin=PLUGIN)  # without the link: refused, two images would write it differently
        saved = read_volume(out)
        assert saved.same_grid(dicom, atol=1e-4)
        np.testing.assert_array_equal(saved.array, np.asarray(labels.data))
    assert image.metadata["medseg"]["source_id"] != copy.metadata["medseg"]["source_id"]
