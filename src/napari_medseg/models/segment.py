"""One entry point for automatic segmentation: a volume and a model name in, labels out.

``segment_volume(volume, "brain-tissue")`` resolves the name (:mod:`.registry`), builds
the pipeline once per model content (cached), and runs it (:mod:`.unet.inference`). Used by
``medseg segment``, the napari Segment widget and ``medseg demo``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import MedsegError
from ..volume import Volume
from .registry import ModelInfo, find_model
from .triton_guard import keep_triton_out_beside_mesa_llvm
from .unet.inference import ProgressCallback, Segmentation, run_pipeline
from .unet.pipeline import Pipeline

_CACHE: dict[tuple, Pipeline] = {}
_LOCK = threading.Lock()


def _content_key(kind: str, path: Path) -> tuple:
    """Changes when any file of the model changes (path, size and mtime of each file)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if kind == "checkpoint":
        from .unet.checkpoint_description import read_description

        files.append(path.parent / read_description(path)["weights"])
    stats = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.exists())
    return kind, str(path), stats


def load_pipeline(
    model: str | Path | ModelInfo, trust_bundle: bool = False, argmax_first: bool | None = None
) -> Pipeline:
    """The runnable pipeline of a model name or path (cached while its files are unchanged).

    Parameters
    ----------
    model : registry name, bundle folder, checkpoint description, or a ModelInfo
    trust_bundle : bool
        The user trusts this (user) bundle: remember it and run it.
    argmax_first : bool, optional
        Bundles only: argmax before ``Invertd`` (default: for models with many classes;
        see :mod:`.unet.bundle`).

    Raises
    ------
    UntrustedBundleError, MedsegError
    """
    info = model if isinstance(model, ModelInfo) else find_model(model)
    if info.kind == "sam":
        raise MedsegError(
            f"{info.name} is a prompted model: use the Interactive SAM widget, or medseg segment with --box / --points"
        )
    if info.path is None:
        raise MedsegError(f"{info.name}: the registry gives no files for this model")
    key = (_content_key(info.kind, info.path), argmax_first)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    keep_triton_out_beside_mesa_llvm()  # inside napari on Mesa, MONAI's imports must not load Triton
    if info.kind == "bundle":
        from .unet.bundle import load_bundle

        pipeline = load_bundle(info.path, trust_now=trust_bundle, name=info.name, argmax_first=argmax_first)
    else:
        from .unet.checkpoint_description import load_checkpoint

        pipeline = load_checkpoint(info.path, name=info.name)
    with _LOCK:
        _CACHE[key] = pipeline
    return pipeline


def segment_volume(
    volume: Volume,
    model: str | Path | ModelInfo = "brain-tissue",
    device: str = "auto",
    trust_bundle: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    argmax_first: bool | None = None,
) -> Segmentation:
    """Segment a volume with a U-Net style model; labels come back on the volume's grid.

    Parameters
    ----------
    volume : Volume
        (Z, Y, X) array with its LPS affine; any spacing and orientation.
    model : name (``brain-tissue``), bundle folder or checkpoint description
    device : {"auto", "cpu", "cuda", "mps"}
    trust_bundle : bool
        Trust a user bundle (remembered by content hash).
    progress : callable(fraction, message) -> bool or None
        Returning ``False`` cancels.
    cancel : threading.Event, optional
    argmax_first : bool, optional
        See :func:`load_pipeline`.

    Returns
    -------
    Segmentation
        ``labels`` has ``volume.shape`` and the same axis order.
    """
    return run_pipeline(load_pipeline(model, trust_bundle, argmax_first), volume, device, progress, cancel)
