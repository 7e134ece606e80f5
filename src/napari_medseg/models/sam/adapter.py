"""Adapting a SAM-family model to one structure from a user's corrected slices.

LiteMedSAM was trained on boxes around whole organs; deep-brain nuclei, ventricles and
other structures it never saw score low (Dice 0.2-0.6). After the user has corrected K
slices of one structure, :func:`adapt_steps` fine-tunes a *copy* of the mask decoder
(optionally of the prompt encoder too) on those slices: each training pair is the slice's
embedding (from the predictor's cache: the encoder is not trained, so embeddings stay
valid), the box of the slice's mask jittered by a few pixels, and the mask itself in the
model's low-resolution logit frame (``preprocessing.SliceTransform``); left-right and
up-down flips of the slice add pairs. Loss: Dice + BCE; AdamW. About 20 % of the slices
(when K >= 5) are held out to measure Dice before and after.

The result, an :class:`Adapter`, belongs to one structure (label) of one user's data: it
is not a validated model. :func:`adapted_predictor` wraps it as a :class:`SamPredictor`
that shares the base predictor's encoder and embedding cache and decodes with its own
decoder; the base network is never modified. Saving and loading: ``adapter_store.py``.

Slices are (rows, columns) = (H, W); boxes ``(x0, y0, x1, y1)`` in slice pixels, as in
``predictor.py``.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .decoder_training import decode_logits, dice_bce_loss, jittered_box, logit_frame_target
from .embedding_cache import Key
from .networks import SamNetwork
from .predictor import SamPredictor, torch_threads
from .propagation import default_margin, drive, mask_box

__all__ = [
    "Adapter",
    "AdaptationCancelled",
    "STATEMENT",
    "adapt",
    "adapt_steps",
    "adapted_predictor",
    "held_out_slices",
]

#: What every adapter card says about itself.
STATEMENT = (
    "This adapter learned one structure from one user's corrections on one image. It is not a "
    "validated model: check every result it gives, and use it only for the structure it learned."
)


class AdaptationCancelled(Exception):
    """Raised by :func:`adapt` when its ``cancel`` callable returns True."""


@dataclass
class Adapter:
    """Fine-tuned decoder weights for one structure and the card that describes them.

    Attributes
    ----------
    state : dict of str -> tensor
        ``mask_decoder.*`` (and, when trained, ``prompt_encoder.*``) weights, CPU.
    card : dict
        JSON-ready record: ``base_model``, ``base_sha256``, ``label``, ``label_name``,
        ``slices``, ``held_out``, ``steps``, ``seconds``, ``dice_before``, ``dice_after``,
        ``created``, ``statement``, plus what the caller added (image, axis).
    """

    state: dict[str, torch.Tensor]
    card: dict = field(default_factory=dict)


def held_out_slices(indices: Sequence[int], fraction: float = 0.2, minimum_k: int = 5) -> list[int]:
    """The slices kept out of training to measure Dice: ``round(fraction * K)`` of them,
    evenly spread between the first and last (never those two); none when K < ``minimum_k``."""
    ordered = sorted(int(i) for i in indices)
    if len(ordered) < minimum_k:
        return []
    n = max(1, int(round(fraction * len(ordered))))
    positions = np.linspace(0, len(ordered) - 1, n + 2)[1:-1].round().astype(int)
    return [ordered[p] for p in sorted(set(positions.tolist()))]


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def adapted_predictor(base: SamPredictor, adapter: Adapter) -> SamPredictor:
    """A predictor that decodes with ``adapter``'s weights and shares ``base``'s encoder and cache.

    The base network is untouched: the mask decoder (and the prompt encoder, when the adapter
    trained it) are deep copies. Box prompts decode in PyTorch (the base's ONNX box decoder
    holds the base weights). The network keeps the base's ``model_id``: embedding keys stay
    valid (the encoder is the same) and nothing caches decoder outputs.

    Raises
    ------
    ValueError
        The adapter was trained on another base checkpoint.
    """
    net = base.network
    if adapter.card.get("base_sha256") != net.model_id.split(":")[-1]:
        raise ValueError(
            f"the adapter was trained on base model {str(adapter.card.get('base_sha256'))[:12]}..., "
            f"not on this {net.sam_type} ({net.model_id.split(':')[-1][:12]}...)"
        )
    decoder = copy.deepcopy(net.mask_decoder)
    prompt_encoder = (
        copy.deepcopy(net.prompt_encoder)
        if any(k.startswith("prompt_encoder.") for k in adapter.state)
        else net.prompt_encoder
    )
    adapted = SamNetwork(net.image_encoder, prompt_encoder, decoder, net.sam_type, net.input_size, net.model_id)
    own = {k: v for k, v in adapter.state.items() if not k.startswith("image_encoder.")}
    missing = [k for k in own if k not in adapted.state_dict()]
    if missing:
        raise ValueError(f"the adapter's weights do not fit a {net.sam_type} decoder (e.g. {missing[0]})")
    adapted.load_state_dict(own, strict=False)
    return SamPredictor(
        adapted.to(net.device).eval(), cache=base.cache, batch_size=base.batch_size, encoder=base.encoder
    )


def _held_out_dice(
    predictor: SamPredictor,
    stack_u8: np.ndarray,
    masks: np.ndarray,
    indices: list[int],
    keys: Callable[[int], Key | None],
) -> float | None:
    """Mean Dice of box prompts (each held-out mask's box, as propagation draws it) on ``indices``."""
    if not indices:
        return None
    geo = predictor.transform.geometry(*stack_u8.shape[1:])
    margin = default_margin(stack_u8.shape[1:])
    scores = []
    for i in indices:
        embedding = predictor.embed([stack_u8[i]], [keys(i)])[0]
        predicted = predictor.decode_boxes(embedding, geo, [mask_box(masks[i], margin)])[0][0]
        scores.append(_dice(predicted, masks[i]))
    return float(np.mean(scores))


def adapt_steps(
    predictor: SamPredictor,
    stack_u8: np.ndarray,
    masks: np.ndarray,
    indices: Sequence[int],
    *,
    label: int,
    steps: int = 100,
    lr: float = 1e-4,
    batch_size: int = 2,
    flips: bool = True,
    train_prompt_encoder: bool = False,
    jitter: float | None = None,
    held_out: Sequence[int] | None = None,
    keys: Callable[[int], Key | None] | None = None,
    seed: int = 0,
    record: dict | None = None,
) -> Generator[tuple[int, int], None, Adapter]:
    """Fine-tune a copy of the decoder on slices of one structure; a generator of ``(done, total)``
    returning the :class:`Adapter` (closing it early trains nothing further).

    Parameters
    ----------
    predictor : SamPredictor
        The base model; its network is not modified.
    stack_u8 : (N, H, W) uint8
        Slices along axis 0, windowed as the model sees them.
    masks : (N, H, W) bool
        The structure on those slices (the user's corrected masks); only ``indices`` are read.
    indices : sequence of int
        The corrected slices (each must hold part of the structure).
    label : int
        The structure's label value (recorded; the adapter is used for it only).
    steps : int
        Optimiser steps of ``batch_size`` pairs each.
    lr : float
        AdamW learning rate.
    flips : bool
        Add left-right and up-down flipped slices (each flipped slice is encoded once).
    train_prompt_encoder : bool
        Also fine-tune the prompt encoder (by default only the mask decoder).
    jitter : float, optional
        Pixels each box side moves at random; default the propagation margin.
    held_out : sequence of int, optional
        Slices kept out of training to measure Dice; default :func:`held_out_slices`.
    keys : callable, optional
        ``keys(index)`` -> embedding-cache key of slice ``index`` (reuses cached embeddings).
    seed : int
        Seeds box jitter and sampling (the result is repeatable on one machine).
    record : dict, optional
        Added to the card (image, axis, label name, slices as the user numbers them).

    Yields
    ------
    (done, total)
        After each slice encoded and each step.
    """
    started = time.perf_counter()
    indices = sorted({int(i) for i in indices})
    if not indices:
        raise ValueError("adapting needs at least one corrected slice")
    empty = [i for i in indices if not masks[i].any()]
    if empty:
        raise ValueError(f"slices {empty} hold none of the structure: correct them first or leave them out")
    held = held_out_slices(indices) if held_out is None else sorted(int(i) for i in held_out)
    train = [i for i in indices if i not in held] or indices
    keys = keys or (lambda index: None)
    net = predictor.network
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    margin = default_margin(stack_u8.shape[1:])
    jitter = margin if jitter is None else float(jitter)
    geo = predictor.transform.geometry(*stack_u8.shape[1:])

    flip_ops = [lambda a: a, np.fliplr, np.flipud] if flips else [lambda a: a]
    total = len(train) * len(flip_ops) + steps + len(held)
    done = 0
    pairs = []  # (embedding (C, h, w), mask (H, W) as trained)
    for op_number, op in enumerate(flip_ops):
        for i in train:
            image = np.ascontiguousarray(op(stack_u8[i]))
            embedding = predictor.embed([image], [keys(i) if op_number == 0 else None])[0]
            pairs.append((embedding, np.ascontiguousarray(op(masks[i]))))
            done += 1
            yield done, total
    before = _held_out_dice(predictor, stack_u8, masks, held, keys)

    decoder = copy.deepcopy(net.mask_decoder).train()
    prompt_encoder = copy.deepcopy(net.prompt_encoder) if train_prompt_encoder else net.prompt_encoder
    params = list(decoder.parameters()) + (list(prompt_encoder.parameters()) if train_prompt_encoder else [])
    for p in params:
        p.requires_grad_(True)
    optimiser = torch.optim.AdamW(params, lr=lr)
    targets, valid = [], (0, 0)
    with torch.no_grad():
        probe = decode_logits(
            net,
            net.mask_decoder,
            net.prompt_encoder,
            pairs[0][0][None].to(net.device),
            torch.zeros(1, 4, device=net.device),
        )
    size = probe.shape[-1]
    for _, mask in pairs:
        target, valid = logit_frame_target(mask, net, size)
        targets.append(target)
    losses = []
    threads = 1 if net.device.type == "cpu" else None  # 1.4 s a step where 2 threads took 5 s on a busy 2-core CPU
    with torch.enable_grad(), torch_threads(threads):
        for _ in range(steps):
            chosen = torch.randint(len(pairs), (batch_size,), generator=generator).tolist()
            embeddings = torch.stack([pairs[c][0] for c in chosen]).to(net.device)
            boxes = np.stack(
                [predictor.transform.box(jittered_box(pairs[c][1], rng, margin, jitter), geo) for c in chosen]
            )
            logits = decode_logits(
                net, decoder, prompt_encoder, embeddings, torch.from_numpy(boxes).to(net.device), train_prompt_encoder
            )
            loss = dice_bce_loss(logits, torch.stack([targets[c] for c in chosen]).to(net.device), valid)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            done += 1
            yield done, total

    state = {f"mask_decoder.{k}": v.detach().cpu().clone() for k, v in decoder.state_dict().items()}
    if train_prompt_encoder:
        state.update({f"prompt_encoder.{k}": v.detach().cpu().clone() for k, v in prompt_encoder.state_dict().items()})
    adapter = Adapter(
        state,
        {
            "format": 1,
            "base_model": net.sam_type,
            "base_sha256": net.model_id.split(":")[-1],
            "label": int(label),
            "label_name": "",
            "slices": indices,
            "held_out": held,
            "trained": ["mask_decoder"] + (["prompt_encoder"] if train_prompt_encoder else []),
            "steps": steps,
            "batch_size": batch_size,
            "learning_rate": lr,
            "flips": flips,
            "loss_first": losses[0] if losses else None,
            "loss_last": float(np.mean(losses[-10:])) if losses else None,
            "dice_before": before,
        },
    )
    after = None
    if held:
        adapted = adapted_predictor(predictor, adapter)
        after = _held_out_dice(adapted, stack_u8, masks, held, keys)
    yield total, total
    adapter.card.update(
        {
            "dice_after": after,
            "seconds": round(time.perf_counter() - started, 1),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **(record or {}),
            "statement": STATEMENT,
        }
    )
    return adapter


def adapt(
    predictor: SamPredictor,
    stack_u8: np.ndarray,
    masks: np.ndarray,
    indices: Sequence[int],
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    **options,
) -> Adapter:
    """:func:`adapt_steps` run to its end; ``progress(done, total)`` after each step, ``cancel()``
    polled before each (True raises :class:`AdaptationCancelled`). ``options``: as for :func:`adapt_steps`."""
    steps = adapt_steps(predictor, stack_u8, masks, indices, **options)
    return drive(steps, progress, cancel, AdaptationCancelled)
