"""Adapting LiteMedSAM to one structure: training, the base left alone, save/load, CLI."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from napari_medseg.cli import main
from napari_medseg.errors import MedsegError
from napari_medseg.models.sam import InteractiveSession, load_predictor
from napari_medseg.models.sam.adapter import AdaptationCancelled, adapt, adapted_predictor, held_out_slices
from napari_medseg.models.sam.adapter_store import CARD, WEIGHTS, list_adapters, load_adapter, save_adapter
from test_sam_model import dice


def ring_phantom(shape=(10, 96, 96), seed=0):
    """CT-like (Z, Y, X) HU volume with a bright disc whose structure is only its outer ring
    (the box around the ring holds the whole disc: box-prompted SAM takes the core too)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in shape], indexing="ij")
    vol = np.full(shape, -1000.0, np.float32)
    vol[(y / 44) ** 2 + (x / 44) ** 2 <= 1] = 40.0
    r = np.hypot(y + 4, x - 8)
    disc = (r <= 22) & (np.abs(z) <= 3.6)
    ring = disc & (r >= 12)
    vol[disc] = 120.0
    vol[ring] = 220.0
    return vol + rng.normal(0, 8, shape).astype(np.float32), ring


@pytest.fixture(scope="module")
def predictor():
    torch.set_num_threads(2)
    return load_predictor("litemedsam", device="cpu")


@pytest.fixture(scope="module")
def trained(predictor):
    vol, ring = ring_phantom()
    session = InteractiveSession(predictor, vol)
    before = {k: v.clone() for k, v in predictor.network.state_dict().items()}
    indices = np.flatnonzero(ring.any(axis=(1, 2)))
    adapter = adapt(
        predictor,
        session.volume.stack(0),
        ring,
        indices,
        label=3,
        steps=30,
        lr=1e-3,
        flips=False,
        held_out=[],
        keys=session.volume.key_function(0),
        record={"label_name": "ring"},
    )
    return vol, ring, session, before, adapter


def test_adapting_lowers_the_loss_and_changes_the_masks(predictor, trained):
    vol, ring, session, _, adapter = trained
    assert adapter.card["loss_last"] < 0.8 * adapter.card["loss_first"]
    adapted = adapted_predictor(predictor, adapter)
    k = int(np.flatnonzero(ring.any(axis=(1, 2)))[3])
    stack = session.volume.stack(0)
    embedding = predictor.embed([stack[k]], [session.volume.key_function(0)(k)])[0]
    geo, box = predictor.transform.geometry(96, 96), [[24, 18, 80, 74]]
    base_mask = predictor.decode_boxes(embedding, geo, box)[0][0]
    adapted_mask = adapted.decode_boxes(embedding, geo, box)[0][0]
    assert dice(adapted_mask, ring[k]) > dice(base_mask, ring[k]) + 0.05


def test_the_base_network_is_never_modified(predictor, trained):
    *_, before, adapter = trained
    after = predictor.network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in predictor.network.parameters())  # no gradients left on the base either
    adapted = adapted_predictor(predictor, adapter)
    assert adapted.network.mask_decoder is not predictor.network.mask_decoder
    assert adapted.network.image_encoder is predictor.network.image_encoder  # shared encoder, shared cache
    assert adapted.cache is predictor.cache and adapted.network.model_id == predictor.network.model_id


def test_save_load_round_trip_and_wrong_base_refused(predictor, trained, tmp_path):
    *_, adapter = trained
    folder = save_adapter(adapter, tmp_path / "ring")
    card = json.loads((folder / CARD).read_text())
    assert card["label"] == 3 and card["label_name"] == "ring" and "not a validated model" in card["statement"]
    loaded = load_adapter(folder, predictor.network.model_id.split(":")[-1])
    assert loaded.state.keys() == adapter.state.keys()
    assert all(torch.equal(loaded.state[k], adapter.state[k]) for k in adapter.state)
    assert [p for p, _ in list_adapters(tmp_path)] == [folder]

    card["base_sha256"] = "0" * 64
    (folder / CARD).write_text(json.dumps(card))
    with pytest.raises(MedsegError, match="trained on litemedsam"):
        load_adapter(folder, predictor.network.model_id.split(":")[-1])
    with pytest.raises(ValueError, match="base model"):
        adapted_predictor(predictor, load_adapter(folder))

    card["base_sha256"] = predictor.network.model_id.split(":")[-1]
    (folder / CARD).write_text(json.dumps(card))
    (folder / WEIGHTS).write_bytes((folder / WEIGHTS).read_bytes() + b"x")
    with pytest.raises(MedsegError, match="weights were changed"):
        load_adapter(folder)


