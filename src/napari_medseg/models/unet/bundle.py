"""MONAI bundles in the model zoo's layout, run the way MONAI Label runs them.

Layout: ``configs/metadata.json`` (labels in
``network_data_format.outputs.pred.channel_def``), ``configs/inference.json`` (or
``.yaml``) with ``network_def``, ``preprocessing``, ``inferer`` and ``postprocessing``,
and ``models/model.pt`` (state dict) or ``models/model.ts`` (TorchScript).

What changes from ``python -m monai.bundle run``:

* ``LoadImaged`` is replaced by the volume already in memory, given as the MetaTensor
  ``LoadImaged`` would produce (same voxel order, RAS affine, dtype);
* ``SaveImaged`` (and any ``Save*`` transform) is dropped: the caller writes;
* where the post-processing is ``Invertd`` directly followed by ``AsDiscreted(argmax)``
  and the model has many classes (at least :data:`ARGMAX_FIRST_MIN_CLASSES`), the
  argmax is taken first and ``Invertd`` resamples one label map with nearest neighbour
  instead of every class probability with linear interpolation: the main CPU cost of
  multi-organ bundles. Labels then differ from the bundle's own order on a thin layer
  of boundary voxels where the bundle resamples, so with few classes (where
  interpolating the probabilities costs little) the bundle's order is kept and the
  result is the bundle's, voxel for voxel. ``argmax_first=True/False`` forces either;
* ``AsDiscreted(argmax=True)`` (no one-hot, threshold or rounding) becomes
  :class:`ChannelArgmaxd`: the same labels and dtype, without ``torch.argmax``'s slow
  reduction over the channel axis of a strided CPU tensor (3.4 s -> 0.2 s for two
  channels of 512 x 512 x 120);
* weights are read with ``torch.load(weights_only=True)``, and the config only runs
  when the bundle is trusted (:mod:`.trust`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ...errors import MedsegError
from ..weights import load_weights
from .pipeline import Pipeline
from .trust import require_trust

CONFIG_NAMES = ("inference.json", "inference.yaml", "inference.yml")
#: From this many output classes on, the argmax is taken before ``Invertd`` by default.
ARGMAX_FIRST_MIN_CLASSES = 8


def is_bundle(path: str | Path) -> bool:
    """True when ``path`` is a folder in the model zoo's bundle layout."""
    path = Path(path)
    return path.is_dir() and any((path / "configs" / n).is_file() for n in CONFIG_NAMES)


def read_metadata(root: str | Path) -> dict:
    """The bundle's ``configs/metadata.json`` (empty dict when missing). Plain JSON, runs nothing."""
    path = Path(root) / "configs" / "metadata.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise MedsegError(f"{path}: not valid JSON ({exc})") from None


def label_names(metadata: dict) -> dict[int, str]:
    """Foreground label names from ``metadata.json``'s ``channel_def`` of the ``pred`` output.

    Returns
    -------
    dict int -> str, without label 0 (background).
    """
    outputs = metadata.get("network_data_format", {}).get("outputs", {})
    out: dict = outputs.get("pred") or next(iter(outputs.values()), {})
    names = {int(k): str(v) for k, v in out.get("channel_def", {}).items()}
    return {k: v for k, v in sorted(names.items()) if k != 0}


def label_colours(metadata: dict) -> dict[int, str]:
    """Optional ``label_colors`` ({"1": "#rrggbb"}) from ``metadata.json``; empty when absent."""
    return {int(k): str(v) for k, v in metadata.get("label_colors", {}).items()}


def _config_path(root: Path) -> Path:
    for name in CONFIG_NAMES:
        if (root / "configs" / name).is_file():
            return root / "configs" / name
    raise MedsegError(f"{root}: not a MONAI bundle (no configs/inference.json)")


