"""NIfTI and SimpleITK formats: reading into the package convention and writing labels back."""

import os

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from napari_medseg.cli import main
from napari_medseg.errors import MedsegError, VolumeReadError
from napari_medseg.io import list_series, read_volume, write_labels, write_volume
from napari_medseg.io.atomic import atomic_path

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _save_nifti(path, data, affine):
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    nib.save(img, str(path))
    return path


def test_nifti_and_simpleitk_readers_agree_on_oblique_file(tmp_path, oblique_ras_affine, random_image):
    path = _save_nifti(tmp_path / "img.nii.gz", random_image, oblique_ras_affine)
    ours = read_volume(path)
    sitk_image = sitk.ReadImage(str(path))
    # every voxel: SimpleITK's physical point (LPS) of index (i, j, k) holds the same value in ours
    arr = sitk.GetArrayFromImage(sitk_image)
    rng = np.random.default_rng(1)
    for _ in range(30):
        i, j, k = (int(rng.integers(s)) for s in sitk_image.GetSize())
        p = np.array(sitk_image.TransformIndexToPhysicalPoint((i, j, k)))
        c = np.round(np.linalg.solve(ours.affine, np.r_[p, 1])[:3]).astype(int)
        assert np.allclose(ours.affine @ np.r_[c, 1], np.r_[p, 1], atol=1e-4)
        assert ours.array[tuple(c)] == arr[k, j, i]


def test_nifti_scaling_is_applied(tmp_path):
    img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
    img.header.set_slope_inter(2.0, -10.0)
    nib.save(img, str(tmp_path / "s.nii"))
    vol = read_volume(tmp_path / "s.nii")
    assert vol.array.min() == -10.0 and vol.array.max() == 23 * 2 - 10


def test_labels_written_on_source_grid_voxel_order_and_affine(tmp_path, oblique_ras_affine, random_image):
    src = _save_nifti(tmp_path / "img.nii.gz", random_image, oblique_ras_affine)
    vol = read_volume(src)
    labels = np.zeros(vol.shape, np.uint16)
    labels[2:5, 3:9, 1:4] = 3
    labels[0, 0, 0] = 300
    out = write_labels(tmp_path / "labels.nii.gz", labels, vol)
    saved = nib.load(str(out))
    assert saved.shape == random_image.shape
    assert saved.get_data_dtype() == np.uint16
    assert np.allclose(saved.affine, oblique_ras_affine, atol=1e-5)
    sform, scode = saved.header.get_sform(coded=True)
    qform, qcode = saved.header.get_qform(coded=True)
    assert scode == qcode == 1 and np.allclose(sform, qform, atol=1e-5)
    # the same anatomy: file voxel f of the labels is canonical voxel c of the volume
    data = np.asarray(saved.dataobj)
    t = vol.file_order.index_transform(vol.file_shape)
    for c in [(2, 3, 1), (4, 8, 3), (0, 0, 0), (6, 1, 2)]:
        f = (t @ np.r_[c, 1])[:3].astype(int)
        assert data[tuple(f)] == labels[c]


def test_uint8_chosen_for_small_labels(tmp_path, random_image):
    src = _save_nifti(tmp_path / "img.nii", random_image, np.eye(4))
    vol = read_volume(src)
    out = write_labels(tmp_path / "l.nii.gz", (vol.array > 0).astype(np.int64), vol)
    assert nib.load(str(out)).get_data_dtype() == np.uint8


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
def test_itk_formats_roundtrip_physical_points(tmp_path, oblique_ras_affine, random_image, suffix):
    src = _save_nifti(tmp_path / "img.nii.gz", random_image, oblique_ras_affine)
    vol = read_volume(src)
    labels = (vol.array > 500).astype(np.uint8)
    out = write_labels(tmp_path / f"labels{suffix}", labels, vol)
    written = sitk.ReadImage(str(out))
    ref = sitk.ReadImage(str(src))
    assert written.GetSize() == ref.GetSize()
    assert np.allclose(written.GetOrigin(), ref.GetOrigin(), atol=1e-4)
    assert np.allclose(written.GetDirection(), ref.GetDirection(), atol=1e-5)
    assert np.allclose(written.GetSpacing(), ref.GetSpacing(), atol=1e-5)
    assert np.array_equal(sitk.GetArrayFromImage(written), (sitk.GetArrayFromImage(ref) > 500).astype(np.uint8))
    # and our reader gives back the same volume
    again = read_volume(out)
    assert again.same_grid(vol) and np.array_equal(again.array, labels)


