"""napari end to end: open through the plugin's reader, paint labels, save through its writer."""

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from napari_medseg.io import read_volume
from napari_medseg.volume import napari_affine
from test_series_chooser import open_every_series

PLUGIN = "napari-medseg"


@pytest.fixture
def las_nifti(tmp_path):
    """An anisotropic NIfTI stored left-to-right (LAS), not in napari's display order."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 1000, size=(20, 24, 12)).astype(np.int16)
    affine = np.array([[-0.9, 0, 0, 30.0], [0, 1.1, 0, -40.0], [0, 0, 3.0, 5.0], [0, 0, 0, 1]])
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    path = tmp_path / "las.nii.gz"
    nib.save(img, str(path))
    return path


def test_nifti_opens_in_mm_paint_and_save_align_voxel_for_voxel(make_napari_viewer, las_nifti, tmp_path):
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(las_nifti), plugin=PLUGIN)
    vol = read_volume(las_nifti)
    assert np.allclose(image.affine.affine_matrix, napari_affine(vol.affine))
    assert all(str(u) == "millimeter" for u in image.units)
    # the world position napari reports for a voxel is its LPS position, reversed
    for idx in [(0, 0, 0), (5, 7, 3), (11, 23, 19)]:
        lps = vol.affine @ np.r_[idx, 1.0]
        assert np.allclose(image.data_to_world(idx), lps[2::-1], atol=1e-6)
    # radiological display: screen-down is posterior, screen-right is the patient's left
    assert image.affine.affine_matrix[1, 1] > 0 and image.affine.affine_matrix[2, 2] > 0

    labels = viewer.add_labels(np.zeros(image.data.shape, np.uint8), affine=image.affine, units=image.units, name="seg")
    labels.data_setitem((np.array([4, 4, 5]), np.array([10, 11, 10]), np.array([2, 2, 3])), 2)
    assert labels.data.sum() == 6

    out = tmp_path / "seg.nii.gz"
    labels.save(str(out), plugin=PLUGIN)
    saved = nib.load(str(out))
    source = nib.load(str(las_nifti))
    assert saved.shape == source.shape
    assert np.allclose(saved.affine, source.affine)
    painted_file_voxels = {tuple(v) for v in np.argwhere(np.asarray(saved.dataobj) == 2)}
    t = vol.file_order.index_transform(vol.file_shape)
    expected = {tuple((t @ np.r_[c, 1])[:3].astype(int)) for c in [(4, 10, 2), (4, 11, 2), (5, 10, 3)]}
    assert painted_file_voxels == expected
    # SimpleITK sees the label at the same physical points as the image voxels
    s_img, s_lab = sitk.ReadImage(str(las_nifti)), sitk.ReadImage(str(out))
    for f in expected:
        assert np.allclose(
            s_img.TransformIndexToPhysicalPoint(tuple(int(x) for x in f)),
            s_lab.TransformIndexToPhysicalPoint(tuple(int(x) for x in f)),
        )
        assert s_lab[tuple(int(x) for x in f)] == 2


def test_broken_file_gives_a_notification_and_no_layer(make_napari_viewer, tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a nifti")
    viewer = make_napari_viewer()
    from napari.utils.notifications import notification_manager

    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(n.message))
    viewer.open(str(bad), plugin=PLUGIN)
    assert len(viewer.layers) == 0
    assert any("broken.nii.gz" in m for m in seen)


def test_sample_brain_mri_loads_with_aligned_labels(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open_sample(PLUGIN, "brain_mri")
    image, labels = layers
    assert np.allclose(image.affine.affine_matrix, labels.affine.affine_matrix)
    assert image.data.shape == labels.data.shape
    assert set(np.unique(labels.data)) == {0, 1, 2, 3}
    # the MNI template is RAS-stored: shown with superior slices on axis 0
    assert image.data.shape == (95, 117, 99)


def test_oblique_volume_opens_with_one_notice_and_exact_world_positions(
    make_napari_viewer, tmp_path, oblique_ras_affine, random_image
):
    import warnings

    from napari.utils.notifications import notification_manager

    path = tmp_path / "oblique.nii.gz"
    nib.save(nib.Nifti1Image(random_image, oblique_ras_affine), str(path))
    viewer = make_napari_viewer()
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(n.message))
    (image,) = viewer.open(str(path), plugin=PLUGIN)
    assert any("oblique" in m for m in seen)
    vol = read_volume(path)
    idx = (3, 4, 5)
    assert np.allclose(image.data_to_world(idx), (vol.affine @ np.r_[idx, 1.0])[2::-1], atol=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", append=True)  # would surface napari's warning every time
        viewer.dims.set_current_step(0, 2)
    assert not [w for w in caught if "Non-orthogonal" in str(w.message)]


def test_dicom_folder_opens_each_series_paint_save_reload_aligned(make_napari_viewer, tmp_path):
    from dicom_factory import oblique_iop, write_series

    rng = np.random.default_rng(4)
    folder = tmp_path / "study"
    stored = rng.integers(0, 2000, size=(9, 14, 12)).astype(np.int16)
    main = write_series(
        folder,
        stored,
        iop=oblique_iop((8.0, -5.0, 4.0)),
        pixel_spacing=(0.7, 0.9),
        slice_spacing=2.5,
        intercept=-1024,
        instance_order="reversed",
        names="random",
        rng=rng,
    )
    write_series(folder, stored[:3, :8, :8], names="random", rng=rng)  # a second, unrelated series
    viewer = make_napari_viewer()
    layers = open_every_series(viewer, folder)
    assert len(layers) == 2
    image = max(layers, key=lambda layer: layer.data.shape[0])
    assert image.data.shape[0] == 9
    assert all(str(u) == "millimeter" for u in image.units)
    # voxel (k, 0, 0) of the sorted stack sits at the ImagePositionPatient of slice k
    k_of_file = {tuple(np.round(p, 3)) for p in main.positions}
    world_first_voxels = {tuple(np.round(image.data_to_world((k, 0, 0))[::-1], 3)) for k in range(9)}
    assert world_first_voxels == k_of_file

    labels = viewer.add_labels(np.zeros(image.data.shape, np.uint8), affine=image.affine, units=image.units)
    labels.data_setitem((np.array([3]), np.array([5]), np.array([7])), 1)
    out = tmp_path / "mask.nii.gz"
    labels.save(str(out), plugin=PLUGIN)
    # SimpleITK and nibabel put the painted voxel at the image voxel's physical point
    painted_world = image.data_to_world((3, 5, 7))[::-1]  # LPS
    s_lab = sitk.ReadImage(str(out))
    (ijk,) = np.argwhere(sitk.GetArrayFromImage(s_lab).transpose(2, 1, 0) == 1)
    assert np.allclose(s_lab.TransformIndexToPhysicalPoint(tuple(int(v) for v in ijk)), painted_world, atol=1e-3)
    n_lab = nib.load(str(out))
    (ijk_n,) = np.argwhere(np.asarray(n_lab.dataobj) == 1)
    ras = n_lab.affine @ np.r_[ijk_n, 1.0]
    assert np.allclose(ras[:3] * [-1, -1, 1], painted_world, atol=1e-3)


def test_localizer_folder_opens_unstacked_with_capped_notifications(make_napari_viewer):
    from pathlib import Path

    import pydicom
    from napari.utils.notifications import notification_manager

    mr700 = Path(pydicom.__file__).parent / "data" / "test_files" / "dicomdirtests" / "98892003" / "MR700"
    viewer = make_napari_viewer()
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(n.message))
    layers = open_every_series(viewer, mr700)  # a radial localizer: the chooser ticks none by default
    assert len(layers) > 1 and all(1 in layer.data.shape for layer in layers)  # one image each, not stacked
    assert len(seen) <= 4 and any("more notes" in m for m in seen)


def test_dicom_folder_with_a_structure_set_opens_its_rois_as_named_labels(make_napari_viewer, tmp_path):
    from dicom_factory import write_marked_series, write_rtstruct

    marks = [(1000, slice(2, 6), slice(10, 30), slice(5, 40)), (2000, slice(3, 5), slice(15, 20), slice(12, 18))]
    written, (big, small) = write_marked_series(tmp_path / "ct", marks)
    write_rtstruct(
        tmp_path / "ct" / "rs.dcm", written.series_uid, [("PTV", (255, 0, 0), big), ("GTV", (0, 0, 255), small)]
    )
    viewer = make_napari_viewer()
    image, structures = viewer.open(str(tmp_path / "ct"), plugin=PLUGIN)
    assert structures.name == "synthetic (structures)"  # the StructureSetLabel
    np.testing.assert_allclose(structures.affine.affine_matrix, image.affine.affine_matrix)
    np.testing.assert_array_equal(structures.data == 1, image.data == 1000)
    np.testing.assert_array_equal(structures.data == 2, image.data == 2000)
    assert list(structures.features["name"]) == ["background", "PTV", "GTV"]
    np.testing.assert_allclose(structures.colormap.map(np.array([1, 2])), [[1, 0, 0, 1], [0, 0, 1, 1]])


def test_edited_structures_save_as_an_rt_structure_set_that_reads_back(make_napari_viewer, tmp_path):
    from dicom_factory import write_marked_series, write_rtstruct
    from napari_medseg.io.rtstruct import read_structure_set, structures_to_labels

    marks = [(1000, slice(2, 6), slice(10, 30), slice(5, 40))]
    written, (box,) = write_marked_series(tmp_path / "ct", marks, iop=(-1.0, 0, 0, 0, 1, 0))
    write_rtstruct(tmp_path / "ct" / "rs.dcm", written.series_uid, [("PTV", (255, 0, 0), box)])
    viewer = make_napari_viewer()
    image, structures = viewer.open(str(tmp_path / "ct"), plugin=PLUGIN)
    structures.data_setitem((np.array([1, 1]), np.array([3, 4]), np.array([7, 7])), 2)  # a new structure, painted
    structures.features = {"index": [0, 1, 2], "name": ["background", "PTV", "spinal cord"]}
    out = tmp_path / "edited" / "rs_edited.dcm"
    structures.save(str(out), plugin=PLUGIN)
    ss = read_structure_set(out)
    assert [s.name for s in ss.structures] == ["PTV", "spinal cord"] and ss.structures[0].colour == "#ff0000"
    reread = structures_to_labels(ss, read_volume(tmp_path / "ct"))
    np.testing.assert_array_equal(reread.labels, np.asarray(structures.data))


def test_4d_nifti_opens_its_first_volume_and_says_how_to_pick_another(make_napari_viewer, tmp_path):
    from napari.utils.notifications import notification_manager

    data = np.stack([np.full((6, 7, 8), t, np.int16) for t in (5, 6, 7)], axis=3)
    path = tmp_path / "fmri.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(n.message))
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin=PLUGIN)
    assert layer.data.shape == (8, 7, 6) and int(layer.data.max()) == 5 and layer.name == "fmri.nii.gz [volume 0]"
    assert any("3 volumes: volume 0 opened" in m and "--volume N" in m for m in seen)
