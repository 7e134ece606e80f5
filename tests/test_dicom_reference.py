"""`medseg convert` of a DICOM series gives the same image as SimpleITK and dcm2niix.

The series is made hard on purpose: oblique orientation, non-square pixels and a
non-square matrix, RescaleSlope/Intercept, InstanceNumber running against slice
position, random file names without extension, and a localizer (sagittal, ImageType
LOCALIZER) mixed into the folder. All outputs are reoriented with
``nibabel.as_closest_canonical`` before comparing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from dicom_factory import oblique_iop, write_series
from napari_medseg.cli import main
from napari_medseg.io import dicom

SLOPE, INTERCEPT = 1.5, -1024.25  # every rescaled value is exact in float32


def _dcm2niix() -> str | None:
    beside_python = Path(sys.executable).parent / "dcm2niix"
    return shutil.which("dcm2niix") or (str(beside_python) if beside_python.exists() else None)


def _canonical(path: Path):
    img = nib.as_closest_canonical(nib.load(str(path)))
    return img.shape, img.affine, np.asanyarray(img.get_fdata(dtype=np.float64))


def _voxel_centres(shape, affine) -> np.ndarray:
    """RAS mm of the 8 corner voxel centres (enough: the mapping is affine)."""
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in shape[:3]], indexing="ij")).reshape(3, -1)
    return (affine[:3, :3] @ corners).T + affine[:3, 3]


@pytest.fixture(scope="module")
def hard_series(tmp_path_factory):
    root = tmp_path_factory.mktemp("hard")
    folder = root / "dicom"
    rng = np.random.default_rng(7)
    stored = rng.integers(-400, 3000, size=(18, 40, 52)).astype(np.int16)
    main_series = write_series(
        folder,
        stored,
        origin=(-30.5, 12.25, 80.0),
        iop=oblique_iop((20, -10, 15)),
        pixel_spacing=(0.7, 0.9),
        slice_spacing=1.5,
        slope=SLOPE,
        intercept=INTERCEPT,
        instance_order="reversed",
        names="random",
        rng=rng,
    )
    write_series(  # a scout in the same SeriesInstanceUID, as scanners often do
        folder,
        rng.integers(0, 1000, (1, 40, 52)).astype(np.int16),
        origin=(0.0, -100.0, 100.0),
        iop=(0, 1, 0, 0, 0, -1),
        pixel_spacing=(2.0, 2.0),
        series_uid=main_series.series_uid,
        names="random",
        rng=rng,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    (folder / "notes.txt").write_text("not DICOM: skipped silently")
    found = dicom.scan(folder)
    main_id = next(s.series_id for s in found if s.n_files == len(stored))
    ours = root / "ours.nii.gz"
    assert main(["convert", str(folder), str(ours), "--series", main_id]) == 0
    return folder, main_series, stored, ours, root


def test_convert_matches_simpleitk_series_reader_on_oblique_rescaled_series(hard_series):
    folder, main_series, stored, ours, root = hard_series
    only_main = root / "main_only"  # SimpleITK gets exactly the main series' files and sorts them itself
    only_main.mkdir()
    for p in main_series.paths:
        shutil.copy(p, only_main / p.name)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(only_main)))
    sitk.WriteImage(reader.Execute(), str(root / "sitk.nii.gz"))

    shape_o, aff_o, data_o = _canonical(ours)
    shape_s, aff_s, data_s = _canonical(root / "sitk.nii.gz")
    assert shape_o == shape_s
    assert np.abs(_voxel_centres(shape_o, aff_o) - _voxel_centres(shape_s, aff_s)).max() < 1e-3
    np.testing.assert_array_equal(data_o, data_s)


def test_convert_matches_dcm2niix_on_folder_with_localizer(hard_series):
    exe = _dcm2niix()
    if exe is None:
        pytest.skip("dcm2niix not on PATH (pip install dcm2niix)")
    folder, main_series, stored, ours, root = hard_series
    out = root / "dcm2niix"
    out.mkdir()
    subprocess.run([exe, "-z", "n", "-f", "%s_%j", "-o", str(out), str(folder)], check=True, capture_output=True)
    shape_o, aff_o, data_o = _canonical(ours)
    candidates = [_canonical(p) for p in sorted(out.glob("*.nii"))]
    same_shape = [c for c in candidates if c[0] == shape_o]
    assert len(candidates) == 2 and len(same_shape) == 1  # dcm2niix also kept the localizer apart
    _, aff_d, data_d = same_shape[0]
    assert np.abs(_voxel_centres(shape_o, aff_o) - _voxel_centres(shape_o, aff_d)).max() < 1e-3
    np.testing.assert_array_equal(data_o, data_d)


def test_loaded_volume_puts_each_stored_slice_at_its_dicom_position(hard_series):
    folder, main_series, stored, _, _ = hard_series
    series = next(s for s in dicom.scan(folder) if s.n_files == len(stored))
    vol = series.load()
    file_array = vol.to_file_order().transpose(
        2, 1, 0
    )  # file order is (column, row, slice); transposed back to the sorted stack
    np.testing.assert_array_equal(file_array, stored * np.float32(SLOPE) + np.float32(INTERCEPT))
    # voxel (0, 0, k) of the file order is the first pixel of slice k: its ImagePositionPatient
    centres = (vol.file_affine @ np.c_[np.zeros((len(stored), 2)), np.arange(len(stored)), np.ones(len(stored))].T).T
    np.testing.assert_allclose(centres[:, :3], main_series.positions, atol=1e-4)
    # and one step down the rows moves by PixelSpacing[0] along the column cosines
    iop = np.asarray(main_series.iop)
    np.testing.assert_allclose(vol.file_affine[:3, 1], iop[3:] * 0.7, atol=1e-9)
    np.testing.assert_allclose(vol.file_affine[:3, 0], iop[:3] * 0.9, atol=1e-9)


def test_enhanced_multiframe_matches_simpleitk(tmp_path):
    from dicom_factory import write_enhanced_ct

    stored = np.random.default_rng(2).integers(0, 2000, (7, 10, 12)).astype(np.int16)
    write_enhanced_ct(
        tmp_path / "enhanced.dcm",
        stored,
        origin=(10, 20, 30),
        iop=oblique_iop((5, 25, -8)),
        pixel_spacing=(0.8, 0.6),
        slice_spacing=1.25,
        intercept=-1024,
    )
    assert main(["convert", str(tmp_path / "enhanced.dcm"), str(tmp_path / "ours.nii.gz")]) == 0
    sitk.WriteImage(sitk.ReadImage(str(tmp_path / "enhanced.dcm")), str(tmp_path / "sitk.nii.gz"))
    shape_o, aff_o, data_o = _canonical(tmp_path / "ours.nii.gz")
    shape_s, aff_s, data_s = _canonical(tmp_path / "sitk.nii.gz")
    assert shape_o == shape_s
    assert np.abs(_voxel_centres(shape_o, aff_o) - _voxel_centres(shape_s, aff_s)).max() < 1e-3
    np.testing.assert_array_equal(data_o, data_s)
