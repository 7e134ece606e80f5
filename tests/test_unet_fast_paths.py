"""The CPU fast paths give what MONAI and PyTorch give: channel argmax, ONNX Runtime windows, lazy CLI imports."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch


@pytest.mark.parametrize("channels", [2, 3, 5])
def test_channel_argmax_equals_asdiscrete_on_strided_tensors_with_ties(channels):
    from monai.data import MetaTensor
    from monai.transforms import AsDiscreted

    from napari_medseg.models.unet.bundle import ChannelArgmaxd

    rng = np.random.default_rng(channels)
    values = rng.integers(0, 3, size=(7, 9, 6, channels)).astype(np.float32)  # small integers: many ties
    strided = torch.from_numpy(values).permute(3, 2, 0, 1).flip(1)
    probs = MetaTensor(strided, affine=torch.diag(torch.tensor([2.0, 3, 4, 1])))
    ours = ChannelArgmaxd(["pred"])({"pred": probs})["pred"]
    monai = AsDiscreted(keys="pred", argmax=True)({"pred": probs})["pred"]
    assert ours.dtype == monai.dtype == torch.float32 and ours.shape == monai.shape == (1, 6, 7, 9)
    assert torch.equal(ours.as_tensor(), monai.as_tensor())
    np.testing.assert_array_equal(ours.affine, probs.affine)


def test_onnx_runtime_windows_match_pytorch_and_reuse_the_export_until_weights_change(tmp_path):
    from monai.networks.nets import UNet

    from napari_medseg.models.unet.onnx_network import onnx_network

    torch.manual_seed(0)
    net = UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=3,
        channels=(4, 8, 16),
        strides=(2, 2),
        num_res_units=1,
        norm="batch",
    ).eval()
    runner, why = onnx_network(net, (1, 24, 24, 16), tmp_path)
    assert runner is not None and why == ""
    x = torch.rand(3, 1, 24, 24, 16)  # a batch size other than the export's
    with torch.no_grad():
        expected = net(x)
    np.testing.assert_allclose(runner(x).numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
    assert len(list(tmp_path.glob("*.onnx"))) == 1
    import onnx

    ops = {node.op_type for node in onnx.load(str(runner.path)).graph.node}
    assert "LeakyRelu" in ops and "PRelu" not in ops  # fusable into the convolutions
    assert onnx_network(net, (1, 24, 24, 16), tmp_path)[0].path == runner.path  # cached
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    assert onnx_network(net, (1, 24, 24, 16), tmp_path)[0].path != runner.path  # new weights, new export


def test_prelu_becomes_leaky_relu_with_identical_outputs():
    from monai.networks.nets import UNet

    from napari_medseg.models.unet.onnx_network import with_fusable_activations

    torch.manual_seed(1)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8), strides=(2,), num_res_units=1).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.05, 0.6)  # slopes differ per layer
    swapped = with_fusable_activations(net)
    assert not any(isinstance(m, torch.nn.PReLU) for m in swapped.modules())
    assert any(isinstance(m, torch.nn.PReLU) for m in net.modules())  # the original is untouched
    x = torch.randn(2, 1, 16, 16, 8)
    with torch.no_grad():
        assert torch.equal(swapped(x), net(x))


def test_unexportable_network_keeps_pytorch_and_says_why(tmp_path):
    from napari_medseg.models.unet.onnx_network import onnx_network

    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("cannot trace this")

    runner, why = onnx_network(Broken(), (1, 4, 4, 4), tmp_path)
    assert runner is None and "ONNX Runtime not used" in why and "cannot trace this" in why


def test_building_the_cli_parser_does_not_import_torch_or_monai():
    code = (
        "import sys, napari_medseg.cli; napari_medseg.cli.build_parser(); "
        "print(sorted(m for m in ('torch', 'monai') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("align_corners", [False, True])
def test_axis_aligned_grid_is_affine_grid_bit_for_bit(dtype, align_corners):
    from napari_medseg.models.unet.resample_grid import axis_aligned_affine_grid

    theta = torch.tensor([[[1.0034, 0, 0, 0.0017], [0, 0.53, 0, -0.21], [0, 0, 1.875, 0.333]]], dtype=dtype)
    size = [1, 2, 37, 64, 23]
    ours = axis_aligned_affine_grid(theta, size, align_corners)
    expected = torch.nn.functional.affine_grid(theta, size, align_corners=align_corners)
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    assert torch.equal(ours, expected)


def test_rotated_or_2d_grids_are_left_to_affine_grid():
    from napari_medseg.models.unet.resample_grid import axis_aligned_affine_grid

    rotated = torch.tensor([[[1.0, 0.1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]])
    assert axis_aligned_affine_grid(rotated, [1, 1, 4, 4, 4]) is None
    assert axis_aligned_affine_grid(torch.tensor([[[1.0, 0, 0], [0, 1, 0]]]), [1, 1, 4, 4]) is None


def test_axis_aligned_grids_serve_monai_in_the_calling_thread_only_and_never_patch_torch(monkeypatch):
    import threading

    import torch.nn.functional as F
    from monai.networks.layers import AffineTransform

    import napari_medseg.models.unet.resample_grid as resample_grid

    original, used_by = F.affine_grid, []
    real = resample_grid.axis_aligned_affine_grid
    monkeypatch.setattr(
        resample_grid,
        "axis_aligned_affine_grid",
        lambda *a: used_by.append(threading.current_thread().name) or real(*a),
    )
    image = torch.rand(1, 1, 6, 7, 8)
    scale = torch.diag(torch.tensor([0.9, 1.1, 1.2, 1.0]))[None]
    rotated = torch.tensor([[[0.0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]])

    def resample(theta):
        return AffineTransform(normalized=True, reverse_indexing=False)(image, theta, spatial_size=(5, 6, 7))

    expected = resample(scale)
    inside, leave, outside = threading.Event(), threading.Event(), []

    def other_thread():
        inside.wait(5)
        outside.append(resample(scale))  # while the main thread is inside the context
        leave.set()

    worker = threading.Thread(target=other_thread, name="other")
    worker.start()
    with resample_grid.axis_aligned_grids():
        assert F.affine_grid is original
        inside.set()
        leave.wait(5)
        ours = resample(scale)
        assert torch.equal(
            resample(rotated),
            AffineTransform(normalized=True, reverse_indexing=False)(image, rotated, spatial_size=(5, 6, 7)),
        )  # rotations: torch's own grid
    worker.join(5)
    assert torch.equal(ours, expected) and torch.equal(outside[0], expected)
    assert "other" not in used_by and threading.current_thread().name in used_by
    assert F.affine_grid is original


@pytest.mark.parametrize(
    "affine",
    [
        np.diag([0.8, 0.9, 2.5, 1.0]),  # file order is the canonical order reversed
        np.diag([-0.8, -0.9, 2.5, 1.0]),  # two axes flipped on reading
        np.array([[0, 0.9, 0, 0], [0, 0, -2.5, 0], [-0.8, 0, 0, 0], [0, 0, 0, 1.0]]),  # permuted and flipped
    ],
)
def test_model_input_and_labels_are_reordered_between_file_and_volume_order(affine):
    from napari_medseg.models.unet.metatensor import file_order_tensor, labels_on_volume_grid
    from napari_medseg.volume import Volume

    file_array = np.random.default_rng(5).integers(-1000, 1000, size=(7, 5, 4)).astype(np.int16)
    file_array.flags.writeable = False  # as a read-only memory map would be: read, never written
    volume = Volume.from_file_order(file_array, affine, {})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model_input = file_order_tensor(volume, torch.float32)
    assert model_input.is_contiguous() and model_input.dtype == torch.float32
    np.testing.assert_array_equal(model_input.numpy(), file_array.astype(np.float32))
    prediction = torch.from_numpy((file_array > 0).astype(np.float32) * 2)[None]  # labels 0 and 2, float, file order
    labels = labels_on_volume_grid(prediction, volume)
    assert labels.dtype == np.uint8 and labels.flags["C_CONTIGUOUS"] and labels.shape == volume.shape
    np.testing.assert_array_equal(volume.to_file_order(labels), (file_array > 0) * 2)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc heap settings")
def test_volume_commands_keep_freed_memory_and_the_others_do_not(monkeypatch, tmp_path):
    import napari_medseg.cli as cli
    from napari_medseg.cli.heap import keep_freed_memory

    assert keep_freed_memory() is True  # glibc accepted both settings
    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(1))
    assert cli.main(["models", "--json"]) == 0
    assert calls == []
    missing = tmp_path / "missing.nii.gz"
    assert cli.main(["convert", str(missing), str(tmp_path / "out.nii.gz")]) != 0  # fails after the setting
    assert calls == [1]
