"""The Evaluate dock widget: per-label metrics of a prediction layer against a reference layer.

Thin: layer -> Volume (``layers.volume_from_layer``), metrics in a thread worker
(:func:`evaluate_layers_data`, Qt-free), results into a magicgui Table. Errors become
napari notifications.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, FloatSpinBox, Label, PushButton, Table

from ..errors import MedsegError
from ..library_warnings import quietly
from ..metrics import RECORD_FIELDS, SURFACES, Evaluation, evaluate_volumes
from ..metrics.error_map import ERROR_NAMES, EXTRA, MISSED, boundary_error_map
from ..metrics.report import records_to_rows, rows_to_csv_text, write_csv
from ..volume import Volume
from .autosave import ensure_autosave
from .docking import tabify_when_docked
from .save_labels import beside_source

__all__ = ["EvaluateWidget", "evaluate_layers_data", "label_names_of", "metrics_by_label_table"]


def label_names_of(layer) -> dict[int, str]:
    """Label value -> name from a labels layer's ``metadata["medseg"]["label_names"]`` or its
    ``features`` (columns ``index`` and ``name``); empty when it has none."""
    names = (layer.metadata.get("medseg") or {}).get("label_names") or {}
    if names:
        return {int(k): str(v) for k, v in names.items()}
    features = layer.features
    if "index" in features and "name" in features:
        return {int(i): str(n) for i, n in zip(features["index"], features["name"]) if int(i) != 0}
    return {}


def evaluate_layers_data(
    pred: Volume, ref: Volume, *, tolerance_mm: float, surface: str, resample: bool, with_error_map: bool
) -> tuple[Evaluation, np.ndarray | None]:
    """What the widget's worker runs: records, and the boundary-error map on the reference grid."""
    evaluation = evaluate_volumes(pred, ref, resample=resample, tolerance_mm=tolerance_mm, surface=surface)
    error_map = None
    if with_error_map:
        pred_array = pred.array
        if evaluation.resampled:
            from ..metrics.grids import resample_labels_nearest

            pred_array = resample_labels_nearest(pred, ref).array
        error_map = boundary_error_map(pred_array, ref.array, ref.spacing, tolerance_mm)
    return evaluation, error_map


def _display(value: Any) -> Any:
    if value is None:
        return "-"
    if isinstance(value, float):
        return round(value, 4)
    return value


def metrics_by_label_table(rows: list[dict]) -> dict:
    """Table data with one row per metric and one column per label (fits a dock widget).

    Column headers read ``"1 liver"`` when names are known; values are rounded to 4
    decimals for display (copy and export keep full precision); ``-`` = undefined.
    """
    metrics = [f for f in RECORD_FIELDS if f not in ("label", "tolerance_mm", "surface")]  # values, not settings
    headers = [f"{row['label']} {row['name']}".strip() if row.get("name") else str(row["label"]) for row in rows]
    return {"data": [[_display(row[m]) for row in rows] for m in metrics], "index": metrics, "columns": headers}


ERROR_LAYER = "boundary errors"


