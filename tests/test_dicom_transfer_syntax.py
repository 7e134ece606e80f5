"""Every common DICOM encoding decodes to the same voxels as SimpleITK (GDCM).

Series are encoded inside the tests: with pydicom's own encoders (JPEG 2000, RLE, deflate)
and with Debian's dcmtk tools (``apt-get install dcmtk``: dcmcjpeg, dcmcjpls, dcmcrle) for
JPEG Lossless, JPEG-LS and 12-bit JPEG Extended; a test whose tool is absent is skipped.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from dicom_factory import oblique_iop, write_series
from napari_medseg.cli import main
from napari_medseg.errors import VolumeReadError
from napari_medseg.io import list_series, read_volume

INTERCEPT = -1024
#: TransferSyntaxUID -> dcmtk command that writes it (input and output file appended).
DCMTK = {
    "1.2.840.10008.1.2.4.70": ["dcmcjpeg", "+e1"],  # JPEG Lossless, first-order prediction (SV1)
    "1.2.840.10008.1.2.4.57": ["dcmcjpeg", "+el"],  # JPEG Lossless
    "1.2.840.10008.1.2.4.51": ["dcmcjpeg", "+ee", "+q", "95"],  # JPEG Extended, 12 bit, lossy
    "1.2.840.10008.1.2.4.80": ["dcmcjpls", "+el"],  # JPEG-LS lossless
    "1.2.840.10008.1.2.4.81": ["dcmcjpls", "+en"],  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.5": ["dcmcrle"],  # RLE
    "1.2.840.10008.1.2.1.99": ["dcmconv", "+td"],  # deflated explicit VR little endian
}
LOSSY = {"1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81"}


@pytest.fixture(scope="module")
def stored():
    """12-bit CT stored values (0..4095, intercept -1024), 5 slices of 48 x 64."""
    rng = np.random.default_rng(4)
    smooth = np.cumsum(rng.integers(-40, 41, size=(5, 48, 64)), axis=2)  # image-like, so lossy codecs stay close
    return np.clip(2000 + smooth, 0, 4095).astype(np.uint16)


def _write_raw(folder, stored):
    written = write_series(
        folder,
        stored,
        iop=oblique_iop(),
        pixel_spacing=(0.8, 0.7),
        slice_spacing=1.5,
        intercept=INTERCEPT,
        instance_order="reversed",
    )
    for path in written.paths:  # 12 bits stored, as CT scanners write them
        ds = pydicom.dcmread(path)
        ds.BitsStored, ds.HighBit = 12, 11
        ds.save_as(path)
    return written


def _simpleitk(folder) -> np.ndarray:
    """SimpleITK's series in ITK index order (column, row, slice): our file voxel order."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute()).transpose(2, 1, 0)


def _check(folder, stored, syntax: str) -> None:
    assert {str(pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID) for p in folder.iterdir()} == {
        syntax
    }
    volume = read_volume(folder)
    ours = volume.to_file_order()
    np.testing.assert_array_equal(ours, _simpleitk(folder))
    if syntax not in LOSSY:
        expected = stored.astype(np.int32).transpose(2, 1, 0) + INTERCEPT  # slices stack in file order here
        np.testing.assert_array_equal(ours, expected)
    (summary,) = list_series(folder)
    assert summary.transfer_syntaxes == [syntax] and summary.decodable is True


@pytest.mark.parametrize("syntax", list(DCMTK))
def test_dcmtk_encodings_decode_equal_to_simpleitk(tmp_path, stored, syntax):
    tool = DCMTK[syntax]
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} (Debian dcmtk) is not installed")
    raw = _write_raw(tmp_path / "raw", stored)
    (tmp_path / "encoded").mkdir()
    for path in raw.paths:
        subprocess.run([*tool, str(path), str(tmp_path / "encoded" / path.name)], check=True, capture_output=True)
    _check(tmp_path / "encoded", stored, syntax)


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, RLELossless, DeflatedExplicitVRLittleEndian])
def test_pydicom_encodings_decode_equal_to_simpleitk(tmp_path, stored, syntax):
    raw = _write_raw(tmp_path / "raw", stored)
    (tmp_path / "encoded").mkdir()
    for path in raw.paths:
        ds = pydicom.dcmread(path)
        if syntax == DeflatedExplicitVRLittleEndian:
            ds.file_meta.TransferSyntaxUID = syntax
        else:
            ds.compress(syntax)
        ds.save_as(tmp_path / "encoded" / path.name, enforce_file_format=True)
    _check(tmp_path / "encoded", stored, str(syntax))


def test_a_deflated_series_beside_another_is_listed_not_dropped(tmp_path, stored):
    _write_raw(tmp_path / "study" / "plain", stored)
    deflated = _write_raw(tmp_path / "deflated", stored[:3])
    for path in deflated.paths:
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(tmp_path / "study" / f"d_{path.name}", enforce_file_format=True)
    found = {s.series_uid: s for s in list_series(tmp_path / "study")}
    assert found[deflated.series_uid].shape is not None and found[deflated.series_uid].n_files == 3
    assert found[deflated.series_uid].transfer_syntaxes == [str(DeflatedExplicitVRLittleEndian)]


def test_info_names_the_encoding_and_says_when_it_cannot_be_decoded(tmp_path, stored, capsys):
    raw = _write_raw(tmp_path / "raw", stored)
    (tmp_path / "video").mkdir()
    for path in raw.paths:  # pixel data labelled with a video transfer syntax nothing here decodes
        ds = pydicom.dcmread(path)
        ds.compress(RLELossless)
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 Main Profile
        ds.save_as(tmp_path / "video" / path.name, enforce_file_format=True)
    assert main(["info", str(tmp_path / "video")]) == 0
    out = capsys.readouterr().out
    assert "transfer syntax: MPEG2 Main Profile / Main Level (1.2.840.10008.1.2.4.100) -- CANNOT BE DECODED" in out
    (summary,) = list_series(tmp_path / "video")
    assert summary.decodable is False and any("cannot be decoded" in w for w in summary.warnings)
    with pytest.raises(VolumeReadError, match="cannot decode pixel data"):
        read_volume(tmp_path / "video")
    assert main(["info", str(tmp_path / "raw")]) == 0
    assert "transfer syntax: Explicit VR Little Endian (1.2.840.10008.1.2.1)\n" in capsys.readouterr().out
