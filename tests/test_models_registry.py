"""The one registry of names, the one device resolver and the one ONNX Runtime switch."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from napari_medseg.errors import MedsegError
from napari_medseg.models.devices import resolve_device
from napari_medseg.models.registry import DEVICES, SAM_MODELS, SAM_TYPES, available_models, find_model, is_sam_model


def test_the_registry_imports_without_torch():
    code = "import sys, napari_medseg.models.registry; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_cli_and_widgets_offer_the_registry_choices():
    from napari_medseg.cli import build_parser

    actions = {a.dest: a for a in build_parser()._subparsers._group_actions[0].choices["segment"]._actions}
    assert tuple(actions["device"].choices) == DEVICES
    assert tuple(actions["sam_type"].choices) == SAM_TYPES


@pytest.mark.parametrize("device", DEVICES)
def test_every_device_choice_resolves_or_says_it_is_absent(device):
    try:
        resolved = resolve_device(device)
    except MedsegError as exc:
        assert device in ("cuda", "mps") and ("not available" in str(exc) or "no CUDA GPU" in str(exc))
        return
    assert resolved.type in (("cuda", "mps", "cpu") if device == "auto" else (device,))


def test_auto_means_the_same_for_every_model():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == resolve_device(None).type == expected


def test_an_unknown_device_is_refused_with_the_choices():
    with pytest.raises(MedsegError, match="choose one of auto, cpu, cuda, mps"):
        resolve_device("tpu")


@pytest.mark.parametrize(
    "model, sam_type, expected",
    [
        ("litemedsam", None, True),
        ("MedSAM", None, True),
        ("brain-tissue", None, False),
        ("finetuned.pth", "litemedsam", True),
        ("finetuned.pth", None, False),
        ("bundle_dir", "vit_b", False),
    ],
)
def test_sam_models_are_told_from_automatic_ones_by_name_or_weights_file(model, sam_type, expected):
    assert is_sam_model(model, sam_type) is expected


def test_listed_sam_models_are_found_by_name_as_prompted_models():
    listed = {m.name: m.kind for m in available_models()}
    for name in SAM_MODELS:
        assert listed[name] == "sam" and find_model(name.upper()).kind == "sam"
    assert listed["brain-tissue"] == "bundle"


def test_onnx_switch_keeps_pytorch_for_sam_and_unet(monkeypatch, tmp_path):
    from napari_medseg.models.onnx_runtime import onnx_enabled
    from napari_medseg.models.sam.onnx_backend import onnx_models
    from napari_medseg.models.unet.onnx_network import onnx_network

    monkeypatch.setenv("NAPARI_MEDSEG_ONNX", "0")
    assert not onnx_enabled()
    cpu_litemedsam = SimpleNamespace(sam_type="litemedsam", device=torch.device("cpu"))
    assert onnx_models(cpu_litemedsam, tmp_path) is None
    assert onnx_network(torch.nn.Conv3d(1, 2, 3, padding=1), (1, 8, 8, 8), tmp_path) == (None, "")
    assert not any(tmp_path.rglob("*.onnx"))
