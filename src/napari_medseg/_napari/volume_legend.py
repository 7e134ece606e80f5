"""A widget line per label of a Labels layer: its colour, value, name and volume in ml.

The legend follows one layer. It recounts when the user paints, fills, erases or undoes
there (once the strokes pause, so painting stays fluid) or renames or recolours a label,
and clears itself when the layer
is removed. Volumes are voxel counts times the voxel size of the layer's world geometry
(mm, as every layer this plugin makes).
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

import numpy as np
from magicgui.widgets import Label
from superqt.utils import qdebounced

from ..metrics.overlap import label_volumes_ml
from ..metrics.report import format_ml
from .layers import label_colours, label_names_from_features, volume_from_layer


def legend_html(volumes_ml: dict[int, float], names: dict[int, str], colours: dict[int, str]) -> str:
    """Rich text: a square of each label's colour, its value, name (when known) and volume."""
    rows = []
    for k, ml in volumes_ml.items():
        name = f" {escape(names[k])}" if names.get(k) else ""
        rows.append(f'<span style="color:{colours.get(k, "#888888")}">&#9632;</span> {k}{name}: {format_ml(ml)} ml')
    return "<br>".join(rows)


class VolumeLegend(Label):
    """A Label that lists each label of the layer it follows with its volume, kept current.

    Parameters
    ----------
    viewer : napari.Viewer
        Its layer list is watched so the legend clears when its layer is removed.
    """

    def __init__(self, viewer, **kwargs):
        kwargs.setdefault("tooltip", "each label's colour, value, name and volume (recounted after every edit)")
        super().__init__(value="", **kwargs)
        self._layer = None
        self._labels: list[int] | None = None
        self._spacing = (1.0, 1.0, 1.0)
        self._recount_soon = qdebounced(self._on_edit, timeout=300)
        viewer.layers.events.removed.connect(self._on_removed)

    @property
    def layer(self):
        """The Labels layer described, or None."""
        return self._layer

    def follow(self, layer, labels: Iterable[int] | None = None, volumes_ml: dict[int, float] | None = None) -> None:
        """Describe ``layer`` from now on.

        Parameters
        ----------
        layer : napari Labels layer, 3D
        labels : label values always listed (0.0 ml when absent); default the ones present.
        volumes_ml : the volumes when already counted (e.g. in a worker thread).
        """
        self.clear()
        self._layer = layer
        self._labels = None if labels is None else sorted(int(k) for k in labels)
        self._spacing = tuple(volume_from_layer(layer).spacing)
        for event in self._events(layer):
            event.connect(self._recount_soon)
        self._show(volumes_ml if volumes_ml is not None else self.count())

    def clear(self) -> None:
        """Stop following; empty text."""
        if self._layer is not None:
            for event in self._events(self._layer):
                event.disconnect(self._recount_soon)
        self._layer = None
        self.value = ""

    def count(self) -> dict[int, float]:
        """Each label's volume in ml in the followed layer now."""
        return label_volumes_ml(np.asarray(self._layer.data), self._spacing, labels_of_interest=self._labels)

    @staticmethod
    def _events(layer) -> tuple:
        # set_data: undo and redo; features and colormap: a label renamed or recoloured
        return (
            layer.events.paint,
            layer.events.data,
            layer.events.set_data,
            layer.events.features,
            layer.events.colormap,
        )

    def _show(self, volumes_ml: dict[int, float]) -> None:
        layer = self._layer
        self.value = legend_html(
            volumes_ml, label_names_from_features(layer.features), label_colours(layer.colormap, volumes_ml)
        )

    def _on_edit(self, *_event) -> None:
        if self._layer is not None:
            self._show(self.count())

    def _on_removed(self, event) -> None:
        if event.value is self._layer:
            self.clear()
