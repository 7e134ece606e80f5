"""Label table: each label of a Labels layer with its name and colour, editable (add, rename, recolour).

The names live in the layer's ``features`` (``index`` and ``name`` columns) and the colours
in its ``colormap``: what every writer reads (NIfTI + ITK-SNAP label description, RT
structure set) and what the volume legend shows. One row per label value > 0: the labels
named in ``features``, those painted when the table started following the layer, and the
one selected for painting. *Add label* selects the next value for painting; a value selected
for painting gets a row and the palette's colour (a value without a colour would paint
invisibly).
"""

from __future__ import annotations

import re

import numpy as np
from magicgui.widgets import Container, PushButton, Table

from ..colours import colour_of
from ..metrics.overlap import label_volumes_ml
from .layers import label_colormap, label_colours, label_names_from_features

_HEX = re.compile(r"#[0-9a-fA-F]{6}")


class LabelTable(Container):
    """Table (value | name | colour) of the Labels layer it follows, written back on every edit."""

    def __init__(self):
        self.table = Table(
            value={"data": [], "columns": ["name", "colour"]},
            tooltip="double-click a name or a colour (#rrggbb) to change it; names are saved with the labels",
        )
        self.table.max_height = 170  # a few rows, then it scrolls: the dock fits a 1366x768 screen
        self.add_button = PushButton(
            text="Add label", tooltip="a new label value to paint, with its own name and colour"
        )
        super().__init__(widgets=[self.table, self.add_button], labels=False)
        self._layer = None
        self._present: set[int] = set()  # label values painted when the layer was followed
        self._filling = False
        self.table.changed.connect(self._edited)
        self.add_button.changed.connect(self.add_label)

    @property
    def layer(self):
        """The Labels layer shown, or None."""
        return self._layer

    def follow(self, layer) -> None:
        """Show ``layer``'s labels from now on: those named, those painted and the selected one."""
        if self._layer is not None:
            self._layer.events.selected_label.disconnect(self._selected)
        if layer is not None:
            layer.events.selected_label.connect(self._selected)
        self._layer = layer
        self._present = set(label_volumes_ml(np.asarray(layer.data), (1.0, 1.0, 1.0))) if layer is not None else set()
        self._fill()

    def rows(self) -> dict[int, tuple[str, str]]:
        """Label value -> (name, ``#rrggbb``) as the table shows them."""
        return {
            int(v): (str(name), str(colour))
            for v, (name, colour) in zip(self.table.row_headers, self.table.data.to_list())
        }

    def add_label(self, *_args) -> int:
        """Append the next label value, select it for painting; returns it."""
        if self._layer is None:
            return 0
        rows = self.rows()
        value = max([0, *rows, int(self._layer.selected_label)]) + 1
        self._layer.selected_label = value  # gets its row and colour (see _selected)
        return value

    def _selected(self, _event=None) -> None:
        """A new label value chosen for painting gets a row (a name to type) and its palette colour."""
        value, rows = int(self._layer.selected_label), self.rows()
        if value > 0 and value not in rows and not self._filling:
            rows[value] = (f"label {value}", colour_of(value))
            self._apply(rows)

    def _fill(self) -> None:
        layer = self._layer
        if layer is None:
            self.table.value = {"data": [], "columns": ["name", "colour"]}
            return
        names = {k: v for k, v in label_names_from_features(layer.features).items() if k > 0}
        values = sorted(set(names) | self._present | ({int(layer.selected_label)} - {0}))
        colours = label_colours(layer.colormap, values)
        self._filling = True
        try:
            self.table.value = {
                "data": [[names.get(v, f"label {v}"), colours.get(v, colour_of(v))] for v in values],
                "index": values,
                "columns": ["name", "colour"],
            }
        finally:
            self._filling = False

    def _edited(self, *_args) -> None:
        if not self._filling and self._layer is not None:
            self._apply(self.rows())

    def _apply(self, rows: dict[int, tuple[str, str]]) -> None:
        """Write names into ``features`` and colours into the colormap (a bad colour keeps the old one)."""
        layer = self._layer
        old = label_colours(layer.colormap, rows)
        colours = {v: c if _HEX.fullmatch(c.strip()) else old[v] for v, (_, c) in rows.items()}
        values = sorted(rows)
        self._filling = True  # napari re-emits selected_label when the colormap changes
        try:
            layer.features = {"index": [0, *values], "name": ["background", *(rows[v][0].strip() for v in values)]}
            layer.colormap = label_colormap({v: c.strip() for v, c in colours.items()})
        finally:
            self._filling = False
        self._fill()
