"""One predictor for every SAM-family network: embed slices (cached), predict from prompts."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence

import numpy as np
import torch

from .embedding_cache import EmbeddingCache, Key
from .networks import SamNetwork
from .preprocessing import SliceGeometry, SliceTransform

__all__ = ["SamPredictor", "torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run a block with ``n`` PyTorch intra-op threads (None: unchanged), then restore.

    The mask decoder is small: one thread took 0.13 s a prompt where two took 1.0 s on a
    busy 2-core CPU (threads waiting on each other).
    """
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class SamPredictor:
    """Embeds 2D slices and turns box / point prompts into masks.

    Parameters
    ----------
    network : SamNetwork
        From :func:`~napari_medseg.models.sam.networks.build_network`.
    cache : EmbeddingCache, optional
        Where embeddings are kept by key; a private 64-slice LRU by default.
    batch_size : int
        Slices encoded together by :meth:`embed`.
    encoder : callable, optional
        Replaces ``network.image_encoder`` (e.g. :class:`~.onnx_backend.OnnxEncoder`): maps a
        (B, 3, S, S) float tensor to (B, C, h, w) embeddings.
    box_decoder : callable, optional
        Decodes box-only prompts (e.g. :class:`~.onnx_backend.OnnxBoxDecoder`): maps an
        embedding (1, C, h, w) and a box (1, 1, 4) in the model frame to logits (1, 1, s, s).

    Notes
    -----
    Slices are (H, W) uint8 arrays (already windowed, see ``intensity.py``); prompts are in
    pixel indices of the slice: boxes ``(x0, y0, x1, y1)``, points ``(x, y)`` with labels
    1 (inside) / 0 (outside). Model calls are serialised by a lock, so a background thread
    may precompute embeddings while another predicts.
    """

    def __init__(
        self,
        network: SamNetwork,
        cache: EmbeddingCache | None = None,
        batch_size: int = 4,
        encoder=None,
        box_decoder=None,
    ):
        self.network = network
        self.encoder = encoder if encoder is not None else network.image_encoder
        self.box_decoder = box_decoder
        self.transform = SliceTransform(network.sam_type, network.input_size)
        self.cache = cache if cache is not None else EmbeddingCache()
        self.batch_size = batch_size
        self._lock = threading.RLock()
        self._embedding: torch.Tensor | None = None
        self._geometry: SliceGeometry | None = None
        self.seconds_per_slice: float | None = None  # measured encoder time, last batch

    @property
    def device(self) -> torch.device:
        return self.network.device

    def embed(self, slices: Sequence[np.ndarray], keys: Sequence[Key | None] | None = None) -> list[torch.Tensor]:
        """Embeddings (C, h, w) of (H, W) uint8 slices, from the cache or encoded in batches.

        Slices with a key are looked up first and stored after encoding.
        """
        keys = list(keys) if keys is not None else [None] * len(slices)
        out: list[torch.Tensor | None] = [self.cache.get(k) if k is not None else None for k in keys]
        todo = [i for i, e in enumerate(out) if e is None]
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            batch = np.stack([self.transform.image(slices[i])[0] for i in chunk])
            with self._lock, torch.inference_mode():
                start_time = time.perf_counter()
                embeddings = self.encoder(torch.from_numpy(batch).to(self.device)).cpu()
                self.seconds_per_slice = (time.perf_counter() - start_time) / len(chunk)
            for i, embedding in zip(chunk, embeddings):
                out[i] = embedding
                key = keys[i]
                if key is not None:
                    self.cache.put(key, embedding)
        return [e for e in out if e is not None]  # every slice is embedded by now

    def is_cached(self, key: Key) -> bool:
        """True when the embedding under ``key`` is in memory or on disk."""
        return key in self.cache

    def set_slice(self, slice_u8: np.ndarray, key: Key | None = None) -> None:
        """Make ``slice_u8`` the slice that :meth:`predict` segments (embedding it if needed)."""
        self._embedding = self.embed([slice_u8], [key])[0]
        self._geometry = self.transform.geometry(*slice_u8.shape)

    def predict(self, box=None, points=None, point_labels=None) -> np.ndarray:
        """Mask (H, W) bool of the current slice for a box and/or points.

        Parameters
        ----------
        box : sequence of 4 floats, optional
            ``(x0, y0, x1, y1)`` in slice pixels (inclusive corners).
        points : (N, 2) array-like, optional
            ``(x, y)`` in slice pixels.
        point_labels : (N,) array-like, optional
            1 for inside, 0 for outside; all 1 when omitted.
        """
        if self._embedding is None or self._geometry is None:
            raise RuntimeError("call set_slice() before predict()")
        return self.predict_with(self._embedding, self._geometry, box, points, point_labels)

    def decode_boxes(self, embedding: torch.Tensor, geo: SliceGeometry, boxes) -> tuple[np.ndarray, np.ndarray]:
        """Masks and SAM's own IoU predictions for several boxes on one embedded slice.

        Parameters
        ----------
        embedding : (C, h, w) tensor
            From :meth:`embed`.
        geo : SliceGeometry
            The slice's geometry (``self.transform.geometry(H, W)``).
        boxes : (B, 4) array-like
            ``(x0, y0, x1, y1)`` in slice pixels, decoded together in one batch.

        Returns
        -------
        masks : (B, H, W) bool
        iou : (B,) float
            The decoder's predicted IoU of each mask (its confidence, 0..1).
        """
        t = self.transform
        frame = np.stack([t.box(b, geo) for b in np.asarray(boxes, float).reshape(-1, 4)])
        with self._lock, torch.inference_mode(), torch_threads(1 if self.device.type == "cpu" else None):
            logits, iou = self._decode(embedding, torch.from_numpy(frame)[:, None].to(self.device), None)
            return t.masks(logits, geo).cpu().numpy(), iou[:, 0].float().cpu().numpy()

    def _decode(self, embedding: torch.Tensor, boxes, point_prompt) -> tuple[torch.Tensor, torch.Tensor]:
        """SAM's prompt encoder and mask decoder: low-resolution logits and predicted IoU."""
        net = self.network
        sparse, dense = net.prompt_encoder(points=point_prompt, boxes=boxes, masks=None)
        return net.mask_decoder(
            image_embeddings=embedding[None].to(self.device),
            image_pe=net.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )

    def predict_with(
        self, embedding: torch.Tensor, geo: SliceGeometry, box=None, points=None, point_labels=None
    ) -> np.ndarray:
        """:meth:`predict` on a given (C, h, w) embedding and slice geometry."""
        if box is None and (points is None or len(points) == 0):
            raise ValueError("a prompt needs a box or at least one point")
        device, t = self.device, self.transform
        boxes = None if box is None else torch.from_numpy(t.box(box, geo))[None, None].to(device)
        point_prompt = None
        if points is not None and len(points):
            coords = torch.from_numpy(t.points(points, geo))[None].to(device)
            labels = np.ones(len(coords[0])) if point_labels is None else np.asarray(point_labels)
            point_prompt = (coords, torch.as_tensor(labels, dtype=torch.int64, device=device)[None])
        threads = 1 if device.type == "cpu" else None
        with self._lock, torch.inference_mode(), torch_threads(threads):
            if point_prompt is None and self.box_decoder is not None:
                return t.masks(self.box_decoder(embedding[None], boxes), geo)[0].cpu().numpy()
            logits, _ = self._decode(embedding, boxes, point_prompt)
            return t.masks(logits, geo)[0].cpu().numpy()
