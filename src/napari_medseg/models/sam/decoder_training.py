"""What training a SAM mask decoder on a structure's slices is made of.

Targets in the decoder's low-resolution logit frame, the Dice + BCE loss inside the part of
that frame the slice covers, box prompts jittered as a user would draw them, and logits for
a batch of (embedding, box) pairs, for :func:`.adapter.adapt_steps`. Slices are (rows, columns)
= (H, W); boxes ``(x0, y0, x1, y1)`` in slice pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .networks import SamNetwork
from .propagation import mask_box

__all__ = ["decode_logits", "dice_bce_loss", "jittered_box", "logit_frame_target"]


def logit_frame_target(mask: np.ndarray, network: SamNetwork, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """A (H, W) bool mask in the decoder's (size, size) logit frame (soft, area-resized) and
    the (rows, cols) of that frame covered by the slice (the rest is padding)."""
    import cv2

    h, w = mask.shape
    if network.sam_type == "medsam":  # squashed to the square, no padding
        new_h = new_w = size
    else:
        scale = size / max(h, w)
        new_h, new_w = int(h * scale + 0.5), int(w * scale + 0.5)
    small = cv2.resize(mask.astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size), np.float32)
    out[:new_h, :new_w] = small
    return torch.from_numpy(out), (new_h, new_w)


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor, valid: tuple[int, int]) -> torch.Tensor:
    """Dice + BCE of (B, 1, s, s) logits against (B, s, s) soft targets, inside ``valid``."""
    rows, cols = valid
    logits, target = logits[:, 0, :rows, :cols], target[:, :rows, :cols]
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(1, 2))
    dice = 1 - (2 * inter + 1) / (prob.sum(dim=(1, 2)) + target.sum(dim=(1, 2)) + 1)
    return bce + dice.mean()


def jittered_box(mask: np.ndarray, rng: np.random.Generator, margin: float, jitter: float) -> np.ndarray:
    """The mask's box grown by ``margin`` and each side moved by up to ``jitter`` pixels."""
    h, w = mask.shape
    box = np.asarray(mask_box(mask, margin), float) + rng.uniform(-jitter, jitter, 4)
    box[[0, 2]] = np.clip(box[[0, 2]], 0, w - 1)
    box[[1, 3]] = np.clip(box[[1, 3]], 0, h - 1)
    return np.array([min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])])


def decode_logits(
    network: SamNetwork,
    decoder,
    prompt_encoder,
    embeddings: torch.Tensor,
    boxes: torch.Tensor,
    train_prompt_encoder: bool = False,
) -> torch.Tensor:
    """(B, 1, s, s) logits for B embeddings and B boxes (model frame), one box per embedding.

    Gradients reach the prompt encoder only when it is trained (a shared base prompt encoder
    gets no ``.grad``)."""
    with torch.set_grad_enabled(train_prompt_encoder and torch.is_grad_enabled()):
        sparse, dense = prompt_encoder(points=None, boxes=boxes[:, None], masks=None)
        pe = prompt_encoder.get_dense_pe()
    if network.sam_type == "litemedsam":  # its decoder pairs the i-th embedding with the i-th box
        return decoder(
            image_embeddings=embeddings,
            image_pe=pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )[0]
    return torch.cat(
        [
            decoder(
                image_embeddings=embeddings[i : i + 1],
                image_pe=pe,
                sparse_prompt_embeddings=sparse[i : i + 1],
                dense_prompt_embeddings=dense[i : i + 1],
                multimask_output=False,
            )[0]
            for i in range(len(boxes))
        ]
    )
