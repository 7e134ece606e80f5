"""`medseg info` and `medseg convert` on DICOM folders and broken files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from dicom_factory import write_series
from napari_medseg.cli import main

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
SERIES_KEYS = {
    "series_uid",
    "series_id",
    "part",
    "n_parts",
    "axes",
    "modality",
    "description",
    "n_files",
    "shape",
    "spacing_mm",
    "warnings",
    "structure_sets",
    "transfer_syntaxes",
    "decodable",
    "series_number",
    "localizer",
}


@pytest.fixture
def two_series(tmp_path):
    rng = np.random.default_rng(5)
    axial = write_series(
        tmp_path / "dicom" / "a",
        rng.integers(0, 900, (6, 12, 10)).astype(np.int16),
        pixel_spacing=(0.5, 0.75),
        slice_spacing=2.0,
        intercept=-1024,
        description="axial CT",
    )
    sag = write_series(
        tmp_path / "dicom" / "b",
        rng.integers(0, 900, (4, 9, 7)).astype(np.int16),
        iop=(0, 1, 0, 0, 0, -1),
        slice_spacing=3.0,
        modality="MR",
        description="sagittal MR",
    )
    return tmp_path / "dicom", axial, sag


def test_info_json_lists_each_series_with_shape_spacing_and_warnings(two_series, capsys):
    folder, axial, sag = two_series
    (folder / "a" / "slice_002.dcm").unlink()  # a missing slice must show up as a warning
    assert main(["info", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"schema_version", "series"} and out["schema_version"] == 1
    by_uid = {s["series_uid"]: s for s in out["series"]}
    assert set(by_uid) == {axial.series_uid, sag.series_uid}
    for entry in out["series"]:
        assert set(entry) == SERIES_KEYS
    ct, mr = by_uid[axial.series_uid], by_uid[sag.series_uid]
    # shapes and spacings in the file's voxel order (column, row, slice), the order --box takes
    assert (ct["modality"], ct["description"], ct["n_files"], ct["shape"]) == ("CT", "axial CT", 5, [10, 12, 5])
    assert ct["axes"] == ["column", "row", "slice"] and ct["spacing_mm"] == [0.75, 0.5, 2.0]
    assert (ct["series_id"], ct["part"], ct["n_parts"]) == (axial.series_uid, None, 1)
    assert any("4 mm between slices 1 and 2" in w for w in ct["warnings"])
    assert (mr["modality"], mr["shape"], mr["spacing_mm"], mr["warnings"]) == ("MR", [7, 9, 4], [1.0, 1.0, 3.0], [])


def test_info_json_for_a_nifti_file_has_one_entry(two_series, tmp_path, capsys):
    folder, axial, _ = two_series
    out_nii = tmp_path / "ct.nii.gz"
    assert main(["convert", str(folder / "a"), str(out_nii)]) == 0
    capsys.readouterr()
    assert main(["info", str(out_nii), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["series"]
    assert set(entry) == SERIES_KEYS and entry["series_uid"] is None
    assert entry["axes"] == ["i", "j", "k"] and entry["shape"] == [10, 12, 6]  # as written: the DICOM's file order
    assert entry["spacing_mm"] == pytest.approx([0.75, 0.5, 2.0])


def test_convert_multi_series_folder_without_series_exits_3_listing_them(two_series, tmp_path, capsys):
    folder, axial, sag = two_series
    out = tmp_path / "out.nii.gz"
    assert main(["convert", str(folder), str(out)]) == 3  # ambiguous input, not a usage error (2)
    err = capsys.readouterr().err
    assert "holds 2 series" in err
    for uid, desc, modality, n in ((axial.series_uid, "axial CT", "CT", 6), (sag.series_uid, "sagittal MR", "MR", 4)):
        line = next(line for line in err.splitlines() if uid in line)
        assert desc in line and modality in line and f"{n} files" in line
    assert not out.exists()


def test_convert_with_series_writes_that_series_on_its_grid(two_series, tmp_path, capsys):
    folder, _, sag = two_series
    out = tmp_path / "sag.nii.gz"
    assert main(["convert", str(folder), str(out), "--series", sag.series_uid]) == 0
    img = nib.load(str(out))
    assert img.shape == (7, 9, 4)  # file voxel order (column, row, slice), as dcm2niix writes it
    ras_first = img.affine @ [0, 0, 0, 1]
    np.testing.assert_allclose(ras_first[:3], sag.positions[0] * [-1, -1, 1], atol=1e-4)
    np.testing.assert_allclose(img.header.get_sform(), img.header.get_qform(), atol=1e-5)


@pytest.mark.parametrize("name", ["MR_truncated.dcm", "no_meta.dcm"])
def test_convert_broken_file_exits_1_with_one_line_naming_it(name, tmp_path, capsys):
    assert main(["convert", str(TEST_FILES / name), str(tmp_path / "x.nii.gz")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medseg convert: ") and name in lines[0]
    assert not (tmp_path / "x.nii.gz").exists()


def test_broken_header_gives_exactly_one_stderr_line_in_a_real_process(tmp_path):
    # badVR.dcm makes pydicom warn about the invalid value: none of that may reach the terminal
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_medseg.cli",
            "convert",
            str(TEST_FILES / "badVR.dcm"),
            str(tmp_path / "x.nii.gz"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "badVR.dcm" in lines[0] and "NumberOfFrames" in lines[0], proc.stderr
    assert not (tmp_path / "x.nii.gz").exists()


def test_info_on_a_folder_without_dicom_says_so_and_fails(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("nothing medical here")
    assert main(["info", str(tmp_path), "--json"]) == 1
    assert "no DICOM image series found" in capsys.readouterr().err
