"""LiteMedSAM's encoder and box decoder through ONNX Runtime: same outputs, faster on a CPU.

Both are exported once per checkpoint (``torch.onnx.export``, ~6 s) into the user cache
(``$NAPARI_MEDSEG_CACHE`` or ``$XDG_CACHE_HOME/napari-medseg``, default
``~/.cache/napari-medseg``) under the checkpoint's SHA-256, then run by ONNX Runtime's CPU
provider. Embeddings differ from PyTorch's by ~3e-6 (relative mean), decoder logits by
< 2e-5 (absolute). Prompts with clicks keep the PyTorch decoder (their count varies).
"""
from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...cache import cache_root
from ...io.atomic import atomic_path
from .networks import SamNetwork

__all__ = ["OnnxBoxDecoder", "OnnxEncoder", "onnx_available", "onnx_models"]

_EXPORT_LOCK = threading.Lock()



def onnx_available() -> bool:
    """True when ``onnxruntime`` and ``onnx`` (needed to export) import."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _session(path: Path, threads: int | None, spinning: bool):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    if not spinning:  # idle worker threads sleep instead of spinning: better on a shared CPU
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """Callable like the PyTorch encoder: (B, 3, S, S) float tensor -> (B, C, h, w) tensor.

    Parameters
    ----------
    path : path
        The exported ``.onnx`` file. TinyViT's reshapes fix the batch size at export, so the
        graph takes one slice and a batch is run slice by slice.
    threads : int, optional
        ONNX Runtime intra-op threads; default ``torch.get_num_threads()``.
    spinning : bool
        Let idle pool threads spin. Off by default: on a shared CPU (load 5 on 2 cores) spinning
        made 2 threads slower than 1 (1.75 s vs 1.33 s per slice); without it they are on par.
    """

    def __init__(self, path: str | Path, threads: int | None = None, spinning: bool = False):
        self.path = Path(path)
        self.session = _session(self.path, threads, spinning)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(np.concatenate([self.session.run(None, {"image": one[None]})[0] for one in array]))


class _BoxDecoder(nn.Module):
    """Prompt encoder + mask decoder for one box: (1, C, h, w), (1, 1, 4) -> (1, 1, S, S) logits."""

    def __init__(self, network: SamNetwork):
        super().__init__()
        self.prompt_encoder, self.mask_decoder = network.prompt_encoder, network.mask_decoder

    def forward(self, embedding: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        sparse, dense = self.prompt_encoder(points=None, boxes=boxes, masks=None)
        logits, _ = self.mask_decoder(image_embeddings=embedding, image_pe=self.prompt_encoder.get_dense_pe(),
                                      sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                      multimask_output=False)
        return logits


class OnnxBoxDecoder:
    """Callable: embedding (1, C, h, w) and box (1, 1, 4) tensors (model frame) -> logits tensor."""

    def __init__(self, path: str | Path, threads: int | None = None, spinning: bool = False):
        self.path = Path(path)
        self.session = _session(self.path, threads, spinning)

    def __call__(self, embedding: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        feeds = {"embedding": np.ascontiguousarray(embedding.cpu().numpy(), np.float32),
                 "boxes": np.ascontiguousarray(boxes.cpu().numpy(), np.float32)}
        return torch.from_numpy(self.session.run(None, feeds)[0])


def _export(module: nn.Module, example: tuple, names: list[str], path: Path) -> None:
    with _EXPORT_LOCK:
        if path.exists():  # exported meanwhile by another thread
            return
        with atomic_path(path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.cpu().eval(), example, str(tmp), input_names=names[:-1], output_names=names[-1:],
                              opset_version=17, dynamo=False)


def onnx_models(network: SamNetwork, directory: str | Path | None = None
                ) -> tuple[OnnxEncoder, OnnxBoxDecoder] | None:
    """ONNX Runtime encoder and box decoder for a CPU LiteMedSAM ``network`` (exported on
    first use), or None when ONNX Runtime is missing or the export fails (PyTorch is kept).

    Only LiteMedSAM is exported: the 1024-input ViTs are not worth a multi-GB export.
    """
    if network.sam_type != "litemedsam" or network.device.type != "cpu" or not onnx_available():
        return None
    stem = f"{network.sam_type}-{network.model_id.split(':')[-1][:16]}-torch{torch.__version__}"
    folder = Path(directory or cache_root()) / "encoders"
    s = network.input_size
    embedding = torch.zeros(1, network.prompt_encoder.embed_dim, *network.prompt_encoder.image_embedding_size)
    try:
        encoder_path, decoder_path = folder / f"{stem}-b1.onnx", folder / f"{stem}-box-decoder.onnx"
        if not encoder_path.exists():
            _export(network.image_encoder, (torch.zeros(1, 3, s, s),), ["image", "embedding"], encoder_path)
        if not decoder_path.exists():
            _export(_BoxDecoder(network), (embedding, torch.tensor([[[0.0, 0.0, s / 2, s / 2]]])),
                    ["embedding", "boxes", "logits"], decoder_path)
        return OnnxEncoder(encoder_path), OnnxBoxDecoder(decoder_path)
    except Exception as exc:  # export/runtime problems fall back to PyTorch, with a warning
        warnings.warn(f"ONNX Runtime unavailable ({type(exc).__name__}: {exc}); using PyTorch", stacklevel=2)
        return None
