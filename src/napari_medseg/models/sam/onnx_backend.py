"""LiteMedSAM's encoder and box decoder through ONNX Runtime: same outputs, faster on a CPU.

Both are exported once per checkpoint into the user cache under the checkpoint's SHA-256,
then run by ONNX Runtime's CPU provider (:mod:`..onnx_runtime`; ``NAPARI_MEDSEG_ONNX=0``
keeps PyTorch). Embeddings differ from PyTorch's by ~3e-6 (relative mean), decoder logits by
< 2e-5 (absolute). Prompts with clicks keep the PyTorch decoder (their count varies).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..onnx_runtime import cache_folder, cpu_session, export_onnx, onnx_enabled
from .networks import SamNetwork

__all__ = ["OnnxBoxDecoder", "OnnxEncoder", "onnx_models"]


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
        Let idle pool threads spin (off by default: on a shared CPU, spinning threads slow the others).
    """

    def __init__(self, path: str | Path, threads: int | None = None, spinning: bool = False):
        self.path = Path(path)
        self.session = cpu_session(self.path, threads, spinning)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(np.concatenate([self.session.run(None, {"image": one[None]})[0] for one in array]))


class _BoxDecoder(nn.Module):
    """Prompt encoder + mask decoder for one box: (1, C, h, w), (1, 1, 4) -> (1, 1, S, S) logits."""

    prompt_encoder: Any
    mask_decoder: Any

    def __init__(self, network: SamNetwork):
        super().__init__()
        self.prompt_encoder, self.mask_decoder = network.prompt_encoder, network.mask_decoder

    def forward(self, embedding: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        sparse, dense = self.prompt_encoder(points=None, boxes=boxes, masks=None)
        logits, _ = self.mask_decoder(
            image_embeddings=embedding,
            image_pe=self.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
        return logits


class OnnxBoxDecoder:
    """Callable: embedding (1, C, h, w) and box (1, 1, 4) tensors (model frame) -> logits tensor."""

    def __init__(self, path: str | Path, threads: int | None = None, spinning: bool = False):
        self.path = Path(path)
        self.session = cpu_session(self.path, threads, spinning)

    def __call__(self, embedding: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        feeds = {
            "embedding": np.ascontiguousarray(embedding.cpu().numpy(), np.float32),
            "boxes": np.ascontiguousarray(boxes.cpu().numpy(), np.float32),
        }
        return torch.from_numpy(self.session.run(None, feeds)[0])


def onnx_models(network: SamNetwork, directory: str | Path | None = None) -> tuple[OnnxEncoder, OnnxBoxDecoder] | None:
    """ONNX Runtime encoder and box decoder for a CPU LiteMedSAM ``network`` (exported on
    first use), or None when ONNX Runtime is missing or the export fails (PyTorch is kept).

    Only LiteMedSAM is exported: the 1024-input ViTs are not worth a multi-GB export.
    """
    if network.sam_type != "litemedsam" or network.device.type != "cpu" or not onnx_enabled():
        return None
    stem = f"{network.sam_type}-{network.model_id.split(':')[-1][:16]}-torch{torch.__version__}"
    folder = Path(directory) / "encoders" if directory else cache_folder("encoders")
    s = network.input_size
    embedding = torch.zeros(1, network.prompt_encoder.embed_dim, *network.prompt_encoder.image_embedding_size)
    try:
        encoder_path, decoder_path = folder / f"{stem}-b1.onnx", folder / f"{stem}-box-decoder.onnx"
        if not encoder_path.exists():
            export_onnx(network.image_encoder, (torch.zeros(1, 3, s, s),), encoder_path, ["image"], ["embedding"])
        if not decoder_path.exists():
            export_onnx(
                _BoxDecoder(network),
                (embedding, torch.tensor([[[0.0, 0.0, s / 2, s / 2]]])),
                decoder_path,
                ["embedding", "boxes"],
                ["logits"],
            )
        return OnnxEncoder(encoder_path), OnnxBoxDecoder(decoder_path)
    except Exception as exc:  # export/runtime problems fall back to PyTorch, with a warning
        warnings.warn(f"ONNX Runtime unavailable ({type(exc).__name__}: {exc}); using PyTorch", stacklevel=2)
        return None
