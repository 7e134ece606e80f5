"""SAM-family pre/post-processing, intensity mapping and prompt geometry (no network)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from napari_medseg.ct_windows import WINDOWS, looks_like_ct
from napari_medseg.errors import MedsegError
from napari_medseg.models.sam.intensity import choose_mapping, to_uint8
from napari_medseg.models.sam.preprocessing import SliceTransform


def test_ct_is_detected_from_air_and_windowed_soft_tissue_by_default():
    rng = np.random.default_rng(1)
    ct = rng.uniform(-1000, 1500, (4, 8, 8)).astype(np.float32)
    assert looks_like_ct(ct) and not looks_like_ct(ct + 1200)
    out = to_uint8(ct)
    level, width = WINDOWS["soft_tissue"]
    expected = ((np.clip(ct, level - width / 2, level + width / 2) - (level - width / 2)) * (255 / width)).astype(
        np.uint8
    )
    assert out.dtype == np.uint8 and np.array_equal(out, expected)
    assert to_uint8(np.array([-160.0, 40.0, 240.0, 3000.0]), modality="CT").tolist() == [0, 127, 255, 255]


def test_window_presets_and_level_width_text_change_the_mapping():
    values = np.array([-1000.0, -600.0, 0.0, 400.0])
    lung = choose_mapping(values, window="lung")
    assert (lung.low, lung.high) == (-600 - 750, -600 + 750)
    custom = choose_mapping(values, window="50,350")
    assert (custom.low, custom.high) == (50 - 175, 50 + 175)
    with pytest.raises(MedsegError, match="unknown window"):
        choose_mapping(values, window="liver")
    with pytest.raises(MedsegError, match="positive"):
        choose_mapping(values, window="40,0")


def test_mr_percentiles_come_from_the_volume_nonzero_voxels_not_the_slice():
    rng = np.random.default_rng(2)
    mr = np.zeros((3, 20, 20), np.float32)
    mr[:, 5:15, 5:15] = rng.uniform(100, 200, (3, 10, 10))
    mr[2, 5:15, 5:15] += 1000  # a bright slice widens the volume's range
    mapping = choose_mapping(mr)
    nonzero = mr[mr != 0]
    assert np.isclose(mapping.low, np.percentile(nonzero, 0.5)) and np.isclose(
        mapping.high, np.percentile(nonzero, 99.5)
    )
    out = mapping.apply(mr)
    assert out[0].max() < 64  # slice 0 is dim relative to the volume, not stretched to 255
    assert (out[mr == 0] == 0).all()


@pytest.mark.parametrize("shape", [(512, 512), (150, 118), (90, 300), (64, 64)])
def test_litemedsam_input_matches_official_resize_pad_and_box_scaling(shape):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    t = SliceTransform("litemedsam", 256)
    ours, geo = t.image(img)
    h, w = shape
    newh, neww = int(h * 256 / max(h, w) + 0.5), int(w * 256 / max(h, w) + 0.5)
    ref = cv2.resize(np.repeat(img[:, :, None], 3, axis=-1), (neww, newh), interpolation=cv2.INTER_AREA)
    ref = (ref - ref.min()) / np.clip(ref.max() - ref.min(), 1e-8, None)
    ref = np.pad(ref, ((0, 256 - newh), (0, 256 - neww), (0, 0))).transpose(2, 0, 1)
    assert ours.shape == (3, 256, 256) and (geo.new_height, geo.new_width) == (newh, neww)
    assert np.allclose(ours, ref, atol=1e-6)
    box = (10.7, 20.2, 60.9, 80.5)
    assert t.box(box, geo).tolist() == [float(int(v * 256 / max(h, w))) for v in box]


def test_litemedsam_logits_are_cropped_then_resized_back_to_the_slice():
    t = SliceTransform("litemedsam", 256)
    geo = t.geometry(100, 200)  # resized to 128 x 256, rows 128.. are padding
    logits = -torch.ones(1, 1, 256, 256)
    logits[..., :64, :128] = 5.0  # top-left quarter of the resized image
    logits[..., 128:, :] = 5.0  # padding must be cropped away
    mask = t.masks(logits, geo)[0].numpy()
    assert mask.shape == (100, 200)
    assert mask[:50, :100].all() and not mask[50:, :].any() and not mask[:, 100:].any()


def test_medsam_squashes_to_square_and_scales_box_per_axis():
    t = SliceTransform("medsam", 1024)
    img = np.tile(np.arange(200, dtype=np.uint8), (100, 1))
    image, geo = t.image(img)
    assert image.shape == (3, 1024, 1024) and (geo.new_height, geo.new_width) == (1024, 1024)
    assert np.isclose(image.min(), 0) and np.isclose(image.max(), 1)
    assert np.allclose(t.box((0, 0, 100, 50), geo), [0, 0, 512, 512])
