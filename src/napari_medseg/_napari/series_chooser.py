"""Series chooser: the series of a DICOM study folder, one tick box each; *Open ticked series* adds them.

Docked by the reader when a folder (or DICOMDIR) holds several series, and from
*File > IO Utilities* or *Plugins > MedSeg > Open DICOM series*. The rows, their names
and their default ticks come from :mod:`napari_medseg.io.series_choice`; this widget
only shows them and adds the layers of the ticked ones.
"""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import CheckBox, Container, FileEdit, Label, PushButton
from napari.layers import Layer
from napari.utils.notifications import show_error
from qtpy.QtWidgets import QScrollArea

from ..errors import MedsegError
from .docking import tabify_when_docked

PLUGIN = "napari-medseg"
WIDGET = "Open DICOM series"
MAX_WARNINGS_IN_TOOLTIP = 12


def show_series_chooser(viewer, path, choices) -> SeriesChooser:
    """Dock the chooser (tabbed with our other docks; the one already docked if any) listing ``choices``."""
    docked = [w for w in viewer.window.dock_widgets.values() if isinstance(w, SeriesChooser)]
    if docked:  # opened from a menu earlier: napari names that dock differently, so it is found by type
        chooser = docked[0]
        dock = chooser.native.parent()  # the dock, as napari documents for viewer.window.dock_widgets
    else:
        dock, chooser = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET, tabify=True)
    chooser.show_choices(path, choices)
    dock.show()
    dock.raise_()  # in front of the docks it was tabbed with
    return chooser


class SeriesChooser(Container):
    """Folder, one row per series (tick box named as its layer will be, and details), *Open ticked series*."""

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self.folder = FileEdit(
            label="folder", mode="d", tooltip="a DICOM study folder (or the folder of a DICOMDIR); lists its series"
        )
        self.rows = Container(labels=False)
        self.open_button = PushButton(text="Open ticked series", tooltip="add the ticked series as image layers")
        self.status = Label(value="choose a DICOM folder")
        self.status.native.setWordWrap(True)  # magicgui has no option for it
        super().__init__(widgets=[self.folder, self.open_button, self.status])
        self.scroll = QScrollArea()  # a magicgui scrollable Container loses its scroll area once nested
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.rows.native)
        self.native.layout().insertWidget(1, self.scroll)
        tabify_when_docked(self)  # opened beside our other docks: a tab, not a squeeze
        self.choices: list = []
        self.boxes: list[CheckBox] = []
        self.folder.changed.connect(lambda value: self.list_series(value))
        self.open_button.changed.connect(self.open_ticked)

    def list_series(self, path) -> None:
        """Scan ``path`` (headers only) and show its series."""
        from ..io.series_choice import study_choices

        try:
            choices = study_choices(path)
        except MedsegError as exc:
            self.show_choices(path, [])
            self.status.value = str(exc)
            return
        self.show_choices(path, choices)

    def show_choices(self, path, choices) -> None:
        """Show one row per choice: a tick box (ticked by default unless a localizer) and its details."""
        with self.folder.changed.blocked():
            self.folder.value = Path(path)
        self.rows.clear()
        self.choices, self.boxes = list(choices), []
        for choice in choices:
            box = CheckBox(text=choice.name, value=choice.ticked, tooltip=_tooltip(choice))
            details = Label(value="\n".join(choice.detail_lines()), tooltip=_tooltip(choice))
            self.rows.extend([box, details])
            self.boxes.append(box)
        self.scroll.setMinimumHeight(min(64 * len(choices), 320))  # a few rows in view, the rest scroll
        n_ticked = sum(c.ticked for c in choices)
        self.status.value = (
            f"{len(choices)} series in {Path(path).name}; {n_ticked} ticked (localizers unticked)" if choices else ""
        )

    def ticked(self) -> list:
        """The choices whose box is ticked, in row order."""
        return [c for c, box in zip(self.choices, self.boxes) if box.value]

    def open_ticked(self) -> list:
        """Read the ticked series (all before any is added) and add their layers; the layers added."""
        from ..io.series_choice import load_choices
        from .reader import volume_layers

        chosen = self.ticked()
        if not chosen:
            self.status.value = "tick at least one series"
            return []
        try:
            layer_data = volume_layers(load_choices(chosen))
        except MedsegError as exc:
            show_error(str(exc))
            self.status.value = str(exc)
            return []
        added = [Layer.create(*data) for data in layer_data]
        for layer in added:
            self.viewer.add_layer(layer)
        self.status.value = f"opened {', '.join(c.name for c in chosen)}"
        return added


def _tooltip(choice) -> str:
    """Details and every warning (up to :data:`MAX_WARNINGS_IN_TOOLTIP`) of one series."""
    warnings = choice.summary.warnings
    lines = [f"{choice.name} (series id {choice.series_id})", *choice.detail_lines()]
    lines += [f"warning: {w}" for w in warnings[:MAX_WARNINGS_IN_TOOLTIP]]
    if len(warnings) > MAX_WARNINGS_IN_TOOLTIP:
        lines.append(f"... and {len(warnings) - MAX_WARNINGS_IN_TOOLTIP} more; `medseg info PATH` lists them all")
    return "\n".join(lines)
