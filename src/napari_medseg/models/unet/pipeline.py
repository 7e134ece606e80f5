"""A model ready to run: network, MONAI pre/post-processing and inferer, with label names.

Bundles (:mod:`.bundle`) and plain checkpoints (:mod:`.checkpoint_description`) are both turned into
a :class:`Pipeline`; :mod:`.inference` runs any pipeline on a
:class:`~napari_medseg.volume.Volume`. The pipeline's transforms work on MONAI
dictionaries whose image is a ``MetaTensor`` in the volume's *file* voxel order with a
RAS affine (:mod:`.metatensor`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ...colours import colour_of


@dataclass
class Pipeline:
    """Everything needed to segment a volume with one model.

    Attributes
    ----------
    name : str
        Model name shown to users.
    network : torch.nn.Module
        In ``eval`` mode, on the CPU until :mod:`.inference` moves it.
    preprocessing : Callable[[dict], dict]
        MONAI dictionary transform; takes ``{image_key: MetaTensor}`` (channel-first or
        not, see ``channel_first``) and returns the network input under ``image_key``.
    inferer : Callable
        ``inferer(batch, network) -> logits`` (usually a ``SlidingWindowInferer``).
    postprocessing : Callable[[dict], dict]
        Takes ``{image_key: preprocessed image, "pred": logits}`` (one item, channel
        first) and returns labels under ``"pred"`` (inverted back to the input grid when
        the model's transforms can do it).
    label_names : dict of int -> str
        Foreground labels (0 is background).
    colours : dict of int -> str
        ``#rrggbb`` per label.
    image_key : str
    channel_first : bool
        Whether the input MetaTensor is given channel-first (``LoadImaged(ensure_channel_first=True)``).
    input_dtype : torch.dtype
        The dtype ``LoadImaged`` would give the image (float32 by default).
    notes : list of str
        What was adapted (e.g. "argmax before Invertd"), for logs.
    """

    name: str
    network: torch.nn.Module
    preprocessing: Callable[[dict], dict]
    inferer: Callable
    postprocessing: Callable[[dict], dict]
    label_names: dict[int, str]
    colours: dict[int, str] = field(default_factory=dict)
    image_key: str = "image"
    channel_first: bool = False
    input_dtype: torch.dtype = torch.float32
    notes: list[str] = field(default_factory=list)

    def colour_of(self, label: int) -> str:
        return colour_of(label, self.colours)
