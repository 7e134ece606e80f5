"""Bad and hostile files: a clear one-line refusal naming the file, or a warning and a documented
fallback; never a traceback, a hang, a memory blow-up or a silently wrong volume."""

from __future__ import annotations

import gzip
import os
import threading
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from dicom_factory import write_series
from napari_medseg.errors import MedsegError, VolumeReadError
from napari_medseg.io import list_series, read_volume, write_volume
from napari_medseg.volume import Volume

NIBABEL_DATA = Path(nib.__file__).parent / "tests" / "data"


def _series(folder: Path, n: int = 5, rows: int = 6, cols: int = 7):
    stored = (np.arange(n * rows * cols, dtype=np.int16) % 300 + 10).reshape(n, rows, cols)
    return write_series(folder, stored, pixel_spacing=(0.5, 0.75), slice_spacing=2.0), stored


def _edit(path: Path, **values) -> Path:
    """Set (or, with None, delete) header elements of one DICOM file, keeping its pixel data bytes."""
    ds = pydicom.dcmread(path)
    for keyword, value in values.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)
    return path


def _refused(path, *words: str) -> str:
    with pytest.raises(VolumeReadError) as err:
        read_volume(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message, message
    for word in words:
        assert word in message, message
    return message


# --- DICOM geometry -------------------------------------------------------------------------------


def test_one_nan_image_position_drops_that_slice_not_the_series(tmp_path):
    written, _ = _series(tmp_path / "s")
    _edit(written.paths[2], ImagePositionPatient=["0", "nan", "4"])
    vol = read_volume(tmp_path / "s")
    assert vol.shape[0] == 4 and np.all(np.isfinite(vol.affine))
    text = " ".join(vol.meta["warnings"])
    assert "ImagePositionPatient" in text and written.paths[2].name in text


@pytest.mark.parametrize(
    ("keyword", "value", "word"),
    [
        ("ImageOrientationPatient", ["1", "0", "0", "0", "nan", "0"], "ImageOrientationPatient"),
        ("ImageOrientationPatient", ["1", "0", "0", "1", "0", "0"], "parallel"),
        ("PixelSpacing", ["nan", "0.5"], "PixelSpacing"),
        ("PixelSpacing", ["0", "0.5"], "PixelSpacing"),
        ("PixelSpacing", ["-0.5", "0.5"], "PixelSpacing"),
        ("RescaleSlope", "nan", "RescaleSlope"),
        ("RescaleSlope", "inf", "RescaleSlope"),
        ("RescaleSlope", "0", "RescaleSlope"),
        ("RescaleIntercept", "nan", "RescaleIntercept"),
    ],
)
def test_unusable_header_values_are_refused_naming_the_file(tmp_path, keyword, value, word):
    written, _ = _series(tmp_path / "s", n=1)
    _refused(_edit(written.paths[0], **{keyword: value}), word)


def test_non_unit_orientation_cosines_are_normalised_with_a_warning(tmp_path):
    written, _ = _series(tmp_path / "s", n=3)
    for p in written.paths:
        _edit(p, ImageOrientationPatient=["2", "0", "0", "0", "2", "0"])
    vol = read_volume(tmp_path / "s")
    np.testing.assert_allclose(vol.spacing, [2.0, 0.5, 0.75])
    assert any("not unit vectors" in w for w in vol.meta["warnings"])


def test_missing_or_one_value_pixel_spacing_is_warned(tmp_path):
    written, _ = _series(tmp_path / "a", n=2)
    for p in written.paths:
        _edit(p, PixelSpacing=None)
    vol = read_volume(tmp_path / "a")
    np.testing.assert_allclose(vol.spacing[1:], [1.0, 1.0])
    assert any("no PixelSpacing" in w for w in vol.meta["warnings"])
    written, _ = _series(tmp_path / "b", n=2)
    for p in written.paths:
        _edit(p, PixelSpacing="0.6")
    vol = read_volume(tmp_path / "b")
    np.testing.assert_allclose(vol.spacing[1:], [0.6, 0.6])
    assert any("one value" in w for w in vol.meta["warnings"])


# --- DICOM sizes and pixel data -------------------------------------------------------------------


@pytest.mark.parametrize("frames", ["0", "-1", "2000000000"])
def test_impossible_number_of_frames_is_refused_at_once(tmp_path, frames):
    written, _ = _series(tmp_path / "s", n=1)
    path = _edit(written.paths[0], NumberOfFrames=frames)
    outcome: list = []

    def read():
        try:
            read_volume(path)
        except Exception as exc:  # recorded for the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    start = time.perf_counter()
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "reading hung"
    assert time.perf_counter() - start < 10
    assert len(outcome) == 1 and isinstance(outcome[0], VolumeReadError), outcome
    assert "NumberOfFrames" in str(outcome[0]) and str(path) in str(outcome[0])


def test_zero_rows_and_columns_are_refused(tmp_path):
    written, _ = _series(tmp_path / "s", n=1)
    _refused(_edit(written.paths[0], Rows=0, Columns=0), "Rows")


def test_pixel_data_longer_than_the_header_says_is_refused_not_decoded_wrongly(tmp_path):
    written, _ = _series(tmp_path / "s", n=1)
    path = _edit(written.paths[0], BitsAllocated=8, BitsStored=8, HighBit=7)  # 16-bit data read as 8-bit
    _refused(path, "Pixel Data holds")


def test_huge_rows_and_columns_with_little_pixel_data_are_refused_before_allocating(tmp_path):
    written, _ = _series(tmp_path / "s", n=1)
    path = _edit(written.paths[0], Rows=65535, Columns=65535)
    _refused(path, "cannot fit")


def test_palette_colour_images_are_refused_not_read_as_grey_levels(tmp_path):
    written, _ = _series(tmp_path / "s", n=1)
    _refused(_edit(written.paths[0], PhotometricInterpretation="PALETTE COLOR"), "colour")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_dcm_in_a_folder_is_skipped_without_blocking(tmp_path):
    written, stored = _series(tmp_path / "s", n=3)
    os.mkfifo(tmp_path / "s" / "pipe.dcm")
    result: list = []
    worker = threading.Thread(target=lambda: result.append(read_volume(tmp_path / "s")), daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "opening the FIFO blocked the scan"
    assert result[0].shape[0] == 3
    with pytest.raises(VolumeReadError, match="not a regular file"):
        read_volume(tmp_path / "s" / "pipe.dcm")


# --- NIfTI ----------------------------------------------------------------------------------------


def _nifti(path: Path, data: np.ndarray, affine=None, **header) -> Path:
    img = nib.Nifti1Image(data, np.diag([2.0, 2.0, 3.0, 1.0]) if affine is None else affine)
    for key, value in header.items():
        img.header[key] = value
    img.to_filename(path)
    return path


def _patch_header(path: Path, **fields) -> Path:
    """Write header fields raw (nibabel would refuse NaN through its setters)."""
    with open(path, "rb") as fp:
        hdr = nib.Nifti1Header.from_fileobj(fp)
    raw = hdr.binaryblock
    structarr = np.frombuffer(bytearray(raw), dtype=hdr.structarr.dtype).copy()
    for key, value in fields.items():
        structarr[key] = value
    with open(path, "r+b") as fp:
        fp.write(structarr.tobytes())
    return path


def test_nifti_with_nan_sform_falls_back_to_the_qform_with_a_warning(tmp_path):
    path = _nifti(tmp_path / "a.nii", np.zeros((4, 5, 6), np.int16))
    _patch_header(path, srow_x=[np.nan, 0, 0, 0], sform_code=1, qform_code=1)
    vol = read_volume(path)
    np.testing.assert_allclose(sorted(vol.spacing), [2.0, 2.0, 3.0])
    assert any("sform" in w and "qform" in w for w in vol.meta["warnings"])


@pytest.mark.parametrize(
    "fields",
    [
        {"sform_code": 0, "qform_code": 0, "pixdim": [1, np.nan, 1, 1, 1, 1, 1, 1]},
        {
            "sform_code": 1,
            "qform_code": 1,
            "srow_x": [0, 0, 0, 0],
            "quatern_b": np.nan,
            "pixdim": [1, np.nan, 1, 1, 1, 1, 1, 1],
        },
    ],
)
def test_nifti_without_any_usable_affine_is_refused(tmp_path, fields):
    path = _patch_header(_nifti(tmp_path / "a.nii", np.zeros((4, 5, 6), np.int16)), **fields)
    _refused(path, "geometry")


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (np.zeros((3, 4, 5), np.complex64), "complex"),
        (np.zeros((3, 4, 5), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")]), "RGB"),
        (np.zeros((3, 4, 5, 2, 2), np.int16), "5D"),  # 4D files open one volume at a time (test_io_volumes)
    ],
)
def test_nifti_that_is_no_grey_3d_volume_is_refused(tmp_path, data, word):
    _refused(_nifti(tmp_path / "a.nii", data), word)


def test_cifti_file_is_refused(tmp_path):
    _refused(NIBABEL_DATA / "row_major.dconn.nii", "CIFTI")


def test_nifti_with_an_empty_axis_is_refused(tmp_path):
    path = _patch_header(_nifti(tmp_path / "a.nii", np.zeros((3, 4, 5), np.int16)), dim=[3, 3, 0, 5, 1, 1, 1, 1])
    _refused(path, "no voxels")


def test_nibabel_messages_become_warnings_not_terminal_chatter(tmp_path, capfd):
    path = _patch_header(
        _nifti(tmp_path / "a.nii", np.zeros((3, 4, 5), np.int16)),
        pixdim=[1, 0, 2, 3, 1, 1, 1, 1],
        sform_code=0,
        qform_code=0,
    )
    capfd.readouterr()
    vol = read_volume(path)
    captured = capfd.readouterr()
    assert "non-zero" not in captured.err + captured.out
    assert any("should be non-zero" in w for w in vol.meta["warnings"])  # nibabel's fallback: 1 mm
    np.testing.assert_allclose(sorted(vol.spacing), [1.0, 2.0, 3.0])


def test_nan_voxels_are_reported(tmp_path):
    data = np.ones((3, 4, 5), np.float32)
    data[0, 0, :3] = np.nan
    data[1, 1, 1] = np.inf
    vol = read_volume(_nifti(tmp_path / "a.nii.gz", data))
    assert any(w.startswith("4 of 60 voxels are NaN or infinite") for w in vol.meta["warnings"])


def test_int64_nifti_is_written_and_read_back_exactly(tmp_path):
    ref = Volume.from_file_order(np.zeros((3, 4, 5), np.int16), np.diag([2.0, 1.0, 1.5, 1.0]))
    values = (np.arange(60, dtype=np.int64) * 10**12).reshape(ref.shape)
    write_volume(tmp_path / "big.nii.gz", values, ref)
    back = read_volume(tmp_path / "big.nii.gz")
    assert back.array.dtype == np.int64 and np.array_equal(back.array, values)


def test_writing_on_a_grid_with_nan_geometry_is_refused(tmp_path):
    ref = Volume(np.zeros((3, 4, 5), np.int16), np.diag([np.nan, 1.0, 1.5, 1.0]))
    with pytest.raises(MedsegError, match="NaN"):
        write_volume(tmp_path / "x.nii.gz", ref.array, ref)
    assert not (tmp_path / "x.nii.gz").exists()


# --- MetaImage / NRRD -----------------------------------------------------------------------------


def _mhd(path: Path, data_file: str, dims="4 5 6", spacing="1 1 1") -> Path:
    path.write_text(
        f"ObjectType = Image\nNDims = 3\nDimSize = {dims}\nElementSpacing = {spacing}\n"
        f"ElementType = MET_UCHAR\nElementDataFile = {data_file}\n"
    )
    return path


def test_mhd_reads_its_own_data_file(tmp_path):
    (tmp_path / "a.raw").write_bytes(bytes(range(120)))
    assert read_volume(_mhd(tmp_path / "a.mhd", "a.raw")).array.sum() == sum(range(120))


@pytest.mark.parametrize("data_file", ["/etc/passwd", "../outside.raw", "/dev/zero"])
def test_mhd_data_file_outside_its_folder_is_refused(tmp_path, data_file):
    (tmp_path / "outside.raw").write_bytes(bytes(120))
    (tmp_path / "in").mkdir()
    _refused(_mhd(tmp_path / "in" / "a.mhd", data_file), "outside the header's folder")


def test_mhd_data_file_linking_out_of_its_folder_is_refused(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.raw").symlink_to("/etc/passwd")
    _refused(_mhd(tmp_path / "in" / "a.mhd", "a.raw"), "outside the header's folder")


def test_image_header_larger_than_memory_is_refused_before_reading(tmp_path):
    (tmp_path / "a.raw").write_bytes(bytes(120))
    _refused(_mhd(tmp_path / "a.mhd", "a.raw", dims="100000 100000 100000"), "memory")


def test_mhd_with_nan_spacing_is_refused(tmp_path):
    (tmp_path / "a.raw").write_bytes(bytes(120))
    _refused(_mhd(tmp_path / "a.mhd", "a.raw", spacing="nan 1 1"))


def test_info_lists_a_fifo_path_as_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "p.nii.gz")
    with pytest.raises(VolumeReadError, match="not a regular file"):
        list_series(tmp_path / "p.nii.gz")


def test_truncated_mhd_data_is_one_line_of_ours_without_itk_chatter(tmp_path, capfd):
    (tmp_path / "a.raw").write_bytes(bytes(100))
    capfd.readouterr()
    _refused(_mhd(tmp_path / "a.mhd", "a.raw"), "100 bytes, 120 needed")
    assert "MetaImage" not in capfd.readouterr().err


def test_a_grid_a_kilometre_away_is_not_written(tmp_path):
    far = np.eye(4)
    far[0, 3] = 1e300
    ref = Volume(np.zeros((3, 4, 5), np.int16), far)
    for name in ("x.nii.gz", "x.nrrd"):  # NIfTI would store inf (float32), NRRD a nonsense origin
        with pytest.raises(MedsegError, match="mm away"):
            write_volume(tmp_path / name, ref.array, ref)
        assert not (tmp_path / name).exists()


def test_positions_a_kilometre_away_are_refused(tmp_path):
    written, _ = _series(tmp_path / "s", n=1)
    _refused(_edit(written.paths[0], ImagePositionPatient=["1e308", "1e308", "1e308"]), "ImagePositionPatient")


@pytest.mark.parametrize("name", ["big.nii", "big.nii.gz"])
def test_nifti_header_promising_more_than_the_file_can_hold_is_refused_before_allocating(tmp_path, name):
    path = _nifti(tmp_path / name, np.zeros((4, 5, 6), np.uint8))
    raw = path.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    hdr = np.frombuffer(bytearray(raw[:348]), dtype=nib.Nifti1Header.template_dtype).copy()
    hdr["dim"] = [3, 2000, 2000, 2000, 1, 1, 1, 1]  # 8 GB promised
    raw = hdr.tobytes() + raw[348:]
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    _refused(path, "cannot hold")


@pytest.mark.parametrize(
    "source",
    [
        NIBABEL_DATA / "example4d.nii.gz",  # scaled int16 in nibabel's test data (4D: first volume kept apart)
        NIBABEL_DATA / "standard.nii.gz",
        Path(__file__).resolve().parents[1]
        / "src"
        / "napari_medseg"
        / "sample_data"
        / "brain_mri"
        / "mni152_t1_2mm.nii.gz",
    ],
)
def test_gz_voxels_read_in_chunks_equal_nibabels(tmp_path, source):
    img = nib.load(source)
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4:
        img = nib.Nifti1Image(np.asanyarray(img.dataobj.get_unscaled())[..., 0], img.affine, img.header)
        img.header.set_slope_inter(0.5, -3)
        img.to_filename(tmp_path / "one.nii.gz")
        source, data = tmp_path / "one.nii.gz", np.asanyarray(nib.load(tmp_path / "one.nii.gz").dataobj)
    vol = read_volume(source)
    back = vol.to_file_order()
    assert back.dtype == data.dtype and np.array_equal(back, data.reshape(back.shape))


def test_cut_off_compressed_dicom_is_refused_before_gdcm_tries_it(tmp_path):
    """GDCM read such a file into 3.7 GB before failing (fuzz run after the decoder fallback landed)."""
    from pydicom.data import get_testdata_file

    from napari_medseg.errors import VolumeReadError
    from napari_medseg.io import read_volume

    data = Path(get_testdata_file("MR_small_RLE.dcm")).read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 3000])
    with pytest.raises(VolumeReadError, match="compressed pixel data has no end"):
        read_volume(cut)
