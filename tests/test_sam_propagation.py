"""Propagation logic with a stand-in predictor whose 'mask' is the truth inside the box."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_medseg.models.sam.preprocessing import SliceTransform
from napari_medseg.models.sam.propagation import Extent, PropagationCancelled, SlicePrompt, propagate


class BoxedTruth:
    """Predictor stand-in: the mask of slice z is ``truth[z]`` inside the prompted box."""

    batch_size = 3

    def __init__(self, truth: np.ndarray):
        self.truth = truth
        self.transform = SliceTransform("litemedsam", 256)
        self.encoded: list[int] = []
        self.boxes: dict[int, tuple] = {}

    def embed(self, slices, keys):
        self.encoded += [int(s[0, 0]) for s in slices]
        return [torch.tensor(int(s[0, 0])) for s in slices]

    def predict_with(self, embedding, geo, box=None, points=None, point_labels=None):
        z = int(embedding)
        self.boxes[z] = box
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        mask = np.zeros_like(self.truth[z])
        mask[y0 : y1 + 1, x0 : x1 + 1] = self.truth[z, y0 : y1 + 1, x0 : x1 + 1]
        return mask

    def decode_boxes(self, embedding, geo, boxes):
        masks = [self.predict_with(embedding, geo, tuple(b)) for b in boxes]
        return np.array(masks), np.full(len(masks), 0.9)


def stack_and_truth():
    n = 12
    stack = np.zeros((n, 40, 40), np.uint8)
    stack[:, 0, 0] = np.arange(n)  # lets the stand-in know which slice it got
    truth = np.zeros((n, 40, 40), bool)
    for z in range(3, 9):  # a blob drifting right by 2 px a slice
        truth[z, 10:20, 8 + 2 * z : 16 + 2 * z] = True
    truth[10, 10:20, 10:20] = True  # a separate structure after a gap
    return stack, truth


def test_propagation_follows_the_drifting_blob_and_stops_where_it_vanishes():
    stack, truth = stack_and_truth()
    fake = BoxedTruth(truth)
    calls = []
    out = propagate(
        fake, stack, [SlicePrompt(5, (18, 10, 25, 19))], margin=3, progress=lambda d, t: calls.append((d, t))
    )
    assert np.array_equal(out[3:9], truth[3:9])
    assert not out[9:].any() and not out[:3].any()  # the gap stops it: slice 10 is never reached
    assert 10 not in fake.boxes and 11 not in fake.boxes
    assert fake.boxes[6] == (15.0, 7.0, 28.0, 22.0)  # slice 5's mask box grown by 3 px
    assert calls[-1] == (11, 11) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_extent_limits_slices_and_cuts_masks_to_the_rectangle():
    stack, truth = stack_and_truth()
    out = propagate(
        BoxedTruth(truth), stack, [SlicePrompt(5, (18, 10, 25, 19))], Extent(4, 6, (0, 0, 24, 39)), margin=3
    )
    assert out[4:7].any(axis=(1, 2)).all() and not out[:4].any() and not out[7:].any()
    assert not out[:, :, 25:].any()


def test_several_prompted_slices_each_fill_towards_the_next():
    stack, truth = stack_and_truth()
    fake = BoxedTruth(truth)
    out = propagate(fake, stack, [SlicePrompt(4, (14, 10, 25, 19)), SlicePrompt(10, (8, 8, 22, 22))], margin=3)
    assert np.array_equal(out, truth)  # the second prompt reaches the structure after the gap


def test_cancel_stops_between_slices():
    stack, truth = stack_and_truth()
    seen = []
    with pytest.raises(PropagationCancelled):
        propagate(
            BoxedTruth(truth),
            stack,
            [SlicePrompt(5, (18, 10, 25, 19))],
            progress=lambda d, t: seen.append(d),
            cancel=lambda: len(seen) >= 2,
        )
    assert len(seen) == 2
