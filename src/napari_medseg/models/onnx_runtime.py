"""ONNX Runtime on the CPU for every model: the on/off switch, exporting once, and the session.

U-Net windows (:mod:`.unet.onnx_network`) and LiteMedSAM's encoder and box decoder
(:mod:`.sam.onnx_backend`) are exported once with ``torch.onnx.export`` into the user cache
(``$NAPARI_MEDSEG_CACHE`` or ``$XDG_CACHE_HOME/napari-medseg``, default
``~/.cache/napari-medseg``) under a name that changes with the weights, then run by ONNX
Runtime's CPU provider. ``NAPARI_MEDSEG_ONNX=0`` keeps PyTorch for all of them.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from ..cache import cache_root
from ..io.atomic import atomic_path

__all__ = ["ENV_SWITCH", "cache_folder", "cpu_session", "export_onnx", "onnx_enabled"]

#: Set to ``0`` to keep PyTorch on the CPU (e.g. to compare).
ENV_SWITCH = "NAPARI_MEDSEG_ONNX"
_EXPORT_LOCK = threading.Lock()


def onnx_enabled() -> bool:
    """True unless ``$NAPARI_MEDSEG_ONNX`` is ``0`` (callers keep PyTorch where an export or session fails)."""
    return os.environ.get(ENV_SWITCH, "1") != "0"


def cache_folder(kind: str) -> Path:
    """Folder of exported networks of one kind (``"networks"``: U-Nets, ``"encoders"``: SAM)."""
    return cache_root() / kind


def cpu_session(path: str | Path, threads: int | None = None, spinning: bool = False):
    """An ``onnxruntime.InferenceSession`` on the CPU provider, all graph optimisations on.

    Parameters
    ----------
    path : the ``.onnx`` file.
    threads : intra-op threads; default ``torch.get_num_threads()``.
    spinning : let idle pool threads spin. Off by default: on a shared CPU, spinning threads
        steal time from the ones doing work.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_onnx(
    module: torch.nn.Module,
    example: tuple,
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict | None = None,
) -> None:
    """Export ``module`` (CPU, eval mode) traced on ``example`` to ``path``, atomically, once.

    Threads exporting the same file wait for each other; a file that exists is kept.
    """
    with _EXPORT_LOCK:
        if path.exists():  # exported meanwhile by another thread
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings are about the export, not the user's data
            torch.onnx.export(
                module.cpu().eval(),
                example,
                str(tmp),
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes=dynamic_axes,
                opset_version=17,
                dynamo=False,
            )
