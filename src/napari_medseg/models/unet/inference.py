"""Run a :class:`~.pipeline.Pipeline` on a volume: device choice, GPU memory fallback, progress, cancel.

Devices: ``auto`` picks CUDA (with automatic mixed precision), then Apple MPS, then the
CPU. On the CPU, sliding-window batches run through ONNX Runtime (:mod:`.onnx_network`;
PyTorch where the export fails). On CUDA, windows run and are stitched on the GPU, unless
the stitched output would not fit in half the free GPU memory (:func:`stitching_fits`): then
it is stitched on the CPU from the start. A CUDA out-of-memory error retries with half the
window batch down to one window, then stitches on the CPU (``device='cpu'``,
``sw_device='cuda'``), and says so through the progress callback.

Progress callbacks take ``(fraction in [0, 1], message)``; returning ``False`` cancels,
as does setting the ``cancel`` event. Cancelling raises :class:`SegmentationCancelled`
between two window batches.

Runs are re-entrant: a cached :class:`~.pipeline.Pipeline` is never changed by a run. Each
run works on its own copy of the inferer (window batch size and devices are per run), and a
network wanted on another device than the one it was loaded on is copied there once
(:func:`network_on`), never moved in place, so two runs sharing one cached model in two
threads (a Dask worker's threads, the GUI beside ``medseg gui``) do not interfere.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...errors import MedsegError
from ...volume import Volume
from ..devices import resolve_device
from .metatensor import labels_on_volume_grid, volume_to_metatensor
from .pipeline import Pipeline
from .resample_grid import axis_aligned_grids

ProgressCallback = Callable[[float, str], "bool | None"]


class SegmentationCancelled(MedsegError):
    """The user cancelled a running segmentation."""

    def __init__(self) -> None:
        super().__init__("segmentation cancelled")


@dataclass
class Segmentation:
    """A label map on the input volume's grid and what produced it.

    Attributes
    ----------
    labels : (Z, Y, X) ndarray of unsigned int, the input volume's grid and axis order.
    label_names : dict int -> str (foreground only).
    colours : dict int -> "#rrggbb".
    model : str
    device : str, where the windows ran (``cuda`` / ``mps`` / ``cpu``).
    seconds : float, wall time of the whole run.
    messages : list of str, fallbacks and adaptations worth telling the user.
    """

    labels: np.ndarray
    label_names: dict[int, str]
    colours: dict[int, str]
    model: str
    device: str
    seconds: float
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Attempt:
    """One way to run the sliding window: windows per batch and where to stitch."""

    sw_batch_size: int
    stitch_device: str


def fallback_plan(sw_batch_size: int, device: torch.device, stitch_on_gpu: bool = True) -> list[Attempt]:
    """Attempts in order: full window batch, halved down to 1, then CPU stitching (CUDA only).

    With ``stitch_on_gpu=False`` (the stitched probabilities would not fit, see
    :func:`stitching_fits`), every attempt stitches on the CPU, windows still on the GPU.
    """
    if device.type != "cuda":
        return [Attempt(sw_batch_size, device.type)]
    sizes = []
    b = max(1, int(sw_batch_size))
    while b > 1:
        sizes.append(b)
        b //= 2
    sizes.append(1)
    if not stitch_on_gpu:
        return [Attempt(b, "cpu") for b in sizes]
    return [Attempt(b, "cuda") for b in sizes] + [Attempt(1, "cpu")]


def stitching_fits(spatial_voxels: int, channels: int, free_bytes: int, share: float = 0.5) -> bool:
    """Whether the sliding window's stitched output fits in a share of the free GPU memory.

    MONAI stitches into one float32 buffer per output channel plus a count map, over the
    whole (resampled) image; windows and the network need the rest.

    Parameters
    ----------
    spatial_voxels : voxels of the network's input image (after preprocessing).
    channels : output channels of the network.
    free_bytes : free GPU memory (``torch.cuda.mem_get_info()[0]``).
    share : at most this share of the free memory for the stitching buffers.
    """
    return spatial_voxels * (channels + 1) * 4 <= share * free_bytes


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def run_with_fallback(
    infer_once: Callable[[Attempt], torch.Tensor], plan: Sequence[Attempt], say: Callable[[str], None]
) -> tuple[torch.Tensor, Attempt]:
    """Call ``infer_once`` with each attempt until one does not run out of GPU memory."""
    for i, attempt in enumerate(plan):
        try:
            return infer_once(attempt), attempt
        except RuntimeError as exc:
            if not is_out_of_memory(exc):
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if i + 1 == len(plan):
                raise MedsegError(
                    "the GPU ran out of memory even with one window at a time and CPU stitching; use --device cpu"
                ) from None
            nxt = plan[i + 1]
            how = (
                f"retrying with {nxt.sw_batch_size} window(s) per batch"
                if nxt.stitch_device == "cuda"
                else "retrying with windows on the GPU and stitching on the CPU"
            )
            say(f"GPU out of memory with {attempt.sw_batch_size} window(s) per batch; {how}")
    raise MedsegError("no way to run this model was found")  # only for an empty plan


def count_windows(image_shape: Sequence[int], roi_size: Sequence[int], overlap: float | Sequence[float]) -> int:
    """Number of sliding windows MONAI's ``sliding_window_inference`` visits for one image."""
    dims = len(image_shape)
    overlaps = np.broadcast_to(np.asarray(overlap, dtype=float), (dims,)).tolist()  # one per axis
    roi = [int(r) if int(r) > 0 else int(s) for r, s in zip(roi_size, image_shape)]
    total = 1
    for size, r, ov in zip(image_shape, roi, overlaps):
        size = max(size, r)
        step = r if r == size else max(int(r * (1 - ov)), 1)
        total *= 1 if size <= r else math.ceil((size - r) / step) + 1
    return total


