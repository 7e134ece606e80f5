"""Model cards: what a model expects (modality, body part, contrast, spacing, skull stripping).

A MONAI bundle declares its input modality in ``configs/metadata.json`` under
``network_data_format.inputs.image.modality`` (MONAI's own field); napari-medseg reads the
rest from a ``medseg_model_card`` entry beside it::

    "medseg_model_card": {"body_part": "brain", "contrast": "T1-weighted",
                          "skull_stripped": true, "spacing_mm": [2, 2, 2]}

:func:`mismatches` compares a card with an image before a model runs, so that a brain
MRI model is not run on an abdominal CT without a word. The CLI refuses on a mismatch
unless ``--force``; the Segment widget asks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..volume import Volume

__all__ = ["ModelCard", "card_of", "image_modality", "mismatches"]


@dataclass(frozen=True)
class ModelCard:
    """What a model was trained on (``None``: not declared).

    Attributes
    ----------
    modality : DICOM modality code, e.g. ``"MR"`` or ``"CT"``.
    body_part : e.g. ``"brain"``, ``"abdomen"``.
    contrast : e.g. ``"T1-weighted"``.
    skull_stripped : whether brain images must have the skull removed.
    spacing_mm : voxel size the model works at, (mm, mm, mm).
    """

    modality: str | None = None
    body_part: str | None = None
    contrast: str | None = None
    skull_stripped: bool | None = None
    spacing_mm: tuple[float, ...] | None = None

    def describe(self) -> str:
        """What the model expects, in a few words: ``MR, T1-weighted, brain, skull-stripped``."""
        parts = [self.modality, self.contrast, self.body_part]
        if self.skull_stripped is not None:
            parts.append("skull-stripped" if self.skull_stripped else "with or without skull")
        if self.spacing_mm:
            parts.append("x".join(f"{s:g}" for s in self.spacing_mm) + " mm")
        return ", ".join(p for p in parts if p) or "nothing declared"


def card_of(model) -> ModelCard | None:
    """The card of a model name, path or :class:`~napari_medseg.models.registry.ModelInfo` (None: no card).

    Only bundles carry cards; reading one runs nothing.
    """
    from .registry import ModelInfo, find_model
    from .unet.bundle import read_metadata

    info = model if isinstance(model, ModelInfo) else find_model(model)
    if info.kind != "bundle" or info.path is None:
        return None
    meta = read_metadata(info.path)
    image = ((meta.get("network_data_format") or {}).get("inputs") or {}).get("image") or {}
    card = meta.get("medseg_model_card") or {}
    if not card and not image.get("modality"):
        return None
    spacing = card.get("spacing_mm")
    return ModelCard(
        modality=str(image["modality"]).upper() if image.get("modality") else None,
        body_part=card.get("body_part"),
        contrast=card.get("contrast"),
        skull_stripped=card.get("skull_stripped"),
        spacing_mm=tuple(float(s) for s in spacing) if spacing else None,
    )


def image_modality(volume: Volume) -> tuple[str | None, str]:
    """The image's modality and how it is known: from its header, or guessed from its values.

    Returns
    -------
    (modality or None, reason) : e.g. ``("CT", "its DICOM header says CT")`` or
    ``("CT", "its values reach -1000 (air in Hounsfield units)")``.
    """
    from .sam.intensity import looks_like_ct

    header = str(volume.meta.get("modality") or "").upper()
    if header:
        return header, f"its header says {header}"
    if volume.array.size and looks_like_ct(volume.array):
        return "CT", "its values reach -1000 (air in Hounsfield units)"
    return None, "its file does not say"


def mismatches(card: ModelCard | None, volume: Volume) -> list[str]:
    """Reasons the image does not match what the model expects (empty: nothing against it).

    Only what can be told from the image is checked: its modality (header, or CT
    recognised from Hounsfield units). The rest of the card is shown in the message.
    """
    if card is None:
        return []
    found = []
    modality, how = image_modality(volume)
    if card.modality and modality and modality != card.modality:
        found.append(f"it expects {card.describe()} images; this image is {modality} ({how})")
    return found
