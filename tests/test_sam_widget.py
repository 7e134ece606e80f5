"""The Interactive SAM dock widget in a real napari viewer (run under xvfb)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_medseg._napari.sam_widget import SamWidget
from napari_medseg.metrics.report import format_ml

from test_sam_model import ct_phantom, dice

WAIT_MS = 240_000


def wait_for_worker(qtbot, widget):
    qtbot.waitUntil(lambda: not widget._busy, timeout=WAIT_MS)


@pytest.fixture
def viewer_widget(make_napari_viewer, qtbot):
    torch.set_num_threads(2)
    viewer = make_napari_viewer()
    vol, organ = ct_phantom(shape=(12, 112, 112))
    image = viewer.add_image(vol, name="ct", scale=(3.0, 1.5, 1.5), translate=(-20.0, 5.0, 7.5))
    labels = viewer.add_labels(np.zeros(vol.shape, np.uint16), name="labels", scale=image.scale,
                               translate=image.translate)
    labels.data[organ] = 0
    labels.data[0, :4, :4] = 7  # another structure that must survive
    widget = SamWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image_combo.value, widget.labels_combo.value = image, labels
    yield viewer, widget, organ
    widget.shutdown()
    qtbot.waitUntil(lambda: widget.idle, timeout=WAIT_MS)


def test_box_prompt_propagate_undo_in_labels_layer(viewer_widget, qtbot):
    viewer, widget, organ = viewer_widget
    assert widget.boxes.affine.affine_matrix.tolist() == viewer.layers["ct"].affine.affine_matrix.tolist()
    assert np.allclose(widget.boxes.scale, viewer.layers["ct"].scale)
    labels = widget.labels_combo.value
    zs = np.flatnonzero(organ.any(axis=(1, 2)))
    k = int(zs[len(zs) // 2])
    viewer.dims.set_current_step(0, k)
    rows, cols = np.nonzero(organ[k])
    corners = np.array([[k, rows.min(), cols.min()], [k, rows.min(), cols.max()],
                        [k, rows.max(), cols.max()], [k, rows.max(), cols.min()]], float)
    widget.boxes.add_rectangles(corners)  # what drawing a rectangle on slice k adds
    qtbot.waitUntil(lambda: widget._preview is not None, timeout=WAIT_MS)
    wait_for_worker(qtbot, widget)
    qtbot.waitUntil(lambda: widget._precompute_worker is None, timeout=WAIT_MS)  # neighbours embedded meanwhile
    session = widget._session
    assert all(session.predictor.is_cached(session.key_function(0)(i)) for i in (k - 1, k + 1, k + 3))
    widget.accept()
    after_prompt = np.asarray(labels.data).copy()
    assert dice(after_prompt[k] == 1, organ[k]) >= 0.9
    assert np.flatnonzero((after_prompt == 1).any(axis=(1, 2))).tolist() == [k]  # only the prompted slice
    assert (after_prompt[0, :4, :4] == 7).all()
    voxel_ml = 3.0 * 1.5 * 1.5 / 1000  # the legend: each label's volume in the labels layer, after the edit
    expected = f"1: {format_ml(np.count_nonzero(after_prompt == 1) * voxel_ml)} ml<br>"
    qtbot.waitUntil(lambda: expected in widget.volumes.value, timeout=5_000)
    assert widget.volumes.value.endswith(f"7: {format_ml(16 * voxel_ml)} ml")

    widget.first.value, widget.last.value = int(zs[0]), int(zs[-1])
    widget.propagate()
    wait_for_worker(qtbot, widget)
    assert widget._preview is not None
    widget.accept()
    after_propagation = np.asarray(labels.data).copy()
    assert dice(after_propagation == 1, organ) >= 0.9
    assert (after_propagation[0, :4, :4] == 7).all()

    labels.undo()
    assert np.array_equal(np.asarray(labels.data), after_prompt)
    labels.undo()
    assert not (np.asarray(labels.data) == 1).any()
    assert (np.asarray(labels.data)[0, :4, :4] == 7).all()


def test_shortcuts_modes_clicks_and_label_value(viewer_widget):
    viewer, widget, _ = viewer_widget
    keymap = viewer.keymap
    for key in ("Q", "W", "Shift-W", "G", "Shift-G", "N"):
        assert any(str(k).replace("+", "-").lower() == key.lower() for k in map(str, keymap)), key
    assert widget.preview_layer not in widget.labels_combo.choices  # never a target for accepted labels
    assert widget.labels_combo.value is viewer.layers["labels"]
    widget.box_mode()
    assert viewer.layers.selection.active is widget.boxes and widget.boxes.mode == "add_rectangle"
    widget.point_mode(False)
    assert viewer.layers.selection.active is widget.points and widget.points.feature_defaults["inside"][0] == False  # noqa: E712
    widget.points.add(np.array([[4.0, 30.0, 40.0]]))  # an outside click on slice 4
    widget.point_mode(True)
    widget.points.add(np.array([[4.0, 50.0, 60.0]]))
    prompt = widget._prompts()[4]
    assert prompt.points.tolist() == [[40.0, 30.0], [60.0, 50.0]] and prompt.labels.tolist() == [0, 1]
    before = widget.label_value.value
    widget.next_label()
    assert widget.label_value.value == before + 1


def test_cancelled_propagation_leaves_labels_and_preview_unchanged(viewer_widget, qtbot):
    viewer, widget, organ = viewer_widget
    k = int(np.flatnonzero(organ.any(axis=(1, 2)))[2])
    viewer.dims.set_current_step(0, k)
    rows, cols = np.nonzero(organ[k])
    widget.boxes.add_rectangles(np.array([[k, rows.min(), cols.min()], [k, rows.min(), cols.max()],
                                          [k, rows.max(), cols.max()], [k, rows.max(), cols.min()]], float))
    qtbot.waitUntil(lambda: widget._preview is not None, timeout=WAIT_MS)
    wait_for_worker(qtbot, widget)
    before_preview = widget.preview_layer.data.copy()
    before_labels = np.asarray(widget.labels_combo.value.data).copy()
    widget.propagate()
    widget.cancel()
    wait_for_worker(qtbot, widget)
    assert "cancelled" in widget.status.value
    assert np.array_equal(widget.preview_layer.data, before_preview)
    assert np.array_equal(np.asarray(widget.labels_combo.value.data), before_labels)
