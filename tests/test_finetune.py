"""Fine-tuning a U-Net bundle on corrected labels: data on the network's grid, a new trusted bundle, cancel."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from dataclasses import replace

import nibabel as nib
import numpy as np
import pytest
import torch

from napari_medseg.cli import main
from napari_medseg.errors import MedsegError
from napari_medseg.models.registry import SHIPPED
from napari_medseg.models.segment import load_pipeline
from napari_medseg.models.unet import trust
from napari_medseg.models.unet.finetune import (
    RECORD_NAME,
    FinetuneCancelled,
    TrainingCase,
    TrainingSettings,
    finetune_bundle,
    preprocessed_pair,
    random_patch,
)
from napari_medseg.samples import brain_mri_paths, load_brain_mri

BASE_WEIGHTS = SHIPPED["brain-tissue"] / "models" / "model.pt"
QUICK = TrainingSettings(epochs=1, patches_per_case=2, patch_size=(32, 32, 32))


@pytest.fixture(autouse=True)
def _own_trust_record(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture(scope="module")
def sample_case():
    torch.set_num_threads(2)
    t1, labels = load_brain_mri()
    return TrainingCase(t1, labels, "sample")


@pytest.fixture
def on_sample_grid(tmp_path):
    """The shipped bundle set to work at 2 mm, the sample's own RAS grid (the shipped one works at 1.5 mm).

    Nearest-neighbour labels from 2 mm onto 1.5 mm meet exact ties every other voxel, where
    rounding, not geometry, picks the side; on the file's own grid every label must survive exactly.
    """
    root = tmp_path / "brain_tissue_2mm"
    shutil.copytree(SHIPPED["brain-tissue"], root)
    cfg_path = root / "configs" / "inference.json"
    cfg = json.loads(cfg_path.read_text())
    (spacing,) = [t for t in cfg["preprocessing"]["transforms"] if t["_target_"] == "Spacingd"]
    spacing["pixdim"] = [2.0, 2.0, 2.0]
    cfg_path.write_text(json.dumps(cfg))
    return load_pipeline(root, trust_bundle=True)


def test_labels_land_on_the_networks_grid_voxel_for_voxel(sample_case, on_sample_grid):
    """The sample is RAS at 2 mm already: on a 2 mm bundle grid, labels must come back unchanged."""
    image, labels = preprocessed_pair(on_sample_grid, sample_case)
    truth_file_order = np.asarray(nib.load(brain_mri_paths()[1]).dataobj)
    assert image.shape == (1, *truth_file_order.shape) and labels.dtype == torch.int64
    assert np.array_equal(labels.numpy(), truth_file_order)
    assert float(image.min()) == 0.0 and float(image.max()) == 1.0  # the bundle's percentile scaling to 0-1 ran
    assert float((image[0] == 0).float().mean()) > 0.5  # the skull-stripped background stayed 0


def test_labels_follow_the_image_through_reorientation(sample_case, on_sample_grid):
    """A volume stored in another voxel order (flipped, permuted) gives the same training pair."""
    t1, truth = sample_case.image, sample_case.labels
    flipped_t1 = type(t1).from_file_order(
        t1.to_file_order()[::-1].transpose(2, 0, 1), t1.file_affine @ _flip_permute(t1.file_shape)
    )
    flipped_truth = type(truth).from_file_order(
        truth.to_file_order()[::-1].transpose(2, 0, 1), truth.file_affine @ _flip_permute(truth.file_shape)
    )
    pipeline = on_sample_grid
    image_a, labels_a = preprocessed_pair(pipeline, sample_case)
    image_b, labels_b = preprocessed_pair(pipeline, TrainingCase(flipped_t1, flipped_truth, "flipped"))
    assert np.array_equal(labels_a.numpy(), labels_b.numpy())
    assert torch.allclose(image_a, image_b, atol=1e-5)


def _flip_permute(file_shape):
    """Index transform of ``a[::-1].transpose(2, 0, 1)``: new index (p, q, r) is old (n0 - 1 - q, r, p)."""
    t = np.zeros((4, 4))
    t[0, 1], t[0, 3] = -1.0, file_shape[0] - 1
    t[1, 2] = 1.0
    t[2, 0] = 1.0
    t[3, 3] = 1.0
    return t


def test_random_patch_is_centred_on_foreground_and_padded_when_the_image_is_small():
    rng = np.random.default_rng(0)
    image, labels = torch.zeros(1, 40, 40, 20), torch.zeros(40, 40, 20, dtype=torch.long)
    labels[30:33, 5:8, 10:12] = 2
    x, y = random_patch(image, labels, (16, 16, 32), rng, foreground_share=1.0)
    assert x.shape == (1, 16, 16, 32) and y.shape == (16, 16, 32)
    assert (y == 2).sum() == 18  # the whole small structure is inside the patch


def test_finetune_writes_a_new_trusted_bundle_that_segment_runs(sample_case, tmp_path):
    base_sha = hashlib.sha256(BASE_WEIGHTS.read_bytes()).hexdigest()
    out = tmp_path / "tuned"
    seen = []
    result = finetune_bundle([sample_case], "brain-tissue", out, QUICK, progress=lambda f, m: seen.append(f))
    assert result.bundle == out and seen[-1] == 1.0 and seen == sorted(seen)
    assert hashlib.sha256(BASE_WEIGHTS.read_bytes()).hexdigest() == base_sha  # the base is never changed
    base_state = torch.load(BASE_WEIGHTS, weights_only=True)
    new_state = torch.load(out / "models" / "model.pt", weights_only=True)
    assert base_state.keys() == new_state.keys()
    assert any(not torch.equal(base_state[k], new_state[k]) for k in base_state)  # it learned something
    record = json.loads((out / RECORD_NAME).read_text())
    assert record["base_model"] == "brain-tissue" and record["base_weights_sha256"] == base_sha
    assert record["epochs"] == 1 and len(record["loss_per_epoch"]) == 1 and record["cases"][0]["name"] == "sample"
    assert record["weights_sha256"] == hashlib.sha256((out / "models" / "model.pt").read_bytes()).hexdigest()
    metadata = json.loads((out / "configs" / "metadata.json").read_text())
    assert "fine-tuned" in metadata["name"] and "eval_metrics" not in metadata
    assert trust.is_trusted(out) and not trust.is_shipped(out)
    assert (out / "README.md").read_text().startswith("> **Fine-tuned copy** of brain-tissue")

    labels_out = tmp_path / "seg.nii.gz"
    assert (
        main(
            [
                "segment",
                str(brain_mri_paths()[0]),
                "--model",
                str(out),
                "--out",
                str(labels_out),
                "--device",
                "cpu",
                "--quiet",
            ]
        )
        == 0
    )
    assert set(np.unique(np.asarray(nib.load(labels_out).dataobj))) <= {0, 1, 2, 3}


def test_cancel_writes_nothing(sample_case, tmp_path):
    cancel = threading.Event()

    def progress(fraction, message):
        if fraction > 0.1:
            cancel.set()

    with pytest.raises(FinetuneCancelled):
        finetune_bundle(
            [sample_case],
            "brain-tissue",
            tmp_path / "tuned",
            replace(QUICK, epochs=3),
            progress=progress,
            cancel=cancel,
        )
    assert not (tmp_path / "tuned").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "config"] == []  # no temporary folder left


def test_bad_inputs_are_refused_before_training(sample_case, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("keep me")
    with pytest.raises(MedsegError, match="not empty"):
        finetune_bundle([sample_case], "brain-tissue", tmp_path / "full", QUICK)
    assert (tmp_path / "full" / "x.txt").read_text() == "keep me"
    wrong = TrainingCase(sample_case.image, sample_case.labels.with_array(sample_case.labels.array * 3), "wrong")
    with pytest.raises(MedsegError, match="outside the model's classes"):
        finetune_bundle([wrong], "brain-tissue", tmp_path / "a", QUICK)
    with pytest.raises(MedsegError, match="multiple of 16"):
        finetune_bundle([sample_case], "brain-tissue", tmp_path / "c", replace(QUICK, patch_size=(30, 30, 30)))
    assert not (tmp_path / "c").exists()
    with pytest.raises(MedsegError, match="sam model"):
        finetune_bundle([sample_case], "litemedsam", tmp_path / "b", QUICK)


def test_cli_pairs_folders_of_cases_by_name(tmp_path, capsys):
    t1_path, labels_path = brain_mri_paths()
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir(), labels.mkdir()
    (images / "case1.nii.gz").write_bytes(t1_path.read_bytes())
    (labels / "case1.nii.gz").write_bytes(labels_path.read_bytes())
    (images / "lonely.nii.gz").write_bytes(t1_path.read_bytes())
    out = tmp_path / "tuned"
    assert (
        main(
            [
                "finetune",
                str(images),
                str(labels),
                "--model",
                "brain-tissue",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--patches",
                "2",
                "--patch-size",
                "32",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "lonely.nii.gz has no partner" in err and f"--model {out}" in err
    assert [c["name"] for c in json.loads((out / RECORD_NAME).read_text())["cases"]] == ["case1"]
    assert (
        main(["finetune", str(images), str(labels_path), "--model", "brain-tissue", "--out", str(tmp_path / "x")]) == 1
    )
    assert "both be folders" in capsys.readouterr().err


def test_the_loss_summary_names_one_epoch_and_the_change_over_several(tmp_path):
    from napari_medseg.models.unet.finetune import FinetuneResult

    assert FinetuneResult(tmp_path, losses=[0.4861]).loss_summary() == "loss 0.486 (1 epoch)"
    summary = FinetuneResult(tmp_path, losses=[0.612, 0.55, 0.4861]).loss_summary()
    assert summary == "loss 0.612 -> 0.486 over 3 epochs"