def test_held_out_slices_are_a_fifth_spread_inside():
    assert held_out_slices([1, 2, 3, 4]) == []
    assert held_out_slices([10, 11, 12, 13, 14]) == [12]
    assert held_out_slices(range(10)) == [3, 6]


def test_cli_adapt_then_segment_with_the_adapter(tmp_path, capsys):
    vol, ring = ring_phantom(shape=(10, 96, 96), seed=1)
    affine = np.diag([1.5, 1.5, 3.0, 1.0])
    # file axes (i, j, k) = (x, y, z): K is the slice axis
    nib.save(nib.Nifti1Image(vol.transpose(2, 1, 0), affine), tmp_path / "ct.nii.gz")
    nib.save(nib.Nifti1Image((ring * 4).astype(np.uint8).transpose(2, 1, 0), affine), tmp_path / "seg.nii.gz")
    ks = np.flatnonzero(ring.any(axis=(1, 2)))
    out = tmp_path / "adapter"
    assert (
        main(
            [
                "adapt",
                str(tmp_path / "ct.nii.gz"),
                str(tmp_path / "seg.nii.gz"),
                "--label",
                "4",
                "--slices",
                ",".join(map(str, ks)),
                "--steps",
                "4",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    card = json.loads((out / CARD).read_text())
    assert card["slices_file_k"] == ks.tolist() and card["label"] == 4 and len(card["held_out"]) == 2  # a fifth of 8
    assert "written to" in capsys.readouterr().out

    assert (
        main(
            [
                "adapt",
                str(tmp_path / "ct.nii.gz"),
                str(tmp_path / "seg.nii.gz"),
                "--label",
                "4",
                "--slices",
                "0",
                "--out",
                str(tmp_path / "bad"),
            ]
        )
        == 1
    )
    assert "absent from slice" in capsys.readouterr().err
    assert (
        main(["adapt", str(tmp_path / "ct.nii.gz"), str(tmp_path / "seg.nii.gz"), "--label", "4", "--out", str(out)])
        == 1
    )
    assert "never overwritten" in capsys.readouterr().err

    k = int(ks[len(ks) // 2])
    rows, cols = np.nonzero(ring[k])
    box = f"{cols.min()},{rows.min()},{ks[0]},{cols.max()},{rows.max()},{ks[-1]}"
    seg = tmp_path / "out.nii.gz"
    assert (
        main(
            [
                "segment",
                str(tmp_path / "ct.nii.gz"),
                "--model",
                "litemedsam",
                "--adapter",
                str(out),
                "--label",
                "4",
                "--box",
                box,
                "--out",
                str(seg),
                "--quiet",
            ]
        )
        == 0
    )
    result = np.asarray(nib.load(seg).dataobj).transpose(2, 1, 0)
    assert set(np.unique(result)) <= {0, 4} and (result == 4).sum() > 0.3 * ring.sum()
    assert (
        main(
            [
                "segment",
                str(tmp_path / "ct.nii.gz"),
                "--model",
                "litemedsam",
                "--adapter",
                str(out),
                "--box",
                box,
                "--out",
                str(seg),
                "--quiet",
            ]
        )
        == 1
    )
    assert "learned label 4" in capsys.readouterr().err

    assert main(["models", "--adapters", str(tmp_path)]) == 0
    assert "adapter" in capsys.readouterr().out


def test_cancel_stops_adapting_and_progress_counts_up(predictor, trained):
    _, ring, session, *_ = trained
    seen, polls = [], iter(range(1000))
    with pytest.raises(AdaptationCancelled):
        adapt(
            predictor,
            session.volume.stack(0),
            ring,
            np.flatnonzero(ring.any(axis=(1, 2))),
            label=3,
            steps=50,
            flips=False,
            keys=session.volume.key_function(0),
            progress=lambda d, t: seen.append((d, t)),
            cancel=lambda: next(polls) >= 4,
        )
    assert [d for d, _ in seen] == [1, 2, 3, 4] and seen[0][1] > 50


def test_segment_refuses_an_adapter_for_a_unet_model(tmp_path, capsys):
    vol, _ = ring_phantom(shape=(4, 32, 32))
    nib.save(nib.Nifti1Image(vol.transpose(2, 1, 0), np.eye(4)), tmp_path / "ct.nii.gz")
    assert (
        main(
            [
                "segment",
                str(tmp_path / "ct.nii.gz"),
                "--model",
                "brain-tissue",
                "--adapter",
                str(tmp_path),
                "--out",
                str(tmp_path / "o.nii.gz"),
            ]
        )
        == 1
    )
    assert "--adapter works with SAM models" in capsys.readouterr().err
