"""The Interactive SAM dock widget in a real napari viewer (run under xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_medseg._napari.sam_widget import SamWidget
from napari_medseg.metrics.report import format_ml
from test_sam_model import ct_phantom, dice

WAIT_MS = 240_000


def wait_idle(qtbot, widget):
    qtbot.waitUntil(lambda: not widget.busy, timeout=WAIT_MS)


def rectangle(k, mask2d):
    rows, cols = np.nonzero(mask2d)
    return np.array(
        [
            [k, rows.min(), cols.min()],
            [k, rows.min(), cols.max()],
            [k, rows.max(), cols.max()],
            [k, rows.max(), cols.min()],
        ],
        float,
    )


@pytest.fixture
def viewer_widget(make_napari_viewer, qtbot):
    torch.set_num_threads(2)
    viewer = make_napari_viewer()
    vol, organ = ct_phantom(shape=(12, 112, 112))
    image = viewer.add_image(vol, name="ct", scale=(3.0, 1.5, 1.5), translate=(-20.0, 5.0, 7.5))
    labels = viewer.add_labels(
        np.zeros(vol.shape, np.uint16), name="labels", scale=image.scale, translate=image.translate
    )
    labels.data[0, :4, :4] = 7  # another structure that must survive
    widget = SamWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image_combo.value, widget.labels_combo.value = image, labels
    wait_idle(qtbot, widget)
    yield viewer, widget, organ
    widget.shutdown()
    qtbot.waitUntil(lambda: widget.idle, timeout=WAIT_MS)


def test_a_box_drawn_while_the_model_loads_says_what_it_did(make_napari_viewer, qtbot):
    """Choosing an image loads the model in the background; a box drawn meanwhile waits in the
    queue, and when it is done the status names it (it used to stay at "Working...")."""
    torch.set_num_threads(2)
    viewer = make_napari_viewer()
    vol, organ = ct_phantom(shape=(12, 112, 112))
    image = viewer.add_image(vol, name="ct")
    widget = SamWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image_combo.value = image
    k = int(np.flatnonzero(organ.any(axis=(1, 2))).mean())
    viewer.dims.set_current_step(0, k)
    assert widget.busy  # still building the session
    widget.layers.boxes.add_rectangles(rectangle(k, organ[k]))
    qtbot.waitUntil(lambda: widget.layers.preview.data[k].any(), timeout=WAIT_MS)
    wait_idle(qtbot, widget)
    assert widget.status.value.startswith(f"Slice {k}: box segmented")
    widget.shutdown()
    qtbot.waitUntil(lambda: widget.idle, timeout=WAIT_MS)


def test_the_status_says_ready_once_the_model_is_loaded(viewer_widget):
    _, widget, _ = viewer_widget
    assert widget.status.value.startswith("Ready: draw a box")


def test_box_propagate_correct_a_leak_accept_and_undo(viewer_widget, qtbot):
    viewer, widget, organ = viewer_widget
    assert widget.layers.boxes.affine.affine_matrix.tolist() == viewer.layers["ct"].affine.affine_matrix.tolist()
    assert np.allclose(widget.layers.boxes.scale, viewer.layers["ct"].scale)
    labels = widget.labels_combo.value
    zs = np.flatnonzero(organ.any(axis=(1, 2)))
    k = int(zs[len(zs) // 2])
    viewer.dims.set_current_step(0, k)
    assert (widget.first.value, widget.last.value) == (0, 11)  # the default range: the whole axis
    widget.layers.boxes.add_rectangles(rectangle(k, organ[k]))  # what drawing a rectangle on slice k adds
    qtbot.waitUntil(lambda: widget.layers.preview.data[k].any(), timeout=WAIT_MS)
    wait_idle(qtbot, widget)
    widget.propagate()
    wait_idle(qtbot, widget)
    preview = widget.layers.preview.data > 0
    assert dice(preview, organ) >= 0.85
    assert not preview[[z for z in range(12) if z not in zs]].any()  # stopped where the organ ends
    widget.accept()
    accepted = np.asarray(labels.data).copy()
    assert dice(accepted == 1, organ) >= 0.85 and (accepted[0, :4, :4] == 7).all()
    voxel_ml = 3.0 * 1.5 * 1.5 / 1000  # the legend: each label's volume in the labels layer, after the edit
    expected = f"1: {format_ml(np.count_nonzero(accepted == 1) * voxel_ml)} ml<br>"
    qtbot.waitUntil(lambda: expected in widget.volumes.value, timeout=5_000)

    # a leak on a slice without the organ (painted, as an earlier propagation would have left it)
    leak_slice = int(zs[-1]) + 1
    leak = np.zeros(organ.shape, bool)
    leak[leak_slice, 40:52, 60:72] = True
    labels.data_setitem(np.nonzero(leak), 1)
    with_leak = np.asarray(labels.data).copy()
    viewer.dims.set_current_step(0, leak_slice)
    widget.point_mode(False)
    widget.layers.points.add(np.array([[leak_slice, 46.0, 66.0]]))  # an outside click on the leak
    qtbot.waitUntil(
        lambda: widget.session is not None and (0, leak_slice) in widget.session.prompted(), timeout=WAIT_MS
    )
    wait_idle(qtbot, widget)
    widget.accept()
    corrected = np.asarray(labels.data).copy()
    assert not (corrected[leak_slice] == 1).any()  # Accept removed the false positive
    assert np.array_equal(corrected[zs], with_leak[zs])  # the organ's slices kept
    assert (corrected[0, :4, :4] == 7).all()
    labels.undo()
    assert np.array_equal(np.asarray(labels.data), with_leak)


def test_keys_on_our_layers_and_click_colours_tell_inside_from_outside(viewer_widget):
    viewer, widget, _ = viewer_widget
    for layer in (widget.layers.boxes, widget.layers.points, widget.layers.preview):
        bound = {str(k).replace("+", "-").lower() for k in layer.keymap}
        assert {"q", "w", "shift-w", "g", "shift-g", "n"} <= bound, layer.name
    assert not any(str(k).lower() in ("g", "q") for k in viewer.keymap)  # not viewer-wide
    assert widget.layers.preview not in widget.labels_combo.choices  # never a target for accepted labels
    widget.box_mode()
    assert viewer.layers.selection.active is widget.layers.boxes and widget.layers.boxes.mode == "add_rectangle"
    widget.point_mode(False)
    widget.layers.points.add(np.array([[4.0, 30.0, 40.0]]))  # an outside click
    widget.point_mode(True)  # switching mode must not recolour that click
    widget.layers.points.add(np.array([[4.0, 50.0, 60.0]]))
    colours = widget.layers.points.face_color
    assert np.allclose(colours[0, :3], [1, 0, 0]) and np.allclose(colours[1, :3], [0, 1, 0])
    assert widget.layers.points.features["inside"].tolist() == [False, True]
    before = widget.label_value.value
    widget.next_label()
    assert widget.label_value.value == before + 1


def test_range_follows_the_viewed_axis_and_cancel_changes_nothing(viewer_widget, qtbot):
    viewer, widget, organ = viewer_widget
    viewer.dims.order = (1, 0, 2)  # a coronal view: slices along axis 1
    assert (widget.first.value, widget.last.value) == (0, 111) and widget.last.max == 111
    viewer.dims.order = (0, 1, 2)
    k = int(np.flatnonzero(organ.any(axis=(1, 2)))[2])
    viewer.dims.set_current_step(0, k)
    widget.layers.boxes.add_rectangles(rectangle(k, organ[k]))
    qtbot.waitUntil(lambda: widget.layers.preview.data[k].any(), timeout=WAIT_MS)
    wait_idle(qtbot, widget)
    before_preview = widget.layers.preview.data.copy()
    before_labels = np.asarray(widget.labels_combo.value.data).copy()
    widget.propagate()
    widget.cancel()
    wait_idle(qtbot, widget)
    assert "cancelled" in widget.status.value
    assert np.array_equal(widget.layers.preview.data, before_preview)
    assert np.array_equal(np.asarray(widget.labels_combo.value.data), before_labels)


def test_a_brush_stroke_on_the_preview_corrects_its_slice(viewer_widget, qtbot):
    viewer, widget, organ = viewer_widget
    k = int(np.flatnonzero(organ.any(axis=(1, 2)))[3])
    viewer.dims.set_current_step(0, k)
    widget.layers.boxes.add_rectangles(rectangle(k, organ[k]))
    qtbot.waitUntil(lambda: widget.layers.preview.data[k].any(), timeout=WAIT_MS)
    wait_idle(qtbot, widget)
    rows, cols = np.nonzero(widget.layers.preview.data[k])
    erase = np.zeros(organ.shape, bool)
    erase[k, rows.min() : rows.min() + 6, :] = True  # erase the top rows of the structure
    erase &= widget.layers.preview.data > 0
    widget.layers.preview.data_setitem(np.nonzero(erase), 0)  # what the eraser does (a paint event)
    qtbot.waitUntil(lambda: not widget.session.mask[k][erase[k]].any(), timeout=WAIT_MS)
    wait_idle(qtbot, widget)
    widget.accept()
    labels = np.asarray(widget.labels_combo.value.data)
    assert not (labels[erase] == 1).any() and (labels[k] == 1).sum() > 0.5 * organ[k].sum()