class _Reporter:
    def __init__(self, progress: ProgressCallback | None, cancel: threading.Event | None):
        self.progress, self.cancel = progress, cancel
        self.messages: list[str] = []

    def __call__(self, fraction: float, message: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise SegmentationCancelled()
        if self.progress is not None and self.progress(min(max(fraction, 0.0), 1.0), message) is False:
            raise SegmentationCancelled()

    def say(self, message: str) -> None:
        self.messages.append(message)
        self(0.05, message)


#: Copies of cached networks on other devices than the one they were loaded on: network -> {device: copy}.
_ON_DEVICE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ON_DEVICE_LOCK = threading.Lock()


def network_on(network: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``network`` itself when its parameters are on ``device``, else a copy there (made once).

    The cached network is never moved: another run may be using it on its own device.
    """
    tensors = list(network.parameters()) + list(network.buffers())
    if all(t.device == device for t in tensors) or (not tensors and device.type == "cpu"):
        return network
    with _ON_DEVICE_LOCK:
        copies = _ON_DEVICE.setdefault(network, {})
        if str(device) not in copies:
            copies[str(device)] = copy.deepcopy(network).to(device).eval()
        return copies[str(device)]


def require_finite(volume: Volume) -> None:
    """Refuse a volume with NaN or infinite voxels, or a single voxel (see :func:`..input_checks.require_finite`)."""
    from ..input_checks import require_finite as require_finite_array

    require_finite_array(volume.array, volume.meta.get("path") or "the image")


def _sliding(inferer) -> bool:
    return all(hasattr(inferer, a) for a in ("roi_size", "sw_batch_size", "overlap"))


def run_pipeline(
    pipeline: Pipeline,
    volume: Volume,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Segmentation:
    """Segment ``volume`` with ``pipeline``; the labels come back on the volume's grid.

    Parameters
    ----------
    pipeline : Pipeline
    volume : Volume
        Any geometry; the model's own transforms resample and invert.
    device : {"auto", "cpu", "cuda", "mps"}
    progress : callable(fraction, message) -> bool or None, optional
        Returning ``False`` cancels.
    cancel : threading.Event, optional

    Raises
    ------
    SegmentationCancelled, MedsegError
        Also for a volume with NaN or infinite voxels (:func:`require_finite`).
    """
    from monai.data import decollate_batch, list_data_collate

    require_finite(volume)
    start = time.perf_counter()
    dev = resolve_device(device)
    report = _Reporter(progress, cancel)
    report(0.0, f"preprocessing for {pipeline.name}")
    key = pipeline.image_key
    image = volume_to_metatensor(volume, pipeline.input_dtype, pipeline.channel_first)
    with axis_aligned_grids():  # Spacingd's grid, bit for bit, without the matrix product
        batch = list_data_collate([pipeline.preprocessing({key: image})])
    inputs = batch[key]
    network = network_on(pipeline.network, dev)
    # per-run batch size and devices; the cached one stays as built (a SlidingWindowInferer when `sliding`)
    inferer: Any = copy.copy(pipeline.inferer)
    sliding = _sliding(inferer)
    bundle_sw = int(inferer.sw_batch_size) if sliding else 1
    amp = torch.autocast("cuda", dtype=torch.float16) if dev.type == "cuda" else nullcontext()
    runners: dict[tuple, object] = {}

    def cpu_runner(window: tuple):
        """ONNX Runtime for windows of this shape (exported on first use), or None for PyTorch."""
        if window not in runners:
            from .onnx_network import onnx_network

            runners[window], why = onnx_network(network, window)
            if why:
                report.say(why)
        return runners[window]

    def infer_once(attempt: Attempt) -> torch.Tensor:
        total = 1
        if sliding:
            inferer.sw_batch_size = attempt.sw_batch_size
            inferer.sw_device, inferer.device = dev, torch.device(attempt.stitch_device)
            windows = count_windows(inputs.shape[2:], inferer.roi_size, inferer.overlap)
            total = math.ceil(windows / attempt.sw_batch_size)
        done = [0]

        def forward(x, *args, **kwargs):
            report(0.05 + 0.85 * done[0] / total, f"{pipeline.name}: window batch {done[0] + 1}/{total} on {dev.type}")
            fixed_windows = sliding and dev.type == "cpu" and not args and not kwargs  # one export per window shape
            run = cpu_runner(tuple(x.shape[1:])) if fixed_windows else None
            out = run(x) if run is not None else network(x, *args, **kwargs)
            done[0] += 1
            return out

        with torch.no_grad(), amp:
            return inferer(inputs if sliding else inputs.to(dev), forward)

    stitch_on_gpu = True
    if sliding and dev.type == "cuda":
        channels = max(len(pipeline.label_names) + 1, 2)
        stitch_on_gpu = stitching_fits(int(inputs[0, 0].numel()), channels, torch.cuda.mem_get_info(dev)[0])
        if not stitch_on_gpu:
            report.say(
                f"{channels} channels of {tuple(inputs.shape[2:])} voxels would not fit in free GPU memory: "
                "windows on the GPU, stitching on the CPU"
            )
    pred, _ = run_with_fallback(infer_once, fallback_plan(bundle_sw, dev, stitch_on_gpu), report.say)
    report(0.9, "post-processing")
    item = decollate_batch({key: inputs, "pred": pred.detach().float().cpu()})[0]
    with axis_aligned_grids():  # the same for Invertd's resampling back (or ours, without Invertd)
        out = pipeline.postprocessing(item)
        labels = labels_on_volume_grid(out["pred"], volume)
    report(1.0, "done")
    return Segmentation(
        labels,
        dict(pipeline.label_names),
        {k: pipeline.colour_of(k) for k in pipeline.label_names},
        pipeline.name,
        dev.type,
        time.perf_counter() - start,
        list(pipeline.notes) + report.messages,
    )
