"""Sliding-window inference: device choice, GPU memory fallback, progress, cancel, checkpoints."""

from __future__ import annotations

import json
import threading

import nibabel as nib
import numpy as np
import pytest
import torch

from napari_medseg.errors import MedsegError
from napari_medseg.io import read_volume
from napari_medseg.models.devices import resolve_device
from napari_medseg.models.segment import load_pipeline
from napari_medseg.models.unet.checkpoint_description import load_checkpoint
from napari_medseg.models.unet.inference import (
    Attempt,
    SegmentationCancelled,
    count_windows,
    fallback_plan,
    run_pipeline,
    run_with_fallback,
)
from napari_medseg.samples import load_brain_mri

CUDA = torch.cuda.is_available()


@pytest.mark.parametrize(
    "shape,roi,overlap",
    [((99, 117, 95), (96, 96, 96), 0.25), ((40, 33, 17), (16, 16, 16), 0.5), ((10, 70, 64), (32, 32, 32), 0.0)],
)
def test_count_windows_equals_the_network_calls_of_monai_sliding_window(shape, roi, overlap):
    from monai.inferers import sliding_window_inference

    calls = []
    sliding_window_inference(torch.zeros(1, 1, *shape), roi, 1, lambda x: calls.append(1) or x, overlap=overlap)
    assert count_windows(shape, roi, overlap) == len(calls)


def test_cuda_plan_halves_the_window_batch_then_stitches_on_cpu():
    plan = fallback_plan(8, torch.device("cuda"))
    assert plan == [Attempt(8, "cuda"), Attempt(4, "cuda"), Attempt(2, "cuda"), Attempt(1, "cuda"), Attempt(1, "cpu")]
    assert fallback_plan(4, torch.device("cpu")) == [Attempt(4, "cpu")]


def test_volumes_too_large_for_gpu_stitching_stitch_on_the_cpu_from_the_start():
    from napari_medseg.models.unet.inference import stitching_fits

    ct = 512 * 512 * 300  # voxels; 3 channels + count map in float32: 1.26 GB
    assert stitching_fits(ct, 3, free_bytes=8 * 2**30)
    assert not stitching_fits(ct, 3, free_bytes=2 * 2**30)  # more than half of 2 GiB
    assert not stitching_fits(ct, 105, free_bytes=40 * 2**30)  # TotalSegmentator-sized label sets: 33 GB
    plan = fallback_plan(4, torch.device("cuda"), stitch_on_gpu=False)
    assert plan == [Attempt(4, "cpu"), Attempt(2, "cpu"), Attempt(1, "cpu")]


def test_out_of_memory_retries_smaller_batches_then_cpu_stitching_and_says_so():
    tried, said = [], []

    def infer_once(attempt):
        tried.append(attempt)
        if attempt.stitch_device == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return torch.ones(1)

    out, used = run_with_fallback(infer_once, fallback_plan(4, torch.device("cuda")), said.append)
    assert used == Attempt(1, "cpu") and len(tried) == 4 and out.item() == 1
    assert "stitching on the CPU" in said[-1] and "2 window(s)" in said[1]


def test_out_of_memory_on_the_last_attempt_is_one_clear_error():
    def always_oom(attempt):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(MedsegError, match="--device cpu"):
        run_with_fallback(always_oom, fallback_plan(2, torch.device("cuda")), lambda m: None)


def test_other_runtime_errors_are_not_mistaken_for_out_of_memory():
    def broken(attempt):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_with_fallback(broken, fallback_plan(2, torch.device("cuda")), lambda m: None)


