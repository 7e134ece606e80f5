"""No command writes onto its inputs, and every output path is checked before any model runs."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

import napari_medseg.models.segment as model_segment
from napari_medseg.cli import main


def _labels(path, value: int = 1):
    data = np.zeros((6, 7, 8), np.uint8)
    data[2:4, 2:5, 3:6] = value
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), path)
    return path


@pytest.fixture
def no_model(monkeypatch):
    """Any attempt to build or run a model fails the test: the refusal must come first."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was loaded before the output path was checked")

    monkeypatch.setattr(model_segment, "load_pipeline", forbidden)
    monkeypatch.setattr(model_segment, "segment_volume", forbidden)


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("which", ["pred", "ref"])
def test_evaluate_csv_pointing_at_an_input_is_refused_and_the_input_kept(tmp_path, capsys, which):
    paths = {"pred": _labels(tmp_path / "pred.nii.gz"), "ref": _labels(tmp_path / "ref.nii.gz")}
    before = paths[which].read_bytes()
    assert main(["evaluate", str(paths["pred"]), str(paths["ref"]), "--csv", str(paths[which])]) == 1
    _one_line_error(capsys, "input")
    assert paths[which].read_bytes() == before


def test_segment_folder_onto_its_input_folder_is_refused_before_the_model(tmp_path, capsys, no_model):
    cases = tmp_path / "cases"
    cases.mkdir()
    _labels(cases / "a.nii.gz")
    for out in (cases, cases / "labels"):
        assert main(["segment", str(cases), "--model", "brain-tissue", "--out", str(out)]) == 1
        _one_line_error(capsys, "input folder")
    assert sorted(p.name for p in cases.iterdir()) == ["a.nii.gz"]


def test_segment_output_onto_the_input_file_is_refused_before_the_model(tmp_path, capsys, no_model):
    image = _labels(tmp_path / "image.nii.gz")
    before = image.read_bytes()
    assert main(["segment", str(image), "--model", "brain-tissue", "--out", str(image)]) == 1
    _one_line_error(capsys, "input")
    assert image.read_bytes() == before


@pytest.mark.parametrize("where", ["under_a_file", "proc", "folder"])
def test_unwritable_output_is_refused_before_the_model(tmp_path, capsys, no_model, where):
    image = _labels(tmp_path / "image.nii.gz")
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "dir.nii.gz").mkdir()
    out = {
        "under_a_file": tmp_path / "plain.txt" / "out.nii.gz",
        "proc": "/proc/medseg-out.nii.gz",
        "folder": tmp_path / "dir.nii.gz",
    }[where]
    assert main(["segment", str(image), "--model", "brain-tissue", "--out", str(out)]) == 1
    _one_line_error(capsys, str(out))


def test_convert_onto_its_input_is_refused(tmp_path, capsys):
    image = _labels(tmp_path / "image.nii.gz")
    before = image.read_bytes()
    assert main(["convert", str(image), str(image)]) == 1
    _one_line_error(capsys, "input")
    assert image.read_bytes() == before


def test_convert_into_a_new_folder_still_works(tmp_path):
    image = _labels(tmp_path / "image.nii.gz")
    assert main(["convert", str(image), str(tmp_path / "new" / "image.nrrd")]) == 0
    assert (tmp_path / "new" / "image.nrrd").is_file()


def test_a_dicom_file_of_the_input_folder_is_never_an_output_but_a_new_file_there_is_fine(tmp_path, capsys):
    from dicom_factory import write_series

    written = write_series(tmp_path / "series", np.zeros((2, 4, 5), np.int16))
    before = written.paths[0].read_bytes()
    assert main(["convert", str(tmp_path / "series"), str(written.paths[0]) + ".nii"]) == 0  # a new file: fine
    capsys.readouterr()  # its 'wrote ...' line goes to stderr
    target = tmp_path / "series" / "slice_000.dcm.nii"
    assert main(["convert", str(tmp_path / "series"), str(target)]) == 1  # now it would be one of the inputs
    _one_line_error(capsys, "inside the input folder")
    assert written.paths[0].read_bytes() == before