class EvaluateWidget(Container):
    """Pick prediction and reference labels layers, evaluate per label, copy or export."""

    def __init__(self, napari_viewer):
        import napari

        self._viewer = napari_viewer
        self._labels_type = napari.layers.Labels
        self.pred = ComboBox(
            label="prediction",
            choices=self._labels_layers,
            nullable=True,
            tooltip="the labels layer to score (e.g. a model's result)",
        )
        self.ref = ComboBox(
            label="reference",
            choices=self._labels_layers,
            nullable=True,
            tooltip="the labels layer taken as truth (e.g. a manual segmentation)",
        )
        self.tolerance = FloatSpinBox(
            label="NSD tolerance (mm)",
            value=2.0,
            min=0.0,
            max=100.0,
            step=0.5,
            tooltip="normalised surface Dice counts surface within this distance as agreeing; "
            "also the threshold of the boundary-error layer",
        )
        self.surface = ComboBox(
            label="surface",
            choices=list(SURFACES),
            value="voxel",
            tooltip="voxel: face-connected boundary voxels (MONAI); area: area-weighted surface elements (DeepMind)",
        )
        self.resample = CheckBox(
            text="resample prediction onto the reference grid (nearest)",
            value=False,
            tooltip="needed when the two layers are on different grids; otherwise they are refused",
        )
        self.show_errors = CheckBox(
            text="add boundary-error layer (surface off by > tolerance)",
            value=True,
            tooltip="red: reference surface the prediction missed; blue: prediction surface beyond the reference",
        )
        self.run_button = PushButton(
            text="Evaluate", tooltip="compute Dice, Hausdorff (mm), NSD and volumes (ml) per label"
        )
        self.status = Label(value="")
        self.table = Table(value=[])
        self.table.read_only = True
        self.table.min_height = 300  # the metric rows (the last scrolls into view): docks fit a 768 px screen
        self.copy_button = PushButton(
            text="Copy table", tooltip="tab-separated, full precision: pastes into a spreadsheet"
        )
        self.export_path = FileEdit(
            label="CSV file",
            mode="w",
            filter="*.csv",
            value=Path.home() / "metrics.csv",
            tooltip="where Export CSV writes; proposed beside the prediction's source image",
        )
        self.export_button = PushButton(text="Export CSV", tooltip="write the full-precision table to the CSV file")
        self._proposed_csv = self.export_path.value
        super().__init__(
            widgets=[
                self.pred,
                self.ref,
                self.tolerance,
                self.surface,
                self.resample,
                self.show_errors,
                self.run_button,
                self.status,
                self.table,
                Container(widgets=[self.copy_button, self.export_button], layout="horizontal", labels=False),
                self.export_path,
            ]
        )
        tabify_when_docked(self)  # opened beside our other docks: a tab, not a squeeze
        self.rows: list[dict] = []
        self.worker = None
        self.run_button.changed.connect(self.run)
        self.copy_button.changed.connect(self.copy_to_clipboard)
        self.export_button.changed.connect(self.export_csv)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self._layers_changed)
        self._layers_changed()
        ensure_autosave(napari_viewer)  # corrections painted in this viewer are snapshotted

    def _layers_changed(self, _event=None) -> None:
        self.reset_choices()
        if self.pred.value is None or self.ref.value is None:
            self._preselect()

    def _labels_layers(self, _widget=None) -> list:
        return [layer for layer in self._viewer.layers if isinstance(layer, self._labels_type)]

    def _preselect(self) -> None:
        layers = [la for la in self._labels_layers() if la.name != ERROR_LAYER]
        refs = [la for la in layers if "reference" in la.name.lower()] or layers[:1]
        preds = [la for la in layers if la not in refs[:1]]
        if refs:
            self.ref.value = refs[0]
        if preds:
            self.pred.value = preds[-1]

    def run(self) -> None:
        """Start the evaluation in a thread worker (the GUI stays responsive)."""
        from napari.qt.threading import create_worker
        from napari.utils.notifications import show_error

        from .layers import volume_from_layer

        pred_layer, ref_layer = self.pred.value, self.ref.value
        if pred_layer is None or ref_layer is None or pred_layer is ref_layer:
            show_error("Choose two different labels layers: the prediction and the reference.")
            return
        try:
            pred, ref = volume_from_layer(pred_layer), volume_from_layer(ref_layer)
        except ValueError as exc:
            show_error(str(exc))
            return
        # snapshots: painting during the run must not change what the worker reads
        pred, ref = pred.with_array(np.array(pred.array)), ref.with_array(np.array(ref.array))
        self._names = label_names_of(ref_layer) or label_names_of(pred_layer)
        if self.export_path.value == self._proposed_csv:  # not chosen by the user: follow the layers
            self.export_path.value = self._proposed_csv = beside_source(pred_layer, "metrics", ".csv")
        self._ref_layer = ref_layer
        self.run_button.enabled = False
        self.status.value = f"evaluating {pred_layer.name} against {ref_layer.name} ..."
        self.worker = create_worker(
            quietly(evaluate_layers_data),
            pred,
            ref,
            tolerance_mm=self.tolerance.value,
            surface=self.surface.value,
            resample=self.resample.value,
            with_error_map=self.show_errors.value,
            _connect={
                "returned": self._show,
                "errored": self._failed,  # errored: no re-raise on the GUI thread
                "finished": lambda: setattr(self.run_button, "enabled", True),
            },
            _start_thread=False,
            _progress={"desc": "Evaluating labels"},  # busy bar in napari's activity dock
        )
        self.worker.start()

    def _show(self, result: tuple[Evaluation, np.ndarray | None]) -> None:
        from napari.utils.notifications import show_info

        evaluation, error_map = result
        self.rows = records_to_rows(evaluation.records, names=self._names or None)
        self.table.value = metrics_by_label_table(self.rows)
        n = len(self.rows)
        self.status.value = (
            f"{n} label{'s' if n != 1 else ''} evaluated"
            + (" (prediction resampled)" if evaluation.resampled else "")
            + ("; red: reference surface missed, blue: prediction off" if error_map is not None else "")
        )
        if evaluation.note:
            show_info(evaluation.note)
        if error_map is not None:
            self._add_error_layer(error_map)

    def _add_error_layer(self, error_map: np.ndarray) -> None:
        ref = self._ref_layer
        name = ERROR_LAYER
        if name in self._viewer.layers:
            self._viewer.layers.remove(name)
        from napari.utils.colormaps import DirectLabelColormap

        colors = DirectLabelColormap(
            color_dict={None: "transparent", 0: "transparent", MISSED: "#ff3c3c", EXTRA: "#3cc8ff"}
        )
        self._viewer.add_labels(
            error_map,
            name=name,
            affine=ref.affine,
            scale=ref.scale,
            translate=ref.translate,
            rotate=ref.rotate,
            shear=ref.shear,
            units=ref.units,
            colormap=colors,
            features={"index": [0, *ERROR_NAMES], "name": ["", *ERROR_NAMES.values()]},
        )

    def _failed(self, exc: BaseException) -> None:
        from napari.utils.notifications import show_error

        self.status.value = "evaluation failed"
        show_error(str(exc) if isinstance(exc, MedsegError) else f"Evaluation failed: {type(exc).__name__}: {exc}")

    def copy_to_clipboard(self) -> None:
        """Put the full-precision table on the clipboard as tab-separated text (pastes into a spreadsheet)."""
        from napari.utils.notifications import show_error, show_info
        from qtpy.QtWidgets import QApplication  # magicgui has no clipboard

        if not self.rows:
            show_error("Nothing to copy yet: press Evaluate first.")
            return
        QApplication.clipboard().setText(rows_to_csv_text(self.rows, delimiter="\t"))
        show_info(f"copied {len(self.rows)} rows")

    def export_csv(self) -> None:
        """Write the full-precision records to the chosen CSV file (atomic write)."""
        from napari.utils.notifications import show_error, show_info

        if not self.rows:
            show_error("Nothing to export yet: press Evaluate first.")
            return
        try:
            path = write_csv(self.export_path.value, self.rows)
        except OSError as exc:
            show_error(f"Could not write {self.export_path.value}: {exc.strerror or exc}")
            return
        show_info(f"wrote {path}")
