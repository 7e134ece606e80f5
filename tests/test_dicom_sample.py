"""The shipped CT phantom: what the script makes, where the organ is, and how it reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.io import read_nifti_file, read_volume
from napari_medseg.samples import sample_dir

SAMPLES = sample_dir()
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def phantom():
    ct = read_volume(SAMPLES / "ct_phantom")
    organ = read_nifti_file(SAMPLES / "ct_phantom_organ.nii.gz")
    return ct, organ


def test_shipped_phantom_is_exactly_what_the_seeded_script_makes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_ct_phantom", SCRIPTS / "make_ct_phantom.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    shipped = sorted(p.name for p in (SAMPLES / "ct_phantom").iterdir())
    assert shipped == sorted(p.name for p in (tmp_path / "ct_phantom").iterdir())
    for name in shipped:
        assert (tmp_path / "ct_phantom" / name).read_bytes() == (SAMPLES / "ct_phantom" / name).read_bytes(), name
    np.testing.assert_array_equal(
        read_nifti_file(tmp_path / "ct_phantom_organ.nii.gz").array,
        read_nifti_file(SAMPLES / "ct_phantom_organ.nii.gz").array,
    )


def test_phantom_reads_as_int16_hounsfield_units_on_its_stated_grid(phantom):
    ct, _ = phantom
    assert ct.shape == (40, 160, 160) and ct.array.dtype == np.int16
    np.testing.assert_allclose(ct.spacing, [2.5, 1.0, 1.0])
    assert ct.meta["modality"] == "CT" and ct.meta["warnings"] == [] and ct.meta["window"] == (40.0, 400.0)
    assert ct.array[:, :5, :5].mean() == pytest.approx(-1000, abs=5)  # air in the corners
    assert ct.array.max() > 700  # bone
    assert sum(p.stat().st_size for p in (SAMPLES / "ct_phantom").iterdir()) < 3 * 2**20


def test_organ_truth_shares_the_ct_grid_and_is_one_compact_bright_blob(phantom):
    ct, organ = phantom
    assert organ.same_grid(ct, atol=1e-4) and organ.array.dtype == np.uint8
    mask = organ.array > 0
    labels, n = ndimage.label(mask)
    assert n == 1
    n_slices = int(mask.any(axis=(1, 2)).sum())
    assert 15 <= n_slices <= 25
    core = ndimage.binary_erosion(mask, iterations=2)
    shell = ndimage.binary_dilation(mask, iterations=4) & ~ndimage.binary_dilation(mask, iterations=2)
    inside, around = ct.array[core].mean(), ct.array[shell].mean()
    assert inside == pytest.approx(60, abs=5) and inside - around > 100
    centre_lps = ct.affine @ np.r_[ndimage.center_of_mass(mask), 1.0]
    assert centre_lps[0] < 0  # on the patient's right (LPS x < 0)