def _load_network(parser, root: Path) -> torch.nn.Module:
    pt, ts = root / "models" / "model.pt", root / "models" / "model.ts"
    if pt.is_file():
        network = load_weights(parser.get_parsed_content("network_def"), pt, "the bundle's network_def")
    elif ts.is_file():
        network = torch.jit.load(str(ts), map_location="cpu")
    else:
        hint = " (see large_files.yml, or `medseg models fetch NAME`)" if (root / "large_files.yml").exists() else ""
        raise MedsegError(f"{root}: no weights in models/model.pt or models/model.ts{hint}")
    return network.eval()


def _replace_loader(preprocessing) -> tuple[str, torch.dtype, bool]:
    """Swap ``LoadImaged`` for the in-memory input; return (image key, dtype, channel first)."""
    from monai.transforms import Compose, Identityd, LoadImaged

    if not isinstance(preprocessing, Compose):
        raise MedsegError("the bundle's preprocessing is not a Compose of dictionary transforms")
    key, dtype, channel_first = "image", torch.float32, False
    transforms = []
    for t in preprocessing.transforms:
        if isinstance(t, LoadImaged):
            key = str(t.keys[0])
            loader = getattr(t, "_loader", None)
            dtype = _torch_dtype(getattr(loader, "dtype", None))
            channel_first = bool(getattr(loader, "ensure_channel_first", False))
            t = Identityd(keys=t.keys)
        transforms.append(t)
    preprocessing.transforms = tuple(transforms)
    return key, dtype, channel_first


def _torch_dtype(dtype) -> torch.dtype:
    from monai.utils import get_equivalent_dtype

    return torch.float32 if dtype is None else get_equivalent_dtype(dtype, torch.Tensor)


def channel_argmax(probs: torch.Tensor) -> torch.Tensor:
    """Index of the largest channel, the first one on ties (``torch.argmax(probs, 0, keepdim=True)``).

    Parameters
    ----------
    probs : (C, *spatial) tensor, any strides (e.g. after ``Invertd``'s flips and permutes).

    Returns
    -------
    (1, *spatial) uint8 tensor (int64 from 256 channels on).
    """
    n = probs.shape[0]
    if n == 2:
        return (probs[1] > probs[0]).unsqueeze(0).to(torch.uint8)
    index = torch.zeros(probs.shape[1:], dtype=torch.uint8 if n <= 256 else torch.int64)
    best = probs[0].clone()
    for k in range(1, n):
        better = probs[k] > best
        index.masked_fill_(better, k)
        best = torch.where(better, probs[k], best)
    return index.unsqueeze(0)


class ChannelArgmaxd:
    """``AsDiscreted(keys, argmax=True)`` computed by :func:`channel_argmax`: same values, dtype and metadata."""

    def __init__(self, keys, dtype=torch.float32):
        self.keys, self.dtype = tuple(keys), dtype

    def __call__(self, data: dict) -> dict:
        from monai.data import MetaTensor
        from monai.utils import convert_to_dst_type

        d = dict(data)
        for key in self.keys:
            img = d[key]
            plain = img.as_tensor() if isinstance(img, MetaTensor) else torch.as_tensor(img)
            d[key] = convert_to_dst_type(channel_argmax(plain), img, dtype=self.dtype)[0]
        return d


def _plain_argmax(t) -> bool:
    from monai.transforms import AsDiscreted

    return (
        isinstance(t, AsDiscreted)
        and all(t.argmax)
        and not any(t.to_onehot)
        and all(v is None for v in t.threshold)
        and all(v is None for v in t.rounding)
        and t.converter.kwargs.get("dim", 0) == 0
        and t.converter.kwargs.get("keepdim", True)
    )


