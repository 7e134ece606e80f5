"""Plain checkpoints: a MONAI network described by a small JSON/YAML file plus a state dict.

No code runs from the description (only the networks and transforms listed here are
built), so a checkpoint needs no trust prompt; the weights load with
``torch.load(weights_only=True)``.

Description (``model.json`` / ``model.yaml``), paths relative to the file::

    network: UNet                 # UNet | DynUNet | SegResNet | SwinUNETR
    network_args: {spatial_dims: 3, in_channels: 1, out_channels: 3,
                   channels: [16, 32, 64, 128], strides: [2, 2, 2], num_res_units: 2}
    weights: model.pt             # a state dict (optionally under "model" / "state_dict")
    spacing_mm: [1.5, 1.5, 2.0]   # resample to this before the network (RAS x, y, z); omit to keep
    intensity: {kind: window, a_min: -57, a_max: 164}
                # or {kind: zscore}, {kind: percentiles, lower: 0.5, upper: 99.5}
    roi_size: [96, 96, 96]
    overlap: 0.25
    sw_batch_size: 4
    labels: {1: spleen}
    colours: {1: "#ff0000"}        # optional
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ...errors import MedsegError
from ..weights import load_weights
from .pipeline import Pipeline

NETWORKS = ("UNet", "DynUNet", "SegResNet", "SwinUNETR")
DESCRIPTION_SUFFIXES = (".json", ".yaml", ".yml")


def is_checkpoint_description(path: str | Path) -> bool:
    path = Path(path)
    return path.is_file() and path.suffix.lower() in DESCRIPTION_SUFFIXES


def read_description(path: str | Path) -> dict:
    """The parsed description (JSON or YAML, safe loader); raises MedsegError when unreadable."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
        desc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise MedsegError(f"{path}: cannot read the checkpoint description ({exc})") from None
    if not isinstance(desc, dict) or "network" not in desc or "weights" not in desc:
        raise MedsegError(f"{path}: a checkpoint description needs at least 'network' and 'weights'")
    if desc["network"] not in NETWORKS:
        raise MedsegError(f"{path}: network {desc['network']!r} is not one of {', '.join(NETWORKS)}")
    return desc


def build_network(name: str, args: dict) -> torch.nn.Module:
    """A MONAI network by class name (one of :data:`NETWORKS`) and its arguments."""
    from monai.networks import nets

    try:
        return getattr(nets, name)(**args)
    except TypeError as exc:
        raise MedsegError(f"network {name}: bad arguments ({exc})") from None


def intensity_transform(spec: dict | None, key: str):
    """The MONAI dictionary transform for an ``intensity`` entry (None: leave intensities)."""
    from monai.transforms import Identityd, NormalizeIntensityd, ScaleIntensityRanged, ScaleIntensityRangePercentilesd

    spec = dict(spec or {"kind": "none"})
    kind = spec.pop("kind", "none")
    if kind == "none":
        return Identityd(keys=key)
    if kind == "window":
        return ScaleIntensityRanged(
            keys=key,
            a_min=spec["a_min"],
            a_max=spec["a_max"],
            b_min=spec.get("b_min", 0.0),
            b_max=spec.get("b_max", 1.0),
            clip=spec.get("clip", True),
        )
    if kind == "zscore":
        return NormalizeIntensityd(keys=key, nonzero=spec.get("nonzero", True))
    if kind == "percentiles":
        return ScaleIntensityRangePercentilesd(
            keys=key,
            lower=spec.get("lower", 0.5),
            upper=spec.get("upper", 99.5),
            b_min=0.0,
            b_max=1.0,
            clip=spec.get("clip", False),
        )
    raise MedsegError(f"intensity kind {kind!r} is not one of none, window, zscore, percentiles")


def load_checkpoint(path: str | Path, name: str | None = None) -> Pipeline:
    """Build a :class:`Pipeline` from a checkpoint description file.

    Pre-processing: channel first, orientation RAS, optional resampling to
    ``spacing_mm`` (bilinear), intensity. Inference: MONAI ``SlidingWindowInferer``.
    Post-processing: softmax, argmax, then back to the input grid with nearest neighbour.
    """
    from monai.inferers import SlidingWindowInferer
    from monai.transforms import (
        Activationsd,
        AsDiscreted,
        Compose,
        EnsureChannelFirstd,
        Invertd,
        Orientationd,
        Spacingd,
    )

    path = Path(path).resolve()
    desc = read_description(path)
    weights = path.parent / desc["weights"]
    network = load_weights(build_network(desc["network"], dict(desc.get("network_args", {}))), weights, desc["network"])
    key = "image"
    pre = [EnsureChannelFirstd(keys=key), Orientationd(keys=key, axcodes="RAS")]
    if desc.get("spacing_mm"):
        pre.append(Spacingd(keys=key, pixdim=desc["spacing_mm"], mode="bilinear"))
    pre.append(intensity_transform(desc.get("intensity"), key))
    preprocessing = Compose(pre)
    roi = desc.get("roi_size", [96, 96, 96])
    inferer = SlidingWindowInferer(
        roi_size=roi, sw_batch_size=int(desc.get("sw_batch_size", 4)), overlap=float(desc.get("overlap", 0.25))
    )
    post = Compose(
        [
            Activationsd(keys="pred", softmax=True),
            AsDiscreted(keys="pred", argmax=True),
            Invertd(keys="pred", transform=preprocessing, orig_keys=key, nearest_interp=True, to_tensor=True),
        ]
    )
    labels = {int(k): str(v) for k, v in (desc.get("labels") or {}).items() if int(k) != 0}
    colours = {int(k): str(v) for k, v in (desc.get("colours") or {}).items()}
    return Pipeline(name or path.stem, network.eval(), preprocessing, inferer, post, labels, colours, image_key=key)
