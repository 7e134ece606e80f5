"""`medseg segment` with a spleen-style MONAI bundle gives what `python -m monai.bundle run` gives.

The bundle is built here in the model zoo's layout (the spleen_ct_segmentation recipe:
Orientationd RAS, Spacingd, ScaleIntensityRanged, SlidingWindowInferer, Activationsd,
Invertd, AsDiscreted, SaveImaged) with a tiny U-Net and random weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from napari_medseg.cli import main

PIXDIM = [1.5, 1.5, 2.0]
SCALE = 3.0


def spleen_style_config(channels=(4, 8, 16), roi=(32, 32, 32), pixdim=PIXDIM) -> dict:
    """inference.json modelled on the model zoo's spleen_ct_segmentation bundle."""
    return {
        "imports": ["$import glob", "$import os"],
        "bundle_root": ".",
        "output_dir": "$@bundle_root + '/eval'",
        "dataset_dir": "/workspace/data/Task09_Spleen",
        "datalist": "$list(sorted(glob.glob(@dataset_dir + '/*.nii.gz')))",
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "network_def": {
            "_target_": "UNet",
            "spatial_dims": 3,
            "in_channels": 1,
            "out_channels": 2,
            "channels": list(channels),
            "strides": [2] * (len(channels) - 1),
            "num_res_units": 1,
            "norm": "batch",
        },
        "network": "$@network_def.to(@device)",
        "preprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "LoadImaged", "keys": "image"},
                {"_target_": "EnsureChannelFirstd", "keys": "image"},
                {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
                {"_target_": "Spacingd", "keys": "image", "pixdim": list(pixdim), "mode": "bilinear"},
                {
                    "_target_": "ScaleIntensityRanged",
                    "keys": "image",
                    "a_min": -57,
                    "a_max": 164,
                    "b_min": 0,
                    "b_max": 1,
                    "clip": True,
                },
                {"_target_": "EnsureTyped", "keys": "image"},
            ],
        },
        "dataset": {"_target_": "Dataset", "data": "$[{'image': i} for i in @datalist]", "transform": "@preprocessing"},
        "dataloader": {
            "_target_": "DataLoader",
            "dataset": "@dataset",
            "batch_size": 1,
            "shuffle": False,
            "num_workers": 0,
        },
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": list(roi), "sw_batch_size": 4, "overlap": 0.5},
        "postprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "Activationsd", "keys": "pred", "softmax": True},
                {
                    "_target_": "Invertd",
                    "keys": "pred",
                    "transform": "@preprocessing",
                    "orig_keys": "image",
                    "meta_key_postfix": "meta_dict",
                    "nearest_interp": False,
                    "to_tensor": True,
                },
                {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
                {
                    "_target_": "SaveImaged",
                    "keys": "pred",
                    "output_dir": "@output_dir",
                    "resample": False,
                    "separate_folder": False,
                    "output_postfix": "seg",
                },
            ],
        },
        "handlers": [
            {
                "_target_": "CheckpointLoader",
                "load_path": "$@bundle_root + '/models/model.pt'",
                "load_dict": {"model": "@network"},
            },
            {"_target_": "StatsHandler", "iteration_log": False},
        ],
        "evaluator": {
            "_target_": "SupervisedEvaluator",
            "device": "@device",
            "val_data_loader": "@dataloader",
            "network": "@network",
            "inferer": "@inferer",
            "postprocessing": "@postprocessing",
            "val_handlers": "@handlers",
            "amp": True,
        },
        "initialize": ["$setattr(torch.backends.cudnn, 'benchmark', True)"],
        "run": ["$@evaluator.run()"],
    }


def write_spleen_style_bundle(root: Path, seed: int = 0, **config) -> Path:
    """A bundle folder in the model zoo's layout with random (seeded) weights."""
    from monai.networks.nets import UNet

    (root / "configs").mkdir(parents=True)
    (root / "models").mkdir()
    cfg = spleen_style_config(**config)
    (root / "configs" / "inference.json").write_text(json.dumps(cfg, indent=1))
    meta = {
        "name": "spleen-style test bundle",
        "version": "0.0.1",
        "network_data_format": {
            "outputs": {"pred": {"type": "image", "num_channels": 2, "channel_def": {"0": "background", "1": "spleen"}}}
        },
    }
    (root / "configs" / "metadata.json").write_text(json.dumps(meta))
    torch.manual_seed(seed)
    net_args = {k: v for k, v in cfg["network_def"].items() if k != "_target_"}
    net = UNet(**net_args)
    with torch.no_grad():  # a stronger last layer makes the random labels form real regions
        for p in net.parameters():
            p.mul_(SCALE)
    torch.save(net.state_dict(), root / "models" / "model.pt")
    return root


