"""LiteMedSAM through our pipeline against its official inference steps, and in 3D.

Few model calls on small volumes: the TinyViT encoder costs ~1.5 s per slice on a CPU.
"""

from __future__ import annotations

import argparse

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_medseg.cli.sam_segment import run_sam
from napari_medseg.io import read_volume, write_labels
from napari_medseg.models.sam import SamSession, SlicePrompt, load_predictor, to_uint8

pytestmark = pytest.mark.slow  # each test runs a model on a volume


def ct_phantom(shape=(14, 128, 128), spacing=(3.0, 1.5, 1.5), seed=0):
    """A CT-like (Z, Y, X) volume in HU: air, fat, muscle, a vertebra and a compact
    organ-like ellipsoid (160 HU) on the left; returns (volume float32, organ bool)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)], indexing="ij")
    vol = np.full(shape, -1000.0, np.float32)
    vol[(y / 85) ** 2 + (x / 95) ** 2 <= 1] = -90.0
    vol[(y / 75) ** 2 + (x / 86) ** 2 <= 1] = 40.0
    vol[((y - 45) / 12) ** 2 + (x / 12) ** 2 <= 1] = 700.0
    organ = (z / 11) ** 2 + ((y + 5) / 20) ** 2 + ((x - 30) / 25) ** 2 <= 1
    vol[organ] = 160.0
    vol += rng.normal(0, 12, shape).astype(np.float32)
    return vol, organ


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * (a & b).sum() / max(a.sum() + b.sum(), 1)


@pytest.fixture(scope="module")
def predictor():
    torch.set_num_threads(2)
    return load_predictor("litemedsam", device="cpu")


def official_embed(net, img_u8: np.ndarray, device="cpu") -> tuple[torch.Tensor, tuple[int, int]]:
    """LiteMedSAM's official preprocessing (CVPR24_LiteMedSAM_infer) and encoder for one slice:
    3 channels, cv2 INTER_AREA to longest side 256, min-max, pad. Returns the embedding and (newh, neww)."""
    import cv2

    img_3c = np.repeat(img_u8[:, :, None], 3, axis=-1)
    h, w = img_3c.shape[:2]
    scale = 256 / max(h, w)
    newh, neww = int(h * scale + 0.5), int(w * scale + 0.5)
    img_256 = cv2.resize(img_3c, (neww, newh), interpolation=cv2.INTER_AREA)
    img_256 = (img_256 - img_256.min()) / np.clip(img_256.max() - img_256.min(), a_min=1e-8, a_max=None)
    img_256 = np.pad(img_256, ((0, 256 - newh), (0, 256 - neww), (0, 0)))
    tensor = torch.tensor(img_256).float().permute(2, 0, 1).unsqueeze(0).to(device)
    with torch.no_grad():
        return net.image_encoder(tensor), (newh, neww)


def official_decode(net, embedding, new_size, original_size, box_xyxy) -> np.ndarray:
    """The official box scaling (int), prompt encoder, decoder, crop + bilinear, sigmoid > 0.5."""
    box256 = np.array([int(v * 256 / max(original_size)) for v in box_xyxy], float)[None, None]
    with torch.no_grad():
        sparse, dense = net.prompt_encoder(
            points=None, boxes=torch.as_tensor(box256, dtype=torch.float, device=embedding.device), masks=None
        )
        logits, _ = net.mask_decoder(
            image_embeddings=embedding,
            image_pe=net.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
        logits = F.interpolate(
            logits[:, :, : new_size[0], : new_size[1]], size=tuple(original_size), mode="bilinear", align_corners=False
        )
    return (torch.sigmoid(logits).squeeze().cpu().numpy() > 0.5).astype(np.uint8)


def official_litemedsam(net, img_u8: np.ndarray, box_xyxy) -> np.ndarray:
    """LiteMedSAM's official 2D inference steps for one slice and one box."""
    embedding, new_size = official_embed(net, img_u8)
    return official_decode(net, embedding, new_size, img_u8.shape, box_xyxy)


def test_single_slice_box_matches_official_litemedsam_steps_on_non_square_slice(predictor):
    vol, organ = ct_phantom(shape=(3, 150, 118))  # non-square: exercises resize, padding and box scaling
    k = 1
    rows, cols = np.nonzero(organ[k])
    box = (cols.min() - 2, rows.min() - 2, cols.max() + 2, rows.max() + 2)
    slice_u8 = to_uint8(vol)[k]
    reference = official_litemedsam(predictor.network, slice_u8, box)
    session = SamSession(predictor, vol)
    ours = session.segment_slice(0, SlicePrompt(k, box))
    assert reference.sum() > 100
    assert dice(ours, reference) >= 0.98
    assert dice(ours, organ[k]) >= 0.9


def test_new_prompt_on_cached_slice_updates_mask_without_encoder(predictor, monkeypatch):
    vol, organ = ct_phantom(shape=(1, 96, 96))
    session = SamSession(predictor, vol)
    rows, cols = np.nonzero(organ[0])
    box = (cols.min(), rows.min(), cols.max(), rows.max())
    first = session.segment_slice(0, SlicePrompt(0, box))

    def no_encoder(*_args, **_kwargs):
        raise AssertionError("the cached embedding should have been reused")

    monkeypatch.setattr(predictor, "encoder", no_encoder)
    half = (box[0], box[1], (box[0] + box[2]) // 2, box[3])  # the organ's left half only
    refined = session.segment_slice(0, SlicePrompt(0, half))
    assert refined.sum() < 0.8 * first.sum()
    assert not refined[:, half[2] + 3 :].any()


def test_cli_box_on_ras_nifti_propagates_to_organ_with_dice_over_0_9(predictor, tmp_path):
    vol, organ = ct_phantom()
    # store as a RAS NIfTI with axes (i, j, k) = (x, y, z) flipped to R and A: file axis K = z
    file_array = np.ascontiguousarray(vol.transpose(2, 1, 0)[::-1, ::-1, :])
    truth_file = np.ascontiguousarray(organ.transpose(2, 1, 0)[::-1, ::-1, :])
    affine = np.diag([1.5, 1.5, 3.0, 1.0])
    path = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(file_array, affine), path)
    volume = read_volume(path)
    i, j, k = np.nonzero(truth_file)
    args = argparse.Namespace(
        model="litemedsam",
        box=f"{i.min()},{j.min()},{k.min()},{i.max()},{j.max()},{k.max()}",
        points=None,
        window=None,
        modality="auto",
        sam_type=None,
        device="cpu",
    )
    labels = run_sam(args, volume)
    out = tmp_path / "mask.nii.gz"
    write_labels(out, labels, volume)
    written = np.asarray(nib.load(out).dataobj)
    assert written.shape == truth_file.shape
    assert dice(written, truth_file) >= 0.9


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_slice_mask_matches_cpu_mask():
    vol, organ = ct_phantom(shape=(1, 128, 128))
    rows, cols = np.nonzero(organ[0])
    prompt = SlicePrompt(0, (cols.min(), rows.min(), cols.max(), rows.max()))
    on_cpu = SamSession(load_predictor("litemedsam", device="cpu"), vol).segment_slice(0, prompt)
    on_gpu = SamSession(load_predictor("litemedsam", device="cuda"), vol).segment_slice(0, prompt)
    assert dice(on_cpu, on_gpu) >= 0.99