def adapt_postprocessing(postprocessing, argmax_first: bool = False) -> tuple[list, list[str]]:
    """Drop ``Save*`` transforms, compute argmaxes with :class:`ChannelArgmaxd` and, with
    ``argmax_first``, take the argmax before ``Invertd``.

    The swap is made only where ``Invertd`` is directly followed by an
    ``AsDiscreted(argmax=True)`` on the same keys (no one-hot, no threshold).

    Returns
    -------
    transforms : list of MONAI transforms
    notes : list of str, changes worth telling the user (the argmax swap)
    """
    from monai.transforms import AsDiscreted, Compose, Invertd
    from monai.utils import ensure_tuple_rep

    items = list(postprocessing.flatten().transforms) if isinstance(postprocessing, Compose) else [postprocessing]
    items = [t for t in items if not type(t).__name__.startswith("Save")]  # the caller writes
    notes = []
    for i in range(len(items) - 1 if argmax_first else 0):
        inv, disc = items[i], items[i + 1]
        if (
            isinstance(inv, Invertd)
            and isinstance(disc, AsDiscreted)
            and set(disc.keys) == set(inv.keys)
            and all(disc.argmax)
            and not any(disc.to_onehot)
            and all(t is None for t in disc.threshold)
        ):
            inv.nearest_interp = ensure_tuple_rep(True, len(inv.keys))
            items[i], items[i + 1] = disc, inv
            notes.append("argmax before Invertd (nearest neighbour)")
            break
    items = [
        ChannelArgmaxd(t.keys, t.converter.kwargs.get("dtype", torch.float)) if _plain_argmax(t) else t for t in items
    ]
    return items, notes


def load_bundle(
    root: str | Path, trust_now: bool = False, name: str | None = None, argmax_first: bool | None = None
) -> Pipeline:
    """Build a :class:`Pipeline` from a bundle folder.

    Parameters
    ----------
    root : path of the bundle folder.
    trust_now : bool
        The user trusts this bundle (CLI ``--trust-bundle``): remember it and run.
    name : str, optional
        Name shown in progress messages (default: the folder name).
    argmax_first : bool, optional
        Take the argmax before ``Invertd`` (see the module docstring). Default: when the
        model has at least :data:`ARGMAX_FIRST_MIN_CLASSES` classes.

    Raises
    ------
    UntrustedBundleError
        A user bundle not trusted yet (nothing of its config has run).
    MedsegError
        Not a bundle, missing or mismatched weights, unusable transforms.
    """
    from monai.bundle import ConfigParser
    from monai.transforms import Compose

    root = Path(root).resolve()
    config = _config_path(root)
    require_trust(root, trust_now)
    metadata = read_metadata(root)
    parser = ConfigParser()
    parser.read_meta(metadata)
    try:
        parser.read_config(str(config))
    except Exception as exc:  # JSON / YAML syntax errors: one line naming the file
        raise MedsegError(
            f"{config}: not a valid config ({type(exc).__name__}: {' '.join(str(exc).split())})"
        ) from None
    parser["bundle_root"] = str(root)
    for required in ("network_def", "preprocessing", "inferer"):
        if required not in parser:
            raise MedsegError(f"{config}: no '{required}' section; not an inference config this plugin can run")
    try:
        network = _load_network(parser, root)
        preprocessing = parser.get_parsed_content("preprocessing")
        key, dtype, channel_first = _replace_loader(preprocessing)
        inferer = parser.get_parsed_content("inferer")
        post = parser.get_parsed_content("postprocessing") if "postprocessing" in parser else Compose([])
    except MedsegError:
        raise
    except Exception as exc:  # a config is code: report its failure in one line
        raise MedsegError(f"{config}: the bundle's config failed to build ({type(exc).__name__}: {exc})") from None
    names = label_names(metadata)
    if argmax_first is None:
        argmax_first = len(names) + 1 >= ARGMAX_FIRST_MIN_CLASSES
    transforms, notes = adapt_postprocessing(post, argmax_first)
    return Pipeline(
        name=name or root.name,
        network=network,
        preprocessing=preprocessing,
        inferer=inferer,
        postprocessing=Compose(transforms),
        label_names=names,
        colours=label_colours(metadata),
        image_key=key,
        channel_first=channel_first,
        input_dtype=dtype,
        notes=notes,
    )
