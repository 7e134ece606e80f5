"""Finding, splitting, sorting and checking DICOM series (synthetic and pydicom's test files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from dicom_factory import normal_of, oblique_iop, write_enhanced_ct, write_series
from napari_medseg.errors import VolumeReadError
from napari_medseg.io import dicom, read_volume

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
DIRTESTS = TEST_FILES / "dicomdirtests"


def _stored(n=6, rows=10, cols=12, seed=0):
    return np.random.default_rng(seed).integers(0, 2000, size=(n, rows, cols)).astype(np.int16)


def test_slices_sorted_by_position_not_instance_number_or_file_name(tmp_path):
    stored = _stored(8)
    rng = np.random.default_rng(3)
    written = write_series(
        tmp_path, stored, origin=(5.0, -3.0, 40.0), slice_spacing=2.0, instance_order="random", names="random", rng=rng
    )
    vol = read_volume(tmp_path)
    np.testing.assert_array_equal(vol.to_file_order().transpose(2, 1, 0), stored)
    np.testing.assert_allclose(vol.origin, written.positions[0])
    np.testing.assert_allclose(vol.spacing, [2.0, 1.0, 1.0])
    assert vol.meta["warnings"] == []


def test_descending_positions_give_the_same_volume_as_ascending(tmp_path):
    stored = _stored(5)
    up = write_series(tmp_path / "up", stored, origin=(0, 0, 0), slice_spacing=3.0)
    down_positions = up.positions[::-1]
    write_series(tmp_path / "down", stored[::-1].copy(), positions=down_positions)
    a, b = read_volume(tmp_path / "up"), read_volume(tmp_path / "down")
    assert a.same_grid(b, atol=1e-6)
    np.testing.assert_array_equal(a.array, b.array)


def test_slope_intercept_applied_with_int16_for_ct_and_float32_otherwise(tmp_path):
    stored = _stored(3)
    write_series(tmp_path / "ct", stored, intercept=-1024)
    write_series(tmp_path / "pet", stored, slope=0.25, intercept=3.5)
    ct, pet = read_volume(tmp_path / "ct"), read_volume(tmp_path / "pet")
    assert ct.array.dtype == np.int16 and pet.array.dtype == np.float32
    np.testing.assert_array_equal(ct.to_file_order().transpose(2, 1, 0), stored.astype(np.int32) - 1024)
    np.testing.assert_array_equal(pet.to_file_order().transpose(2, 1, 0), stored * 0.25 + 3.5)


def test_uint16_stored_values_that_overflow_int16_after_rescale_become_int32(tmp_path):
    stored = np.full((2, 4, 4), 60000, dtype=np.uint16)
    write_series(tmp_path, stored, intercept=-1000)
    vol = read_volume(tmp_path)
    assert vol.array.dtype == np.int32 and int(vol.array.max()) == 59000


def test_localizer_in_same_uid_is_split_off_not_stacked(tmp_path):
    axial = write_series(tmp_path, _stored(6), slice_spacing=2.5)
    write_series(
        tmp_path,
        _stored(1),
        iop=(0, 1, 0, 0, 0, -1),
        series_uid=axial.series_uid,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        names="random",
    )
    found = dicom.scan(tmp_path)
    assert [s.series_id for s in found] == [f"{axial.series_uid}.1", f"{axial.series_uid}.2"]
    main, scout = found
    assert main.load().shape == (6, 10, 12)
    assert any("localizer" in w and scout.series_id in w for w in main.summary().warnings)
    assert any("LOCALIZER" in w for w in scout.summary().warnings)
    assert scout.summary().shape == (12, 10, 1)  # file order: column, row, slice


def test_missing_slice_reported_with_gap_in_mm_and_affine_uses_median_spacing(tmp_path):
    written = write_series(tmp_path, _stored(7), slice_spacing=2.0)
    written.paths[3].unlink()
    vol = read_volume(tmp_path)
    assert vol.shape[0] == 6
    assert vol.spacing[0] == pytest.approx(2.0)
    (warning,) = vol.meta["warnings"]
    assert "uneven slice spacing" in warning and "4 mm between slices 2 and 3" in warning
    assert "1 slice(s) missing" in warning


def test_gantry_tilt_reported_with_its_angle(tmp_path):
    n, step, tilt = 6, 2.0, 15.0
    shift = step * np.tan(np.radians(tilt))  # each slice moves along y as well as z
    positions = [(0.0, k * shift, k * step) for k in range(n)]
    write_series(tmp_path, _stored(n), positions=positions)
    vol = read_volume(tmp_path)
    (warning,) = vol.meta["warnings"]
    assert f"gantry tilt of {tilt:.2f} degrees" in warning
    assert vol.spacing[0] == pytest.approx(step)  # stacked along the normal


def _blob_series(folder, tilt_deg, n=24, step=2.0, size=64, centre=(30.0, 38.0, 22.0), sigma=4.0, enhanced=False):
    """A Gaussian blob at ``centre`` (LPS mm) imaged by a tilted axial acquisition.

    Written as a folder of single-frame files, or as one enhanced multi-frame file in it.
    """
    shift = step * np.tan(np.radians(tilt_deg))
    positions = np.array([(0.0, k * shift, k * step) for k in range(n)])
    cols, rows = np.meshgrid(np.arange(size, dtype=float), np.arange(size, dtype=float))
    stored = np.empty((n, size, size), np.int16)
    for k, (x0, y0, z0) in enumerate(positions):  # pixel (r, c) of slice k lies at (x0 + c, y0 + r, z0)
        d2 = (x0 + cols - centre[0]) ** 2 + (y0 + rows - centre[1]) ** 2 + (z0 - centre[2]) ** 2
        stored[k] = np.rint(1000 * np.exp(-d2 / (2 * sigma**2)))
    if enhanced:
        Path(folder).mkdir(parents=True)
        write_enhanced_ct(Path(folder) / "enhanced.dcm", stored, positions=positions)
    else:
        write_series(folder, stored, positions=positions)
    return np.array(centre)


def _centroid_lps(vol):
    idx = np.argwhere(np.ones(vol.shape, bool))
    w = vol.array.astype(float).ravel()
    mean_index = (idx * w[:, None]).sum(0) / w.sum()
    return (vol.affine @ np.append(mean_index, 1.0))[:3]


@pytest.mark.parametrize("enhanced", [False, True], ids=["single-frame files", "enhanced multi-frame"])
def test_gantry_tilt_is_corrected_so_anatomy_sits_at_its_true_position(tmp_path, enhanced):
    centre = _blob_series(tmp_path / "tilted", tilt_deg=20.0, enhanced=enhanced)
    vol = read_volume(tmp_path / "tilted")
    assert "gantry tilt of 20.00 degrees" in vol.meta["warnings"][0]
    np.testing.assert_allclose(_centroid_lps(vol), centre, atol=0.3)  # uncorrected: about 7 mm off along y
    flat = _blob_series(tmp_path / "flat", tilt_deg=0.0, enhanced=enhanced)
    reference = read_volume(tmp_path / "flat")
    assert reference.meta["warnings"] == [] and np.allclose(reference.affine, vol.affine)
    np.testing.assert_allclose(_centroid_lps(reference), flat, atol=0.3)
    assert np.abs(vol.array.astype(int) - reference.array).max() <= 40  # the same image, up to interpolation


def test_gantry_tilt_correction_agrees_with_dcm2niix(tmp_path):
    import shutil
    import subprocess
    import sys

    import nibabel as nib

    dcm2niix = shutil.which("dcm2niix") or str(Path(sys.executable).with_name("dcm2niix"))
    if not Path(dcm2niix).exists():
        pytest.skip("dcm2niix not installed")
    _blob_series(tmp_path / "tilted", tilt_deg=20.0)
    (tmp_path / "out").mkdir()
    subprocess.run(
        [dcm2niix, "-z", "n", "-f", "t", "-o", str(tmp_path / "out"), str(tmp_path / "tilted")],
        check=True,
        capture_output=True,
    )
    corrected = sorted((tmp_path / "out").glob("*Tilt*.nii"))
    assert corrected, "dcm2niix wrote no tilt-corrected volume"
    theirs = nib.load(corrected[0])
    ours = read_volume(tmp_path / "tilted")
    their_lps = np.diag([-1.0, -1, 1, 1]) @ theirs.affine
    data = np.asanyarray(theirs.dataobj).astype(float)
    idx = np.argwhere(np.ones(data.shape, bool))
    their_centroid = (their_lps @ np.append((idx * data.ravel()[:, None]).sum(0) / data.sum(), 1.0))[:3]
    np.testing.assert_allclose(_centroid_lps(ours), their_centroid, atol=0.3)


def test_duplicate_positions_reported_and_one_image_kept_per_position(tmp_path):
    stored = _stored(4)
    written = write_series(tmp_path / "a", stored, slice_spacing=2.0)
    write_series(
        tmp_path / "b",
        stored[:1] + 7,
        positions=written.positions[:1],
        series_uid=written.series_uid,
        instance_order="ascending",
    )
    found = dicom.scan(tmp_path)
    assert len(found) == 1 and found[0].n_files == 5
    vol = found[0].load()
    assert vol.shape[0] == 4
    assert any("duplicate the position" in w for w in vol.meta["warnings"])


def test_enhanced_multiframe_frames_stacked_by_per_frame_position(tmp_path):
    stored = _stored(7)
    iop = oblique_iop((0, 25, 0))
    frame_order = [3, 0, 6, 1, 5, 2, 4]
    positions = write_enhanced_ct(
        tmp_path / "enhanced.dcm",
        stored,
        origin=(10, 20, 30),
        iop=iop,
        pixel_spacing=(0.8, 0.6),
        slice_spacing=1.25,
        intercept=-1024,
        frame_order=frame_order,
    )
    (series,) = dicom.scan(tmp_path / "enhanced.dcm")
    vol = series.load()
    assert series.n_files == 1 and series.summary().shape == vol.file_shape
    np.testing.assert_array_equal(vol.to_file_order().transpose(2, 1, 0), stored.astype(np.int32) - 1024)
    np.testing.assert_allclose(vol.file_affine[:3, 3], positions[0], atol=1e-6)
    np.testing.assert_allclose(vol.file_affine[:3, 2], normal_of(iop) * 1.25, atol=1e-6)
    assert vol.array.dtype == np.int16


def test_two_series_in_one_folder_each_loads_and_read_volume_asks_which(tmp_path):
    a = write_series(tmp_path / "x", _stored(4), description="first")
    b = write_series(tmp_path / "y" / "deeper", _stored(3, 8, 8), description="second")
    found = dicom.scan(tmp_path)
    assert {s.series_id for s in found} == {a.series_uid, b.series_uid}
    with pytest.raises(VolumeReadError, match="holds 2 series"):
        read_volume(tmp_path)
    assert read_volume(tmp_path, series=b.series_uid).shape == (3, 8, 8)


def test_truncated_slice_fails_the_whole_load_naming_the_file(tmp_path):
    written = write_series(tmp_path, _stored(5))
    victim = written.paths[2]
    victim.write_bytes(victim.read_bytes()[:-50])
    (series,) = dicom.scan(tmp_path)
    assert any(str(victim) in w and "cannot be loaded" in w for w in series.summary().warnings)
    with pytest.raises(VolumeReadError) as err:
        read_volume(tmp_path)
    assert str(victim) in str(err.value) and "truncated" in str(err.value)
    assert "\n" not in str(err.value)


def test_unreadable_dicom_in_folder_reported_in_warnings_and_other_files_still_load(tmp_path):
    write_series(tmp_path, _stored(3))
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\x00" * 10)
    (tmp_path / "README").write_text("a text file: skipped silently")
    (series,) = dicom.scan(tmp_path)
    assert series.load().shape == (3, 10, 12)
    (warning,) = series.summary().warnings
    assert str(broken) in warning and "damaged DICOM file" in warning


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("MR_truncated.dcm", "truncated DICOM file"),
        ("no_meta.dcm", "damaged DICOM file"),
        ("badVR.dcm", "NumberOfFrames = '1A' is not an integer"),
        ("rtstruct.dcm", "an RT structure set (contours, no image)"),
    ],
)
def test_broken_pydicom_files_give_one_line_naming_file_and_reason(name, reason):
    with pytest.raises(VolumeReadError) as err:
        read_volume(TEST_FILES / name)
    message = str(err.value)
    assert message.startswith(str(TEST_FILES / name)) and reason in message and "\n" not in message


def test_is_dicom_file_is_cheap_and_accepts_damaged_dcm_names(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert dicom.is_dicom_file(TEST_FILES / "CT_small.dcm")
    assert dicom.is_dicom_file(TEST_FILES / "ExplVR_LitEndNoMeta.dcm")  # no preamble, valid start
    assert dicom.is_dicom_file(TEST_FILES / "no_meta.dcm")  # damaged, but named .dcm: reader explains
    assert not dicom.is_dicom_file(tmp_path / "notes.txt")
    assert not dicom.is_dicom_file(TEST_FILES / "README.txt")


def test_mr2_yields_its_three_series_with_triplanar_pilots_split_by_orientation():
    found = dicom.scan(DIRTESTS / "98892003" / "MR2")
    assert len({s.series_uid for s in found}) == 3
    assert len({s.series_id for s in found}) == len(found) == 7
    for s in found:  # every part is one plane: nothing stacked across orientations
        assert s.load().shape.count(1) == 1


def test_ct2_reports_its_uneven_spacing():
    # The issue names it 98892001/CT2; in pydicom's data it lives under 77654033.
    (series,) = dicom.scan(DIRTESTS / "77654033" / "CT2")
    warnings = series.summary().warnings
    assert any("uneven slice spacing" in w and "202 mm" in w for w in warnings)
    assert series.load().spacing[0] == pytest.approx(1.25)


def test_mr700_radial_localizer_is_not_stacked_into_a_volume():
    found = dicom.scan(DIRTESTS / "98892003" / "MR700")
    assert len(found) == 7 and len({s.series_uid for s in found}) == 1
    for s in found:
        assert s.n_files == 1 and 1 in s.summary().shape
        assert any("radial or multi-planar localizer" in w for w in s.summary().warnings)


def test_ct5n_clean_series_loads_with_header_spacing_and_window():
    (series,) = dicom.scan(DIRTESTS / "98892001" / "CT5N")
    vol = series.load()
    assert vol.shape == (5, 16, 16) and vol.meta["warnings"] == []
    assert vol.spacing[0] == pytest.approx(2.5)
    assert vol.meta["modality"] == "CT" and vol.meta["format"] == "dicom"
    ds = pydicom.dcmread(series.files[0])
    assert vol.meta["window"] == (float(ds.WindowCenter), float(ds.WindowWidth))


def test_summary_predicts_the_loaded_shape_and_spacing(tmp_path):
    write_series(tmp_path, _stored(5, 9, 11), iop=(0, 1, 0, 0, 0, -1), pixel_spacing=(0.5, 0.7), slice_spacing=3.0)
    (series,) = dicom.scan(tmp_path)
    summary, vol = series.summary(), series.load()
    assert vol.shape == (9, 11, 5)  # sagittal: rows run S->I, columns A->P
    assert summary.shape == vol.file_shape == (11, 9, 5)  # the summary is in file order: column, row, slice
    np.testing.assert_allclose(summary.spacing_mm, np.linalg.norm(vol.file_affine[:3, :3], axis=0))
    np.testing.assert_allclose(summary.spacing_mm, (0.7, 0.5, 3.0))


def test_single_file_of_a_series_loads_as_one_slice_volume():
    vol = read_volume(TEST_FILES / "CT_small.dcm")
    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    assert vol.shape == (1, 128, 128)
    np.testing.assert_allclose(vol.origin, [float(v) for v in ds.ImagePositionPatient])
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(vol.to_file_order().transpose(2, 1, 0)[0], expected)


def test_classic_multiframe_dose_uses_grid_frame_offsets_and_dose_scaling():
    ds = pydicom.dcmread(TEST_FILES / "rtdose.dcm")
    vol = read_volume(TEST_FILES / "rtdose.dcm")
    offsets = np.asarray(ds.GridFrameOffsetVector, float)
    np.testing.assert_allclose(vol.spacing[0], np.median(np.diff(offsets)))
    iop = np.asarray(ds.ImageOrientationPatient, float)
    first = np.asarray(ds.ImagePositionPatient, float) + offsets[0] * np.cross(iop[:3], iop[3:])
    np.testing.assert_allclose(vol.file_affine[:3, 3], first)
    np.testing.assert_allclose(
        vol.to_file_order().transpose(2, 1, 0), ds.pixel_array * float(ds.DoseGridScaling), rtol=1e-6
    )


def test_compressed_multiframe_decodes_to_the_same_volume_as_uncompressed():
    plain = read_volume(TEST_FILES / "rtdose.dcm")
    rle = read_volume(TEST_FILES / "rtdose_rle.dcm")
    assert plain.same_grid(rle)
    np.testing.assert_array_equal(plain.array, rle.array)


def test_12_bit_signed_values_with_junk_high_bits_match_pydicom_and_simpleitk(tmp_path):
    import SimpleITK as sitk

    values = np.array([[[-2048, -1, 0, 2047, -700]]], np.int16)
    junk = ((values.view(np.uint16) & 0x0FFF) | 0xA000).view(np.int16)  # 12-bit two's complement, junk above
    written = write_series(tmp_path, junk, implicit_vr=True)
    ds = pydicom.dcmread(written.paths[0])
    ds.BitsStored, ds.HighBit = 12, 11
    ds.save_as(written.paths[0])
    ours = read_volume(tmp_path).to_file_order().transpose(2, 1, 0)
    np.testing.assert_array_equal(ours, values)
    np.testing.assert_array_equal(ours[0], pydicom.dcmread(written.paths[0]).pixel_array)
    np.testing.assert_array_equal(ours, sitk.GetArrayFromImage(sitk.ReadImage(str(written.paths[0]))))


def test_load_reports_progress_up_to_the_number_of_slices(tmp_path):
    write_series(tmp_path, _stored(9))
    calls = []
    vol = dicom.scan(tmp_path)[0].load(workers=3, progress=lambda done, total: calls.append((done, total)))
    assert vol.shape[0] == 9
    assert sorted(calls) == [(k, 9) for k in range(1, 10)]


def test_files_without_preamble_or_meta_header_still_load(tmp_path):
    stored = _stored(3)
    written = write_series(tmp_path, stored, intercept=-1024, names="random")
    for path in written.paths:  # ACR-NEMA style: no 128-byte preamble, no 'DICM', no group 0002
        ds = pydicom.dcmread(path)
        del ds.file_meta
        ds.preamble = None
        ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert not any(p.read_bytes()[128:132] == b"DICM" for p in written.paths)
    assert all(dicom.is_dicom_file(p) for p in written.paths)
    np.testing.assert_array_equal(
        read_volume(tmp_path).to_file_order().transpose(2, 1, 0), stored.astype(np.int32) - 1024
    )
