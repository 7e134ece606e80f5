"""Prompt geometry: file indices -> array indices, a 3D box -> slice prompt, propagation plan."""

from __future__ import annotations

import argparse

import nibabel as nib
import numpy as np
import pytest

from napari_medseg.cli.sam_segment import _to_array_indices, parse_box, parse_points, run_sam
from napari_medseg.errors import MedsegError
from napari_medseg.io import read_volume
from napari_medseg.models.sam import Extent, box_prompt
from napari_medseg.models.sam.propagation import mask_box, seed_ranges


@pytest.fixture
def ras_nifti(tmp_path):
    """A NIfTI whose voxel order is (i, j, k) = (R->L flipped x, y, z): array order differs from the file."""
    data = np.zeros((20, 16, 10), np.int16)  # (i, j, k), k = slices
    data[12, 3, 7] = 1
    affine = np.diag([1.0, 1.5, 2.5, 1.0])  # RAS: i towards R+ (patient's left is -i in LPS terms)
    path = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    return read_volume(path), data


def test_file_voxel_indices_map_to_the_same_voxel_of_the_volume_array(ras_nifti):
    volume, data = ras_nifti
    idx = _to_array_indices(volume, np.array([[12.0, 3.0, 7.0]]))[0].astype(int)
    assert volume.array[tuple(idx)] == 1 and volume.array.sum() == 1
    assert volume.file_order.perm.index(2) == 0  # file K became the volume's slice axis 0


def test_box_prompt_puts_rectangle_on_middle_slice_and_extent_on_slice_range():
    index, rect, extent = box_prompt((10, 30, 40), (2, 5, 6, 8, 15, 20))
    assert extent == Extent(2, 8, (6, 5, 20, 15)) and index == 5 and rect == (6, 5, 20, 15)
    index, rect, extent = box_prompt((10, 30, 40), (2, 5, 6, 8, 15, 20), slice_axis=2)
    assert (extent.first, extent.last, index) == (6, 20, 13)
    assert rect == (5, 2, 15, 8)  # x = array axis 1, y = array axis 0
    with pytest.raises(MedsegError, match="outside"):
        box_prompt((10, 30, 40), (2, 5, 6, 8, 15, 40))
    with pytest.raises(MedsegError, match="not a number"):
        box_prompt((10, 30, 40), (2, 5, np.nan, 8, 15, 20))


def test_cli_parsing_rejects_malformed_prompts():
    assert parse_box("1,2,3,4,5,6").tolist() == [[1, 2, 3], [4, 5, 6]]
    assert parse_points("1,2,3,+1; 4,5,6,-1").tolist() == [[1, 2, 3, 1], [4, 5, 6, 0]]
    for bad in ("1,2,3", "a,b,c,d,e,f", "nan,0,0,1,1,1"):
        with pytest.raises(MedsegError, match="--box"):
            parse_box(bad)
    with pytest.raises(MedsegError, match=r"\+1"):
        parse_points("1,2,3,2")


def test_cli_box_outside_the_file_is_a_user_error(ras_nifti):
    volume, _ = ras_nifti
    args = argparse.Namespace(model="litemedsam", box="0,0,0,25,5,5", points=None, window=None, modality="auto")
    with pytest.raises(MedsegError, match="outside INPUT"):
        run_sam(args, volume)
    with pytest.raises(MedsegError, match="prompt"):
        run_sam(argparse.Namespace(model="litemedsam", box=None, points=None), volume)


def test_seed_ranges_reach_the_neighbouring_seeds_and_mask_box_grows_within_slice():
    assert seed_ranges([5], Extent(0, 9)) == [(0, 9)]
    assert seed_ranges([2, 8, 12], Extent(0, 20)) == [(0, 7), (3, 11), (9, 20)]
    mask = np.zeros((10, 12), bool)
    mask[2:5, 9:12] = True
    assert mask_box(mask, 2) == (7, 0, 11, 6)
    assert mask_box(np.zeros((4, 4), bool)) is None
    clipped = Extent(0, 1, (0, 0, 9, 3)).clip(mask.copy())
    assert clipped[2:4, 9].all() and not clipped[:, 10:].any() and not clipped[4:].any()