@pytest.mark.skipif(CUDA, reason="checks the message shown on machines without CUDA")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(MedsegError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type in ("cpu", "mps")


@pytest.fixture(scope="module")
def brain():
    t1, labels = load_brain_mri()
    return t1, labels, load_pipeline("brain-tissue")


def test_progress_is_monotonic_and_reaches_one(brain):
    t1, _, pipeline = brain
    seen = []
    run_pipeline(pipeline, t1, "cpu", progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # one message per window batch, on the sample's 2 mm grid resampled to the bundle's 1.5 mm
    grid = tuple(round((n - 1) * 2.0 / 1.5) + 1 for n in (99, 117, 95))
    assert sum("window batch" in m for _, m in seen) == count_windows(grid, (96, 96, 96), 0.25)


def test_progress_returning_false_cancels_between_window_batches(brain):
    t1, _, pipeline = brain
    batches = []

    def stop_after_first(fraction, message):
        if "window batch" in message:
            batches.append(message)
            return len(batches) < 2

    with pytest.raises(SegmentationCancelled):
        run_pipeline(pipeline, t1, "cpu", progress=stop_after_first)
    assert len(batches) == 2


def test_cancel_event_stops_before_inference(brain):
    t1, _, pipeline = brain
    event = threading.Event()
    event.set()
    with pytest.raises(SegmentationCancelled):
        run_pipeline(pipeline, t1, "cpu", cancel=event)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_cuda_with_amp_agrees_with_cpu(brain):
    t1, _, pipeline = brain
    cpu = run_pipeline(pipeline, t1, "cpu").labels
    gpu = run_pipeline(pipeline, t1, "cuda")
    assert gpu.device == "cuda"
    assert (gpu.labels == cpu).mean() > 0.999


def _write_checkpoint(tmp_path, intensity):
    from monai.networks.nets import UNet

    args = {
        "spatial_dims": 3,
        "in_channels": 1,
        "out_channels": 3,
        "channels": [4, 8],
        "strides": [2],
        "num_res_units": 0,
    }
    torch.manual_seed(3)
    net = UNet(**args)
    torch.save({"model": net.state_dict()}, tmp_path / "w.pt")
    desc = {
        "network": "UNet",
        "network_args": args,
        "weights": "w.pt",
        "intensity": intensity,
        "roi_size": [16, 16, 16],
        "overlap": 0.25,
        "sw_batch_size": 2,
        "labels": {"1": "a", "2": "b"},
    }
    (tmp_path / "net.json").write_text(json.dumps(desc))
    return tmp_path / "net.json", net


def test_checkpoint_matches_a_plain_monai_run_on_the_file(tmp_path):
    from monai.inferers import sliding_window_inference
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, Orientationd, ScaleIntensityRanged

    path, net = _write_checkpoint(tmp_path, {"kind": "window", "a_min": -100, "a_max": 200})
    rng = np.random.default_rng(0)
    affine = np.diag([-0.9, 1.1, 2.0, 1.0])  # not RAS: x flipped
    nib.save(nib.Nifti1Image(rng.integers(-200, 300, (20, 18, 9)).astype(np.int16), affine), tmp_path / "in.nii.gz")
    volume = read_volume(tmp_path / "in.nii.gz")
    pipeline = load_checkpoint(path)
    ours = volume.to_file_order(run_pipeline(pipeline, volume, "cpu").labels)
    manual = Compose(
        [
            LoadImaged("image"),
            EnsureChannelFirstd("image"),
            Orientationd("image", "RAS"),
            ScaleIntensityRanged("image", -100, 200, 0.0, 1.0, clip=True),
        ]
    )({"image": str(tmp_path / "in.nii.gz")})
    with torch.no_grad():
        logits = sliding_window_inference(manual["image"][None], (16, 16, 16), 2, net.eval(), overlap=0.25)
    expected = np.flip(logits.argmax(1)[0].numpy(), 0)  # back from RAS to the file's x-flipped order
    assert pipeline.label_names == {1: "a", 2: "b"}
    assert len(np.unique(expected)) > 1
    np.testing.assert_array_equal(ours, expected)


def test_weights_with_pickled_code_are_refused(tmp_path):
    path, _ = _write_checkpoint(tmp_path, None)
    torch.save({"model": Attempt(1, "cpu")}, tmp_path / "w.pt")  # an arbitrary class: unpickling would run code
    with pytest.raises(MedsegError, match="cannot load the weights safely"):
        load_checkpoint(path)
