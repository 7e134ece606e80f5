"""Folder -> folder segmentation: every case on its own grid, failures reported, resumable, Dask."""

from __future__ import annotations

import csv
import shutil

import nibabel as nib
import numpy as np
import pytest

from napari_medseg.cli import main
from napari_medseg.samples import brain_mri_paths

pytestmark = pytest.mark.slow  # each test runs a model on a volume


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """Two MRI cases (the sample, and a cropped copy stored with flipped axes) and a broken file."""
    folder = tmp_path_factory.mktemp("cases")
    t1_path, _ = brain_mri_paths()
    shutil.copy(t1_path, folder / "subject_a.nii.gz")
    img = nib.load(t1_path)
    data = np.asanyarray(img.dataobj)[10:80, 12:100, 8:90]
    affine = img.affine.copy()
    affine[:3, 3] = nib.affines.apply_affine(img.affine, [10, 12, 8])
    flip = np.diag([-1.0, 1.0, -1.0, 1.0])
    flip[:3, 3] = [data.shape[0] - 1, 0, data.shape[2] - 1]  # index map of the flips
    nib.save(nib.Nifti1Image(data[::-1, :, ::-1].copy(), affine @ flip), folder / "subject_b.nii")
    (folder / "broken.nii.gz").write_bytes(b"not a nifti file")
    (folder / "notes.txt").write_text("not a volume: ignored")
    return folder


def read_report(path):
    with open(path, newline="") as f:
        return {row["case"]: row for row in csv.DictReader(f)}


def read_volumes(path):
    with open(path, newline="") as f:
        return {(row["case"], row["label"]): row for row in csv.DictReader(f)}


def test_every_case_is_segmented_on_its_own_grid_and_a_broken_case_is_reported(cases, tmp_path, capsys):
    from napari_medseg.io import read_volume
    from napari_medseg.models.segment import segment_volume

    out = tmp_path / "labels"
    status = main(["segment", str(cases), "--model", "brain-tissue", "--out", str(out), "--device", "cpu"])
    err = capsys.readouterr().err
    assert status == 4  # one case failed, the others were written
    assert err.strip().splitlines()[-1].startswith("medseg segment: 1 of 3 cases failed")
    report = read_report(out / "segment_report.csv")
    assert {k: v["status"] for k, v in report.items()} == {"broken": "failed", "subject_a": "done", "subject_b": "done"}
    assert "broken.nii.gz" in report["broken"]["message"]
    assert not (out / "broken.nii.gz").exists()
    for name, source in (("subject_a", cases / "subject_a.nii.gz"), ("subject_b", cases / "subject_b.nii")):
        written, src = nib.load(out / f"{name}.nii.gz"), nib.load(source)
        assert written.shape == src.shape
        np.testing.assert_allclose(written.affine, src.affine, atol=1e-5)
        volume = read_volume(source)
        expected = volume.to_file_order(segment_volume(volume, "brain-tissue", device="cpu").labels)
        np.testing.assert_array_equal(np.asanyarray(written.dataobj), expected)  # the single-case result
        assert set(np.unique(expected)) == {0, 1, 2, 3}
    volumes = read_volumes(out / "segment_volumes.csv")
    assert set(volumes) == {(case, label) for case in ("subject_a", "subject_b") for label in ("1", "2", "3")}
    for (case, label), row in volumes.items():  # each tissue's volume in the written file, in ml
        written = nib.load(out / f"{case}.nii.gz")
        voxels = np.count_nonzero(np.asanyarray(written.dataobj) == int(label))
        assert float(row["volume_ml"]) == pytest.approx(voxels * np.prod(written.header.get_zooms()) / 1000, abs=1e-3)
        assert row["name"] == {"1": "grey matter", "2": "white matter", "3": "CSF"}[label]


def test_existing_outputs_are_kept_unless_overwrite(cases, tmp_path):
    from napari_medseg.batch import segment_folder

    out = tmp_path / "labels"
    only_a = tmp_path / "one"
    only_a.mkdir()
    shutil.copy(cases / "subject_a.nii.gz", only_a)
    first = segment_folder(only_a, out, "brain-tissue", device="cpu")
    stamp = (out / "subject_a.nii.gz").stat().st_mtime_ns
    again = segment_folder(only_a, out, "brain-tissue", device="cpu")
    assert [r.status for r in first] == ["done"] and [r.status for r in again] == ["skipped"]
    assert again[0].volumes_ml == pytest.approx(first[0].volumes_ml)  # measured from the kept file
    assert read_volumes(out / "segment_volumes.csv").keys() == {("subject_a", label) for label in ("1", "2", "3")}
    assert (out / "subject_a.nii.gz").stat().st_mtime_ns == stamp
    redone = segment_folder(only_a, out, "brain-tissue", device="cpu", overwrite=True)
    assert [r.status for r in redone] == ["done"]
    assert (out / "subject_a.nii.gz").stat().st_mtime_ns != stamp


def test_a_model_that_cannot_run_stops_the_batch_before_any_case(cases, tmp_path, capsys):
    out = tmp_path / "labels"
    assert main(["segment", str(cases), "--model", "no-such-model", "--out", str(out), "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-model" in err[0]
    assert not list(out.glob("*.nii.gz"))
    assert main(["segment", str(cases), "--model", "litemedsam", "--out", str(out)]) == 1
    assert "one volume at a time" in capsys.readouterr().err


def test_a_dask_cluster_gives_the_labels_of_the_local_run(cases, tmp_path):
    distributed = pytest.importorskip("distributed")
    from napari_medseg.batch import segment_folder

    local = segment_folder(cases, tmp_path / "local", "brain-tissue", device="cpu")
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = segment_folder(cases, tmp_path / "dask", "brain-tissue", device="cpu", client=client)
    assert [(r.case, r.status) for r in remote] == [(r.case, r.status) for r in local]
    for r in remote:
        if r.status == "done":
            np.testing.assert_array_equal(
                np.asanyarray(nib.load(r.output).dataobj),
                np.asanyarray(nib.load(tmp_path / "local" / f"{r.case}.nii.gz").dataobj),
            )


def test_an_unreadable_kept_output_is_reported_not_trusted(cases, tmp_path):
    from napari_medseg.batch import segment_folder

    only_a = tmp_path / "one"
    only_a.mkdir()
    shutil.copy(cases / "subject_a.nii.gz", only_a)
    out = tmp_path / "labels"
    out.mkdir()
    (out / "subject_a.nii.gz").write_bytes(b"half a file from another tool")
    [result] = segment_folder(only_a, out, "brain-tissue", device="cpu")
    assert result.status == "failed" and "use overwrite" in result.message
    assert read_report(out / "segment_report.csv")["subject_a"]["status"] == "failed"
    assert read_volumes(out / "segment_volumes.csv") == {}
