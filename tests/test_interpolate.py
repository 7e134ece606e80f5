"""Fill between slices: signed-distance interpolation of one label between its contoured slices."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from napari_medseg.cli import main
from napari_medseg.errors import MedsegError
from napari_medseg.interpolate import contoured_slices, fill_between_slices, interpolation_mask


def discs(shape=(11, 64, 64), radii=(10, 20), slices=(0, 10), centres=((32, 32), (32, 32)), label=1):
    labels = np.zeros(shape, np.uint8)
    y, x = np.indices(shape[1:])
    for k, r, (cy, cx) in zip(slices, radii, centres):
        labels[k][np.hypot(y - cy, x - cx) <= r] = label
    return labels


def radius(mask2d: np.ndarray) -> float:
    return float(np.sqrt(mask2d.sum() / np.pi))


def test_cone_between_two_discs_has_the_mean_radius_in_the_middle():
    filled = fill_between_slices(discs(), 1, axis=0)
    assert radius(filled[5] == 1) == pytest.approx(15.0, abs=0.3)
    radii = [radius(filled[k] == 1) for k in range(11)]
    assert np.all(np.diff(radii) > 0.5)  # grows slice by slice: every slice between was filled
    assert radius(filled[2] == 1) == pytest.approx(12.0, abs=0.3)


def test_in_plane_spacing_is_respected():
    """Discs drawn in mm on a grid of 0.5 x 1 mm pixels: the middle slice is an ellipse of the mean size."""
    shape = (5, 120, 60)
    labels = np.zeros(shape, np.uint8)
    y, x = np.indices(shape[1:]) * np.array([0.5, 1.0])[:, None, None]
    labels[0][np.hypot(y - 30, x - 30) <= 10] = 1
    labels[4][np.hypot(y - 30, x - 30) <= 20] = 1
    middle = fill_between_slices(labels, 1, axis=0, spacing=(3.0, 0.5, 1.0))[2] == 1
    assert np.sqrt(middle.sum() * 0.5 / np.pi) == pytest.approx(15.0, abs=0.3)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_any_axis_gives_the_same_shape(axis):
    cone = discs()
    moved = np.moveaxis(cone, 0, axis)
    filled = fill_between_slices(moved, 1, axis=axis)
    assert np.array_equal(np.moveaxis(filled, axis, 0), fill_between_slices(cone, 1, axis=0))


def test_other_labels_and_contoured_slices_are_untouched():
    labels = discs()
    labels[3:8, 30:35, 30:35] = 2  # another structure in the way
    labels[5, :3, :3] = 3
    filled = fill_between_slices(labels, 1, axis=0)
    assert np.array_equal(filled[labels != 0], labels[labels != 0])
    assert np.array_equal(filled[[0, 10]], labels[[0, 10]])
    assert (filled[5] == 1).sum() > 600
    mask = interpolation_mask(labels, 1, 0)
    assert not mask[labels != 0].any()


def test_two_components_stay_two_and_a_gap_of_one_slice_is_left_alone():
    labels = discs(
        shape=(9, 80, 80), radii=(8, 8, 8, 8), slices=(0, 0, 8, 8), centres=((20, 20), (60, 60), (20, 20), (60, 60))
    )
    labels[1] = labels[0]  # slices 0 and 1 are both contoured: nothing between them
    filled = fill_between_slices(labels, 1, axis=0)
    from scipy.ndimage import label as components

    assert components(filled[4] == 1)[1] == 2
    assert (filled[4] == 1).sum() == (labels[0] == 1).sum()
    assert contoured_slices(filled, 1, 0).tolist() == list(range(9))


def test_a_blob_moving_sideways_keeps_its_size_and_travels_straight():
    """Two discs of radius 6 that do not overlap: blending in place would leave the middle empty."""
    labels = discs(shape=(9, 64, 64), radii=(6, 6), slices=(0, 8), centres=((20, 20), (40, 44)))
    filled = fill_between_slices(labels, 1, axis=0)
    for k in range(1, 8):
        t = k / 8
        assert radius(filled[k] == 1) == pytest.approx(6.0, abs=0.4)
        centre = np.argwhere(filled[k] == 1).mean(axis=0)
        np.testing.assert_allclose(centre, [20 + 20 * t, 20 + 24 * t], atol=0.6)


def test_several_contoured_slices_fill_each_gap_from_its_own_neighbours():
    labels = discs(shape=(21, 64, 64), radii=(6, 18, 6), slices=(0, 10, 20), centres=((32, 32),) * 3)
    filled = fill_between_slices(labels, 1, axis=0)
    assert radius(filled[5] == 1) == pytest.approx(12.0, abs=0.3)
    assert radius(filled[15] == 1) == pytest.approx(12.0, abs=0.3)


def test_fewer_than_two_contoured_slices_is_a_clear_error():
    labels = discs(radii=(10,), slices=(4,))
    with pytest.raises(MedsegError, match="at least two slices"):
        interpolation_mask(labels, 1, 0)
    with pytest.raises(MedsegError, match="label must be"):
        interpolation_mask(discs(), 0, 0)


def test_cli_fills_along_a_file_axis_and_writes_on_the_same_grid(tmp_path, capsys):
    """File axis K of a NIfTI whose voxel order is not (z, y, x): the filled slices are K slices."""
    cone = discs()  # contoured slices along the first axis
    file_array = np.moveaxis(cone, 0, 1)  # in the file, they are slices along j (axis 1)
    affine = np.array([[0, 0, -1.5, 40], [2.0, 0, 0, -10], [0, 1.0, 0, 5], [0, 0, 0, 1]])
    src, out = tmp_path / "drawn.nii.gz", tmp_path / "filled.nii.gz"
    nib.save(nib.Nifti1Image(file_array, affine), src)
    assert main(["interpolate", str(src), "--label", "1", "--out", str(out), "--axis", "1"]) == 0
    assert "filled between them" in capsys.readouterr().err
    written = nib.load(out)
    assert np.allclose(written.affine, affine)
    result = np.asarray(written.dataobj)
    assert result.shape == file_array.shape
    assert radius(result[:, 5, :] == 1) == pytest.approx(15.0, abs=0.3)
    assert np.array_equal(np.asarray(nib.load(src).dataobj), file_array)  # the input is left alone


def test_cli_error_is_one_line(tmp_path, capsys):
    src = tmp_path / "one.nii.gz"
    nib.save(nib.Nifti1Image(discs(radii=(10,), slices=(4,)), np.eye(4)), src)
    assert main(["interpolate", str(src), "--label", "1", "--out", str(tmp_path / "o.nii.gz"), "--axis", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "at least two slices" in err
    assert not (tmp_path / "o.nii.gz").exists()
