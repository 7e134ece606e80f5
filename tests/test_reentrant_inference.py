"""Model runs are re-entrant: one cached pipeline serves two threads at once as it serves them in turn."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from napari_medseg.errors import MedsegError
from napari_medseg.io import read_volume
from napari_medseg.models.segment import load_pipeline
from napari_medseg.models.unet.inference import run_pipeline
from napari_medseg.samples import brain_mri_paths
from napari_medseg.volume import Volume


def _crop(volume: Volume, start, stop) -> Volume:
    """A sub-volume on its own grid (origin moved to the crop's first voxel)."""
    affine = volume.affine.copy()
    affine[:3, 3] = (volume.affine @ np.array([*start, 1.0]))[:3]
    array = volume.array[tuple(slice(a, b) for a, b in zip(start, stop))].copy()
    return Volume(array, affine, meta={"path": "crop"})


def _inferer_state(inferer) -> dict:
    return {k: v for k, v in vars(inferer).items() if isinstance(v, (int, float, str, torch.device, type(None)))}


def test_two_threads_sharing_one_cached_model_get_the_results_of_running_one_after_the_other():
    pipeline = load_pipeline("brain-tissue")
    t1 = read_volume(brain_mri_paths()[0])
    volumes = [_crop(t1, (10, 12, 8), (60, 90, 80)), _crop(t1, (30, 20, 15), (85, 100, 70))]
    state = _inferer_state(pipeline.inferer)
    in_turn = [run_pipeline(pipeline, v, device="cpu").labels for v in volumes]
    results: dict[int, np.ndarray] = {}
    start = threading.Barrier(2)

    def run(i: int) -> None:
        start.wait(10)
        results[i] = run_pipeline(pipeline, volumes[i], device="cpu").labels

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert all(np.array_equal(results[i], in_turn[i]) for i in range(2))
    assert all(lab.any() for lab in in_turn)
    assert _inferer_state(pipeline.inferer) == state  # the cached inferer is never changed by a run


def test_a_network_wanted_on_another_device_is_copied_not_moved():
    from napari_medseg.models.unet.inference import network_on

    network = torch.nn.Linear(3, 2)
    elsewhere = network_on(network, torch.device("meta"))
    assert next(network.parameters()).device.type == "cpu"
    assert next(elsewhere.parameters()).device.type == "meta"
    assert network_on(network, torch.device("meta")) is elsewhere  # copied once
    assert network_on(network, torch.device("cpu")) is network


def test_models_refuse_nan_voxels_instead_of_labelling_them():
    pipeline = load_pipeline("brain-tissue")
    t1 = _crop(read_volume(brain_mri_paths()[0]), (20, 20, 20), (60, 70, 60))
    array = t1.array.astype(np.float32)
    array[5:9, 5:9, 5:9] = np.nan
    with pytest.raises(MedsegError, match="64 voxels are NaN or infinite"):
        run_pipeline(pipeline, Volume(array, t1.affine, meta={"path": "nan.nii.gz"}), device="cpu")


def test_a_single_voxel_is_refused_in_one_line():
    pipeline = load_pipeline("brain-tissue")
    with pytest.raises(MedsegError, match="single voxel"):
        one = Volume(np.ones((1, 1, 1), np.float32), np.eye(4), meta={"path": "one.nii"})
        run_pipeline(pipeline, one, device="cpu")