def ct_like(shape, seed: int) -> np.ndarray:
    """Smooth random 'organs' in Hounsfield-like units (int16)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=shape), 3.0)
    return np.clip(field / field.std() * 120 + 40, -1000, 2000).astype(np.int16)


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    nib.save(img, path)
    return path


def run_monai_bundle(bundle: Path, data_dir: Path, out_dir: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "monai.bundle",
        "run",
        "--config_file",
        str(bundle / "configs" / "inference.json"),
        "--meta_file",
        str(bundle / "configs" / "metadata.json"),
        "--bundle_root",
        str(bundle),
        "--dataset_dir",
        str(data_dir),
        "--output_dir",
        str(out_dir),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def parity_run(tmp_path_factory, oblique_ras_affine_module):
    """Three inputs (RAS; LPS with permuted axes, no rotation; oblique/permuted/flipped), each run by
    monai.bundle and by medseg segment."""
    root = tmp_path_factory.mktemp("parity")
    bundle = write_spleen_style_bundle(root / "spleen_style")
    data = root / "data"
    data.mkdir()
    ras = np.diag([0.8, 0.9, 2.5, 1.0])
    ras[:3, 3] = [-20.0, -15.0, 10.0]
    permuted = np.array([[0, -0.9, 0, 12.0], [-0.8, 0, 0, 30.0], [0, 0, 2.5, -5.0], [0, 0, 0, 1]])
    inputs = {
        "ras": write_nifti(data / "ras.nii.gz", ct_like((44, 40, 18), 1), ras),
        "permuted": write_nifti(data / "permuted.nii.gz", ct_like((38, 45, 17), 3), permuted),
        "oblique": write_nifti(data / "oblique.nii.gz", ct_like((40, 26, 16), 2), oblique_ras_affine_module),
    }
    run_monai_bundle(bundle, data, root / "monai_out")
    ours = {}
    os.environ["MEDSEG_CONFIG_DIR"] = str(root / "config")
    try:
        for name, path in inputs.items():
            ours[name] = root / f"{name}_medseg.nii.gz"
            assert (
                main(
                    [
                        "segment",
                        str(path),
                        "--model",
                        str(bundle),
                        "--out",
                        str(ours[name]),
                        "--device",
                        "cpu",
                        "--trust-bundle",
                        "--quiet",
                    ]
                )
                == 0
            )
    finally:
        del os.environ["MEDSEG_CONFIG_DIR"]
    theirs = {name: root / "monai_out" / f"{name}_seg.nii.gz" for name in inputs}
    return inputs, ours, theirs


@pytest.fixture(scope="module")
def oblique_ras_affine_module():
    from conftest import rotation

    lin = rotation([1, 2, 0.5], 12.0) @ np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float) @ np.diag([0.7, 1.3, 2.5])
    aff = np.eye(4)
    aff[:3, :3] = lin
    aff[:3, 3] = [-40.5, 12.25, 60.0]
    return aff


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ras", "permuted", "oblique"])
def test_medseg_segment_matches_monai_bundle_run_voxel_for_voxel(parity_run, name):
    inputs, ours, theirs = parity_run
    src, a, b = nib.load(inputs[name]), nib.load(ours[name]), nib.load(theirs[name])
    ref = np.asanyarray(b.dataobj).squeeze()
    mine = np.asanyarray(a.dataobj)
    assert mine.shape == src.shape == ref.shape
    np.testing.assert_allclose(a.affine, src.affine, atol=1e-4)
    np.testing.assert_allclose(a.affine, b.affine, atol=1e-4)
    labels, counts = np.unique(ref, return_counts=True)
    assert len(labels) == 2 and counts.min() > 0.05 * ref.size  # both classes present: a real comparison
    agreement = float((mine == np.rint(ref)).mean())
    assert agreement >= 0.999, f"{name}: {agreement:.5f} of voxels equal"


def test_few_class_bundle_keeps_its_own_postprocessing_order(tmp_path, monkeypatch):
    from monai.transforms import Invertd

    from napari_medseg.models.unet.bundle import ChannelArgmaxd, load_bundle

    monkeypatch.setenv("MEDSEG_CONFIG_DIR", str(tmp_path / "config"))
    pipeline = load_bundle(write_spleen_style_bundle(tmp_path / "b"), trust_now=True)
    kinds = [type(t) for t in pipeline.postprocessing.transforms]
    assert kinds.index(Invertd) < kinds.index(ChannelArgmaxd)  # the bundle's AsDiscreted(argmax), same place
    assert not any(type(t).__name__.startswith("Save") for t in pipeline.postprocessing.transforms)
    assert pipeline.label_names == {1: "spleen"}


def test_bundle_without_invertd_is_resampled_back_to_the_input_grid(tmp_path, monkeypatch):
    from napari_medseg.io import read_volume
    from napari_medseg.models.unet.bundle import load_bundle
    from napari_medseg.models.unet.inference import run_pipeline

    monkeypatch.setenv("MEDSEG_CONFIG_DIR", str(tmp_path / "config"))
    with_invert = write_spleen_style_bundle(tmp_path / "with")
    without = write_spleen_style_bundle(tmp_path / "without")
    cfg_path = without / "configs" / "inference.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["postprocessing"]["transforms"] = [
        t for t in cfg["postprocessing"]["transforms"] if t["_target_"] in ("Activationsd", "AsDiscreted")
    ]
    cfg_path.write_text(json.dumps(cfg))
    flipped_permuted = np.array([[0, -0.8, 0, 10], [0.9, 0, 0, -5], [0, 0, 2.5, 3], [0, 0, 0, 1]])  # not RAS
    volume = read_volume(write_nifti(tmp_path / "in.nii.gz", ct_like((30, 22, 12), 4), flipped_permuted))
    back = run_pipeline(load_bundle(without, trust_now=True), volume, "cpu").labels
    inverted = run_pipeline(load_bundle(with_invert, trust_now=True, argmax_first=True), volume, "cpu").labels
    assert back.shape == volume.shape
    assert len(np.unique(inverted)) == 2
    assert (back == inverted).mean() > 0.999
