"""Checkpoint verification and the embedding cache."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from napari_medseg.models.sam import EmbeddingCache, stack_signature
from napari_medseg.models.weights import (
    LITEMEDSAM_SHA256,
    CheckpointError,
    file_sha256,
    litemedsam_checkpoint,
    load_state_dict,
    verify_checkpoint,
)


def test_shipped_litemedsam_checkpoint_has_the_pinned_size_and_hash():
    path = litemedsam_checkpoint()
    assert path.stat().st_size == 39_370_479
    assert LITEMEDSAM_SHA256.startswith("79d8c9dc") and LITEMEDSAM_SHA256.endswith("ce76")


def test_altered_checkpoint_is_refused(tmp_path):
    path = tmp_path / "lite_medsam.pth"
    path.write_bytes(b"x" * 100)
    with pytest.raises(CheckpointError, match="bytes, expected"):
        verify_checkpoint(path, LITEMEDSAM_SHA256, 39_370_479)
    with pytest.raises(CheckpointError, match="SHA-256"):
        verify_checkpoint(path, LITEMEDSAM_SHA256)
    assert file_sha256(path) != LITEMEDSAM_SHA256


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickled_code_in_a_checkpoint_is_not_executed(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"model": _Payload()}, handle)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_state_dict(path)
    nested = tmp_path / "nested.pth"
    torch.save({"model": {"w": torch.ones(2)}}, nested)
    assert list(load_state_dict(nested)) == ["w"]


def test_signature_changes_with_image_model_and_preprocessing():
    vol = np.zeros((2, 8, 8), np.uint8)
    base = stack_signature(vol, "litemedsam:abc", "litemedsam-256-v1")
    edited = vol.copy()
    edited[1, 3, 3] = 1
    assert stack_signature(vol.copy(), "litemedsam:abc", "litemedsam-256-v1") == base
    assert stack_signature(edited, "litemedsam:abc", "litemedsam-256-v1") != base
    assert stack_signature(vol, "litemedsam:def", "litemedsam-256-v1") != base
    assert stack_signature(vol, "litemedsam:abc", "medsam-1024-v1") != base


def test_lru_keeps_the_most_recent_and_disk_cache_survives_a_new_cache(tmp_path):
    cache = EmbeddingCache(max_items=2, directory=tmp_path)
    for i in range(3):
        cache.put(("sig", 0, i), torch.full((2, 2, 2), float(i)))
    assert len(cache) == 2 and cache.get(("sig", 0, 2)) is not None
    fresh = EmbeddingCache(max_items=2, directory=tmp_path)
    assert float(fresh.get(("sig", 0, 0))[0, 0, 0]) == 0.0  # evicted from memory, read back from disk
    assert fresh.get(("other", 0, 0)) is None
    memory_only = EmbeddingCache(max_items=1)
    memory_only.put(("s", 0, 0), torch.zeros(1))
    memory_only.put(("s", 0, 1), torch.zeros(1))
    assert ("s", 0, 0) not in memory_only and ("s", 0, 1) in memory_only


@pytest.mark.slow
def test_user_litemedsam_checkpoint_loads_and_an_incomplete_one_is_refused_with_a_hint(tmp_path):
    from napari_medseg.models.sam import build_network

    nested = tmp_path / "finetuned_litemedsam.pth"
    torch.save({"model": load_state_dict(litemedsam_checkpoint())}, nested)
    net = build_network("litemedsam", nested, device="cpu")  # a user's (fine-tuned) LiteMedSAM file
    assert net.model_id == f"litemedsam:{file_sha256(nested)}" and net.model_id != f"litemedsam:{LITEMEDSAM_SHA256}"
    partial = tmp_path / "decoder_only.pth"  # e.g. a SAM part saved on its own
    torch.save({k: v for k, v in load_state_dict(nested).items() if k.startswith("mask_decoder.")}, partial)
    with pytest.raises(CheckpointError, match="weights missing.*--sam-type"):
        build_network("litemedsam", partial, device="cpu")
