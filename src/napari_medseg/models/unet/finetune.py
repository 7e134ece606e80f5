"""Fine-tune a 3D U-Net bundle on corrected label volumes and save it as a new bundle.

A user who corrected a model's labels on one or more volumes can teach the model those
corrections: :func:`finetune_bundle` trains a copy of the bundle's network for a few
epochs on random patches of the corrected cases and writes a new bundle folder (the
base's configs, ``models/model.pt`` with the new weights, and ``finetune_record.json``:
base model and its hashes, cases, epochs, time, loss). The base bundle is never changed.

What the network is trained on is what it will see: each image goes through the
bundle's own preprocessing (:mod:`.pipeline`, e.g. reorientation, 2 mm spacing,
z-score) and its labels are resampled onto that grid with nearest neighbour. Patches
(64^3 by default) are drawn half the time around a foreground voxel; intensities are
scaled, shifted and noised a little inside the image (zeros stay zero). Loss: Dice +
cross-entropy; AdamW. CPU by default; progress through a callback, cancel by an event
or by the callback returning ``False`` (nothing is written then).

The new bundle's configs are copied byte for byte from a bundle the user already
trusted (or a shipped one), so it is recorded as trusted under its own digest
(:mod:`.trust`). A fine-tuned model learned from one user's corrections; it is not a
validated model.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...errors import MedsegError
from ...volume import Volume
from ..weights import file_sha256
from .inference import ProgressCallback
from .metatensor import volume_to_metatensor
from .pipeline import Pipeline

RECORD_NAME = "finetune_record.json"


class FinetuneCancelled(MedsegError):
    """The user cancelled fine-tuning; nothing was written."""

    def __init__(self) -> None:
        super().__init__("fine-tuning cancelled; nothing was written")


@dataclass
class TrainingCase:
    """An image and its corrected labels (same grid), with a name for the record."""

    image: Volume
    labels: Volume
    name: str = "case"


@dataclass(frozen=True)
class TrainingSettings:
    """How a network is trained on patches (see :func:`train_network`).

    Attributes
    ----------
    epochs : int, passes over the cases
    patches_per_case : int, random patches drawn from every case per epoch
    batch_size : int, patches per optimiser step
    patch_size : 3 ints, patch edge lengths in voxels of the network's grid
    learning_rate : float, AdamW's
    seed : int, of the patch draws, the intensity jitter and torch
    """

    epochs: int = 10
    patches_per_case: int = 16
    batch_size: int = 2
    patch_size: tuple[int, ...] = (64, 64, 64)
    learning_rate: float = 1e-3
    seed: int = 0

    def as_record(self) -> dict:
        """JSON-ready values (the patch size as a list)."""
        return {**asdict(self), "patch_size": list(self.patch_size)}


@dataclass
class FinetuneResult:
    """Where the new bundle went and how training went.

    Attributes
    ----------
    bundle : Path, the new bundle folder
    losses : list of float, mean loss per epoch
    seconds : float, wall time of training (preprocessing included)
    record : dict, what ``finetune_record.json`` holds
    """

    bundle: Path
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    record: dict = field(default_factory=dict)

    def loss_summary(self) -> str:
        """``loss 0.612 -> 0.486 over 20 epochs``, or ``loss 0.486 (1 epoch)``."""
        first, last, n = self.losses[0], self.losses[-1], len(self.losses)
        return f"loss {last:.3f} (1 epoch)" if n == 1 else f"loss {first:.3f} -> {last:.3f} over {n} epochs"


def preprocessed_pair(pipeline: Pipeline, case: TrainingCase) -> tuple[torch.Tensor, torch.Tensor]:
    """The network input and the labels on its grid, as the bundle's preprocessing makes them.

    Returns
    -------
    image : (C, X, Y, Z) float32 tensor, the preprocessed image (the network's input grid)
    labels : (X, Y, Z) int64 tensor, nearest-neighbour labels on that grid
    """
    from monai.transforms import SpatialResample

    from .resample_grid import axis_aligned_grids

    if not case.image.same_grid(case.labels):
        raise MedsegError(
            f"{case.name}: the labels are not on the image's grid "
            f"(image {case.image.describe_grid()}; labels {case.labels.describe_grid()})"
        )
    key = pipeline.image_key
    with axis_aligned_grids():
        image = pipeline.preprocessing(
            {key: volume_to_metatensor(case.image, pipeline.input_dtype, pipeline.channel_first)}
        )[key]
        labels = volume_to_metatensor(case.labels, torch.float32, channel_first=True)
        labels = SpatialResample(mode="nearest", padding_mode="zeros")(
            labels, dst_affine=image.affine, spatial_size=tuple(image.shape[1:])
        )
    plain = torch.as_tensor(image.as_tensor() if hasattr(image, "as_tensor") else image).float()
    lab = torch.as_tensor(labels.as_tensor() if hasattr(labels, "as_tensor") else labels)[0]
    return plain, torch.round(lab).long()


def random_patch(
    image: torch.Tensor,
    labels: torch.Tensor,
    size: Sequence[int],
    rng: np.random.Generator,
    foreground_share: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One patch of ``size`` voxels, centred on a random foreground voxel ``foreground_share`` of the time.

    Parameters
    ----------
    image : (C, X, Y, Z) tensor; labels : (X, Y, Z) tensor, same grid; zero-padded to ``size`` if smaller
    size : (3,) patch size in voxels

    Returns
    -------
    (C, *size) image patch, (*size) label patch
    """
    pad = [max(s - n, 0) for s, n in zip(size, labels.shape)]
    if any(pad):
        spec = [p for d in reversed(pad) for p in (0, d)]
        image = torch.nn.functional.pad(image, spec)
        labels = torch.nn.functional.pad(labels, spec)
    shape = np.array(labels.shape)
    patch = np.array(size)
    foreground = torch.nonzero(labels > 0)
    if len(foreground) and rng.random() < foreground_share:
        centre = foreground[rng.integers(len(foreground))].numpy()
        start = np.clip(centre - patch // 2, 0, shape - patch)
    else:
        start = np.array([rng.integers(0, n + 1) for n in shape - patch])
    box = tuple(slice(int(a), int(a + s)) for a, s in zip(start, patch))
    return image[(slice(None),) + box], labels[box]


def jitter_intensity(patch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Scale by 0.9-1.1, shift by +-0.1 and add noise (sd 0.05) inside the image; zeros stay zero."""
    inside = patch != 0
    noisy = patch * float(rng.uniform(0.9, 1.1)) + float(rng.uniform(-0.1, 0.1))
    noisy = noisy + 0.05 * torch.from_numpy(rng.standard_normal(patch.shape).astype(np.float32))
    return torch.where(inside, noisy, patch)


def train_network(
    network: torch.nn.Module,
    pairs: list[tuple[torch.Tensor, torch.Tensor]],
    n_classes: int,
    settings: TrainingSettings | None = None,
    report=None,
) -> list[float]:
    """Train ``network`` in place on random patches of ``pairs``; returns the mean loss per epoch.

    One epoch draws ``settings.patches_per_case`` patches of every case, in batches of
    ``settings.batch_size``. ``report(fraction, message)`` is called after every step.
    """
    from monai.losses import DiceCELoss

    settings = settings or TrainingSettings()
    epochs, patches_per_case, batch_size = settings.epochs, settings.patches_per_case, settings.batch_size
    patch_size, seed = settings.patch_size, settings.seed

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimiser = torch.optim.AdamW(network.parameters(), lr=settings.learning_rate, weight_decay=1e-5)
    steps_per_epoch = max(1, int(np.ceil(patches_per_case * len(pairs) / batch_size)))
    total = epochs * steps_per_epoch
    network.train()
    losses = []
    for epoch in range(epochs):
        running = []
        for step in range(steps_per_epoch):
            batch = [random_patch(*pairs[rng.integers(len(pairs))], patch_size, rng) for _ in range(batch_size)]
            x = torch.stack([jitter_intensity(b[0], rng) for b in batch])
            y = torch.stack([b[1] for b in batch])[:, None]
            optimiser.zero_grad(set_to_none=True)
            try:
                logits = network(x)
            except RuntimeError as exc:  # e.g. a patch size the network's strides do not divide
                raise MedsegError(
                    f"the network cannot run on {tuple(patch_size)} patches ({str(exc).splitlines()[0]}); "
                    "try a patch size that is a multiple of 16"
                ) from None
            if logits.shape[1] != n_classes:
                raise MedsegError(f"the network has {logits.shape[1]} output channels, the model {n_classes} classes")
            loss = loss_fn(logits, y)
            loss.backward()
            optimiser.step()
            running.append(float(loss.detach()))
            done = epoch * steps_per_epoch + step + 1
            if report is not None:
                report(
                    done / total,
                    f"epoch {epoch + 1}/{epochs}, step {step + 1}/{steps_per_epoch}, loss {np.mean(running):.3f}",
                )
        losses.append(float(np.mean(running)))
    network.eval()
    return losses


def _check_cases(cases: list[TrainingCase], n_classes: int) -> None:
    if not cases:
        raise MedsegError("no case to fine-tune on: give at least one image with its corrected labels")
    for case in cases:
        values = np.unique(np.asarray(case.labels.array))
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise MedsegError(
                f"{case.name}: label values {values.tolist()} outside the model's classes 0..{n_classes - 1}"
            )
        if not (values > 0).any():
            raise MedsegError(f"{case.name}: the labels are empty; nothing to learn from")


def _new_metadata(base_root: Path, cases: list[TrainingCase]) -> dict:
    from .bundle import read_metadata

    meta = read_metadata(base_root)
    meta["name"] = f"{meta.get('name', base_root.name)} - fine-tuned"
    meta["description"] = (
        f"Fine-tuned by napari-medseg from {base_root.name} on {len(cases)} corrected case(s) "
        f"({', '.join(c.name for c in cases)}); learned from one user's corrections, not a "
        f"validated model. {meta.get('description', '')}"
    ).strip()
    meta.setdefault("changelog", {})[time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())] = (
        f"fine-tuned from {base_root.name} by napari-medseg (see {RECORD_NAME})"
    )
    meta.pop("eval_metrics", None)  # the base's figures do not describe the new weights
    return meta


def write_bundle(base_root: Path, out_dir: Path, state_dict: dict, metadata: dict, record: dict) -> Path:
    """A new bundle folder: the base's files less its weights, new metadata, weights and record.

    Written in a temporary folder beside ``out_dir`` and renamed into place, so a failure
    leaves no half bundle. Refuses an ``out_dir`` that exists and is not empty.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise MedsegError(f"{out_dir}: exists and is not empty; choose a new folder for the fine-tuned bundle")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        shutil.copytree(
            base_root,
            tmp,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("model.pt", "model.ts", "*.onnx", "eval", "__pycache__"),
        )
        (tmp / "models").mkdir(exist_ok=True)
        torch.save(state_dict, tmp / "models" / "model.pt")
        (tmp / "configs" / "metadata.json").write_text(json.dumps(metadata, indent=4))
        readme = tmp / "README.md"
        if readme.is_file():  # the base's words and figures describe the base's weights, not these
            readme.write_text(
                f"> **Fine-tuned copy** of {record['base_model']} by napari-medseg on "
                f"{len(record['cases'])} corrected case(s); see {RECORD_NAME}. The text below is the "
                "base model's: its figures do not describe these weights. Not a validated model.\n\n"
                + readme.read_text()
            )
        record = dict(record, weights_sha256=file_sha256(tmp / "models" / "model.pt"))
        (tmp / RECORD_NAME).write_text(json.dumps(record, indent=1))
        if out_dir.exists():
            out_dir.rmdir()
        tmp.replace(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def finetune_bundle(
    cases: list[TrainingCase],
    model: str | Path,
    out_dir: str | Path,
    settings: TrainingSettings | None = None,
    *,
    trust_bundle: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> FinetuneResult:
    """Fine-tune the bundle ``model`` on ``cases`` and write the result as a new bundle ``out_dir``.

    Parameters
    ----------
    cases : images with corrected labels (label values are the model's classes)
    model : a bundle name (``brain-tissue``) or folder
    out_dir : new bundle folder (must not exist, or be empty)
    settings : how to train (default :class:`TrainingSettings`)
    trust_bundle : the user trusts ``model``'s config code (a user bundle not trusted yet)
    progress : callable(fraction, message) -> bool or None; returning ``False`` cancels
    cancel : threading.Event; set to cancel between two steps

    Raises
    ------
    FinetuneCancelled, UntrustedBundleError, MedsegError
    """
    from ..registry import find_model
    from ..segment import load_pipeline
    from .trust import bundle_digest, trust

    start = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        if (cancel is not None and cancel.is_set()) or (progress is not None and progress(fraction, message) is False):
            raise FinetuneCancelled()

    info = find_model(model)
    if info.kind != "bundle":
        raise MedsegError(f"{info.name} is a {info.kind} model; fine-tuning works on MONAI bundles (e.g. brain-tissue)")
    pipeline = load_pipeline(info, trust_bundle=trust_bundle)
    n_classes = len(pipeline.label_names) + 1
    _check_cases(cases, n_classes)
    report(0.0, "preprocessing the cases")
    pairs = []
    for i, case in enumerate(cases):
        pairs.append(preprocessed_pair(pipeline, case))
        report(0.0, f"preprocessed {i + 1}/{len(cases)}: {case.name}")
    network = deepcopy(pipeline.network).cpu()  # the cached pipeline's network stays as it was
    losses = train_network(network, pairs, n_classes, settings, report=lambda f, m: report(0.02 + 0.96 * f, m))
    seconds = time.perf_counter() - start
    if info.path is None:
        raise MedsegError(
            f"{info.name}: the bundle's folder is unknown; fetch it first (`medseg models fetch {info.name}`)"
        )
    base = Path(info.path)
    base_weights = base / "models" / "model.pt"
    record = {
        "base_model": info.name,
        "base_path": str(base),
        "base_config_sha256": bundle_digest(base),
        "base_weights_sha256": file_sha256(base_weights) if base_weights.is_file() else None,
        "cases": [
            {
                "name": c.name,
                "image": str(c.image.meta.get("path", "")),
                "labels": str(c.labels.meta.get("path", "")),
                "shape": list(c.image.shape),
                "spacing_mm": [round(float(s), 4) for s in c.image.spacing],
            }
            for c in cases
        ],
        **(settings or TrainingSettings()).as_record(),
        "loss_per_epoch": [round(v, 5) for v in losses],
        "seconds": round(seconds, 1),
        "device": "cpu",
        "torch_version": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "note": "learned from one user's corrections; not a validated model",
    }
    report(0.99, "writing the bundle")
    state = {k: v.detach().cpu() for k, v in network.state_dict().items()}
    out = write_bundle(base, Path(out_dir), state, _new_metadata(base, cases), record)
    trust(out)  # configs copied from a bundle that was trusted (or shipped): record the new digest
    report(1.0, "done")
    return FinetuneResult(out, losses, seconds, json.loads((out / RECORD_NAME).read_text()))
