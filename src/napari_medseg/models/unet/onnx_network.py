"""A U-Net's forward pass through ONNX Runtime on the CPU: the same logits, faster than PyTorch.

On CPU, :func:`~.inference.run_pipeline` hands each window batch of the sliding window to
ONNX Runtime instead of PyTorch. The network is exported once (with a dynamic batch axis and
the window's spatial size fixed; :mod:`..onnx_runtime`) under a SHA-256 of the network's
class, weights and buffers, the window shape and the torch version, so changed weights never
reuse a stale export.

Before export, single-slope ``PReLU`` activations (MONAI's default) become ``LeakyReLU``
with that slope: the same function, value for value, but ONNX Runtime fuses ``LeakyRelu``
into the preceding convolution and runs ``PRelu`` as a separate pass over the tensor
(outputs equal bit for bit). The times against PyTorch are measured by
``benchmarks/bench_unet.py``. Where the export or the session fails, PyTorch is kept and the
caller is told why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from copy import deepcopy
from pathlib import Path

import numpy as np
import torch

from ..onnx_runtime import cache_folder, cpu_session, export_onnx, onnx_enabled

#: Changes whenever what is exported for the same weights changes (old cache files are not reused).
EXPORT_FORMAT = "2: PReLU as LeakyReLU"


def network_signature(network: torch.nn.Module, window: Sequence[int]) -> str:
    """SHA-256 of the network's class, parameters and buffers (names, shapes, bytes), the
    window shape ``(C, *spatial)`` and the torch version."""
    digest = hashlib.sha256(
        f"{type(network).__qualname__}|{tuple(window)}|torch{torch.__version__}|{EXPORT_FORMAT}".encode()
    )
    for name, tensor in network.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class OnnxNetwork:
    """Callable like the network on a window batch: (B, C, *window) float tensor -> logits tensor.

    Parameters
    ----------
    path : the exported ``.onnx`` file (dynamic batch axis).
    threads : ONNX Runtime intra-op threads; default ``torch.get_num_threads()``.
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
        self.session = cpu_session(self.path, threads)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(torch.as_tensor(x).detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: array})[0])


def with_fusable_activations(network: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``network`` whose single-slope ``PReLU`` modules are ``LeakyReLU`` of that slope.

    ``PReLU(x) = x if x >= 0 else a * x`` with one learned ``a`` is ``LeakyReLU(a)`` at
    inference. TorchScript modules are returned unchanged (their children cannot be swapped).
    """
    if isinstance(network, torch.jit.ScriptModule):
        return network
    copy = deepcopy(network)
    for module in list(copy.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.PReLU) and child.weight.numel() == 1:
                setattr(module, name, torch.nn.LeakyReLU(float(child.weight.detach())))
    return copy


def export_network(network: torch.nn.Module, window: Sequence[int], path: Path) -> None:
    """Export ``network`` for inputs ``(B, *window)`` (B dynamic) to ``path`` (atomic write)."""
    export_onnx(
        with_fusable_activations(network.cpu().eval()),
        (torch.zeros(1, *window),),
        path,
        ["x"],
        ["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
    )


def onnx_network(
    network: torch.nn.Module, window: Sequence[int], folder: str | Path | None = None
) -> tuple[OnnxNetwork | None, str]:
    """ONNX Runtime runner for ``network`` on windows of shape ``window = (C, *spatial)``.

    Returns
    -------
    runner : OnnxNetwork, or None when ONNX Runtime is off/missing or the export failed
    message : str, why PyTorch is kept (empty when the runner is returned)
    """
    if not onnx_enabled():
        return None, ""
    try:
        path = Path(folder or cache_folder("networks")) / f"{network_signature(network, window)}.onnx"
        if not path.exists():
            export_network(network, window, path)
        return OnnxNetwork(path), ""
    except Exception as exc:  # an export or session failure keeps PyTorch
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return None, f"ONNX Runtime not used ({type(exc).__name__}: {first}); running PyTorch"
