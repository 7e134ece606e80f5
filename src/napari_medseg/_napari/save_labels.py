"""Save labels: a labels layer, its names and colours, a file name beside its source image, one button.

Docked on its own (Plugins > MedSeg > Save labels) and inside the Segment widget. The file
is written by the plugin's own writer (:func:`napari_medseg._napari.writer.write_labels`):
the source image's grid, NIfTI intent label, names and colours in an ITK-SNAP label
description beside it. :func:`beside_source` is where every file the widgets offer to
write goes by default (label maps, the Evaluate widget's CSV), never napari's start folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from magicgui.widgets import ComboBox, Container, FileEdit, PushButton
from napari.layers import Labels
from napari.utils.notifications import show_error, show_info

from ..errors import MedsegError
from ..io import WRITE_SUFFIXES
from ..io.folders import case_name
from .docking import tabify_when_docked
from .label_table import LabelTable
from .layers import volume_from_layer

PLUGIN = "napari-medseg"


def proposed_path(layer, name: str | None = None) -> Path:
    """Where to save ``layer``: ``<image>_<name>.nii.gz`` beside its source image.

    ``name`` defaults to the layer's name. A label map opened from a file keeps its file.
    """
    meta = (layer.metadata or {}).get("medseg", {})
    if meta.get("path") and str(meta["path"]).lower().endswith(WRITE_SUFFIXES):  # a label map opened from disk
        return Path(meta["path"])
    return beside_source(layer, name or layer.name, ".nii.gz")


def beside_source(layer, name: str, suffix: str) -> Path:
    """``<image>_<name><suffix>`` in the folder of the image ``layer`` was drawn on.

    The source is the layer's image file, or its DICOM folder (the file goes beside
    the folder); without one, the user's home folder.
    """
    meta = (layer.metadata or {}).get("medseg", {})
    source = meta.get("source") or meta.get("path")
    if not source and layer.ndim == 3:
        source = volume_from_layer(layer).meta.get("path")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "labels"
    if not source:
        return Path.home() / f"{slug}{suffix}"
    source = Path(source)
    stem = case_name(source) or source.name
    if slug.startswith(stem):  # "ct [brain-tissue]" on ct.nii.gz -> ct_brain-tissue, not ct_ct_brain-tissue
        slug = slug[len(stem) :].strip("_") or "labels"
    return source.parent / f"{stem}_{slug}{suffix}"


def save_labels(layer, path: str | Path) -> list[str]:
    """Write ``layer`` with the plugin's writer (format by extension); the paths written."""
    path = Path(path)
    if not str(path).lower().endswith(WRITE_SUFFIXES):
        raise MedsegError(f"{path.name}: save labels as one of {', '.join(WRITE_SUFFIXES)}")
    return layer.save(str(path), plugin=PLUGIN)


class SaveLabels(Container):
    """Labels layer, its label table (names, colours), file name proposed beside the source image, *Save labels*."""

    def __init__(self, napari_viewer):
        viewer = self.viewer = napari_viewer
        self.layer = ComboBox(
            label="labels", choices=self._labels_layers, nullable=True, tooltip="the labels layer to save"
        )
        self.path = FileEdit(
            label="save as",
            mode="w",
            filter="*.nii.gz *.nii *.nrrd *.mha",
            tooltip="label map file (.nii.gz, .nii, .nrrd, .mha) on the source image's grid; "
            "names and colours go to a .labels.txt (ITK-SNAP) beside it",
        )
        self.button = PushButton(text="Save labels", tooltip="write the labels layer to the file above")
        self.names = LabelTable()
        super().__init__(widgets=[self.layer, self.names, self.path, self.button])
        tabify_when_docked(self)  # opened beside our other docks: a tab, not a squeeze
        self.layer.changed.connect(self._propose)
        self.layer.changed.connect(self.names.follow)
        self.button.changed.connect(self.save)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(self._layers_changed)
        viewer.layers.selection.events.active.connect(self._active_changed)
        self._layers_changed()

    def _labels_layers(self, _widget=None) -> list:
        return [layer for layer in self.viewer.layers if isinstance(layer, Labels) and layer.ndim == 3]

    def _layers_changed(self, _event=None) -> None:
        self.layer.reset_choices()
        choices = self._labels_layers()
        if choices and self.layer.value is None:
            self.layer.value = choices[-1]

    def _active_changed(self, _event=None) -> None:
        """The labels layer the user selects in the layer list is the one to save."""
        active = self.viewer.layers.selection.active
        if isinstance(active, Labels) and active.ndim == 3 and active is not self.layer.value:
            self.layer.reset_choices()
            self.layer.value = active

    def select(self, layer, name: str | None = None) -> None:
        """Choose ``layer`` (e.g. a new result) and propose a file name (``<image>_<name>``)."""
        self.layer.reset_choices()
        self.layer.value = layer
        self.names.follow(layer)  # a replaced result keeps its layer: show its new labels
        self.path.value = proposed_path(layer, name)

    def _propose(self, layer) -> None:
        if layer is not None:
            self.path.value = proposed_path(layer)

    def save(self, *_args) -> list[str]:
        """Save the chosen layer to the chosen file; tells the user where it went."""
        layer = self.layer.value
        if layer is None:
            show_error("No labels layer to save: run a model or add a labels layer first.")
            return []
        try:
            written = save_labels(layer, self.path.value)
        except (MedsegError, ValueError, OSError) as exc:  # the writer's reason (read-only folder, bad name, ...)
            show_error(f"Labels not saved: {exc}")
            return []
        if not written:
            show_error(f"Labels not saved to {self.path.value}")
            return []
        show_info(f"saved {layer.name!r} to {written[0]}" + (" (+ label names)" if len(written) > 1 else ""))
        return written
