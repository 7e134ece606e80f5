"""DICOM as it arrives on media and from dynamic scans: DICOMDIR files and multi-phase series."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest

from dicom_factory import write_series
from napari_medseg.cli import main
from napari_medseg.errors import VolumeReadError
from napari_medseg.io import list_series, read_volume

DICOMDIR_TESTS = Path(pydicom.data.get_testdata_file("CT_small.dcm")).parent / "dicomdirtests"


def test_a_dicomdir_opens_the_series_it_lists(tmp_path):
    by_dir = {s.series_id: s.as_dict() for s in list_series(DICOMDIR_TESTS / "DICOMDIR")}
    by_folder = {s.series_id: s.as_dict() for s in list_series(DICOMDIR_TESTS)}
    assert len(by_dir) >= 3 and by_dir == by_folder
    ct5n = next(s for s in list_series(DICOMDIR_TESTS / "DICOMDIR") if s.n_files == 5 and s.modality == "CT")
    assert read_volume(DICOMDIR_TESTS / "DICOMDIR", series=ct5n.series_uid).shape[0] == 5


def test_a_dicomdir_whose_files_are_missing_says_so(tmp_path):
    (tmp_path / "DICOMDIR").write_bytes((DICOMDIR_TESTS / "DICOMDIR").read_bytes())
    with pytest.raises(VolumeReadError, match="none of which is beside it"):
        read_volume(tmp_path / "DICOMDIR")


def _two_phases(folder, key: str, values=(1, 2)):
    """Two acquisitions of the same slices in one SeriesInstanceUID, told apart by ``key``."""
    rng = np.random.default_rng(5)
    phases = [rng.integers(0, 1000, (4, 12, 14)).astype(np.int16) for _ in values]
    first = write_series(folder / "a", phases[0], slice_spacing=2.0)
    write_series(
        folder / "b", phases[1], slice_spacing=2.0, series_uid=first.series_uid, study_uid="1.2.3", frame_uid="1.2.3.4"
    )
    for sub, value in zip(("a", "b"), values):
        for path in sorted((folder / sub).iterdir()):
            ds = pydicom.dcmread(path)
            setattr(ds, key, value)
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
            ds.save_as(path)
    return first.series_uid, phases


@pytest.mark.parametrize("key", ["TemporalPositionIdentifier", "AcquisitionNumber"])
def test_a_two_phase_series_splits_into_phases_the_user_can_pick(tmp_path, key, capsys):
    uid, phases = _two_phases(tmp_path, key, values=(2, 1) if key == "AcquisitionNumber" else (1, 2))
    found = list_series(tmp_path)
    assert [s.series_uid for s in found] == [uid, uid]  # the true SeriesInstanceUID, and a part index
    assert [(s.series_id, s.part, s.n_parts) for s in found] == [(f"{uid}.1", 1, 2), (f"{uid}.2", 2, 2)]
    assert all(s.shape[2] == 4 for s in found)  # both phases whole (4 slices); no slice reported as duplicated
    assert f"split into 2 parts by phase ({key})" in found[0].warnings[0]
    assert not any("duplicate" in w or "same position" in w for s in found for w in s.warnings)
    in_order = phases[::-1] if key == "AcquisitionNumber" else phases  # phases come in ascending order
    for k, summary in enumerate(found):
        volume = read_volume(tmp_path, series=summary.series_id)
        np.testing.assert_array_equal(volume.to_file_order().transpose(2, 1, 0), in_order[k])
        assert f"phase {key} = {k + 1}" in " ".join(volume.meta["warnings"])
    capsys.readouterr()
    assert main(["info", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["series"]
    assert [(e["series_uid"], e["part"], e["n_parts"], e["series_id"]) for e in listed] == [
        (uid, 1, 2, f"{uid}.1"),
        (uid, 2, 2, f"{uid}.2"),
    ]
    assert main(["convert", str(tmp_path), str(tmp_path / "p2.nii.gz"), "--series", f"{uid}.2"]) == 0
    np.testing.assert_array_equal(
        read_volume(tmp_path / "p2.nii.gz").array, read_volume(tmp_path, series=f"{uid}.2").array
    )


def test_acquisition_numbers_that_differ_per_slice_do_not_split_a_series(tmp_path):
    written = write_series(tmp_path, np.zeros((5, 8, 8), np.int16))
    for k, path in enumerate(written.paths):
        ds = pydicom.dcmread(path)
        ds.AcquisitionNumber = k + 1  # some scanners number each slice's acquisition
        ds.save_as(path)
    (summary,) = list_series(tmp_path)
    assert summary.series_uid == written.series_uid and summary.shape[2] == 5 and summary.part is None