def test_itk_written_volume_reads_back_identically_from_an_itk_source(tmp_path, random_image):
    image = sitk.GetImageFromArray(random_image)
    image.SetSpacing((0.8, 0.6, 3.0))
    image.SetOrigin((10, -20, 30))
    image.SetDirection(tuple(np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float).ravel()))  # sagittal-like
    sitk.WriteImage(image, str(tmp_path / "src.mha"))
    vol = read_volume(tmp_path / "src.mha")
    assert not vol.is_oblique
    write_volume(tmp_path / "copy.nii.gz", vol.array, vol)
    copy = read_volume(tmp_path / "copy.nii.gz")
    assert copy.same_grid(vol, atol=1e-4) and np.array_equal(copy.array, vol.array)


def test_source_is_never_overwritten(tmp_path, random_image):
    src = _save_nifti(tmp_path / "img.nii.gz", random_image, np.eye(4))
    before = src.read_bytes()
    vol = read_volume(src)
    with pytest.raises(MedsegError, match="source"):
        write_labels(src, np.zeros(vol.shape, np.uint8), vol)
    assert src.read_bytes() == before


def test_failed_write_leaves_no_file_behind(tmp_path):
    target = tmp_path / "out.nii.gz"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")
    assert not target.exists() and os.listdir(tmp_path) == []


def test_unsupported_output_extension_is_refused(tmp_path, random_image):
    vol = read_volume(_save_nifti(tmp_path / "img.nii", random_image, np.eye(4)))
    with pytest.raises(MedsegError, match="unsupported output format"):
        write_labels(tmp_path / "labels.png", np.zeros(vol.shape, np.uint8), vol)


def test_broken_nifti_names_the_file(tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(VolumeReadError, match="broken.nii.gz"):
        read_volume(bad)


def test_4d_nifti_opens_volume_0_with_a_note_and_any_volume_on_request(tmp_path):
    data = np.stack([np.full((3, 4, 5), 10 * t, np.float32) for t in range(3)], axis=3)
    path = _save_nifti(tmp_path / "4d.nii.gz", data, np.eye(4))
    first = read_volume(path)
    assert first.shape == (5, 4, 3) and first.array.max() == 0
    assert "3 volumes: volume 0 opened" in first.meta["warnings"][0] and "--volume N" in first.meta["warnings"][0]
    assert read_volume(path, volume=2).array.min() == 20 and read_volume(path, volume=2).meta["warnings"] == []
    with pytest.raises(VolumeReadError, match="no volume 3; it holds 3 volumes"):
        read_volume(path, volume=3)
    with pytest.raises(VolumeReadError, match="no volumes to choose from"):
        read_volume(_save_nifti(tmp_path / "3d.nii", data[..., 0], np.eye(4)), volume=1)
    assert main(["convert", str(path), str(tmp_path / "v1.nii.gz"), "--volume", "1"]) == 0
    assert np.all(nib.load(str(tmp_path / "v1.nii.gz")).get_fdata() == 10)


def test_5d_nifti_is_refused_with_its_shape(tmp_path):
    path = _save_nifti(tmp_path / "5d.nii", np.zeros((3, 3, 3, 1, 2), np.float32), np.eye(4))
    with pytest.raises(VolumeReadError, match="5D"):
        read_volume(path)


def test_list_series_of_a_nifti_file(tmp_path, random_image):
    path = _save_nifti(tmp_path / "img.nii.gz", random_image, np.diag([0.5, 0.6, 2.0, 1.0]))
    (summary,) = list_series(path)
    d = summary.as_dict()
    assert d["series_uid"] is None and d["n_files"] == 1
    assert d["axes"] == ["i", "j", "k"] and d["shape"] == [13, 17, 11]  # the file's voxel order
    assert d["spacing_mm"] == [0.5, 0.6, 2.0]
