"""The Fill between slices dock widget in a real napari viewer (run under xvfb)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_medseg._napari.fill_widget import FillBetweenWidget


def disc(shape2d, r, centre):
    y, x = np.indices(shape2d)
    return np.hypot(y - centre[0], x - centre[1]) <= r


@pytest.mark.parametrize("axis", [0, 2])
def test_draw_two_slices_fill_between_then_undo(make_napari_viewer, axis):
    viewer = make_napari_viewer()
    shape = (40, 50, 60)
    labels = viewer.add_labels(np.zeros(shape, np.uint16), name="labels", scale=(2.5, 1.0, 1.0))
    labels.data[14:17, :4, :4] = 9  # another structure, in the way of no fill
    drawn = np.zeros(shape, bool)
    plane = [s for a, s in enumerate(shape) if a != axis]
    for k, r in ((10, 6), (20, 12)):
        index = [slice(None)] * 3
        index[axis] = k
        drawn[tuple(index)] = disc(plane, r, (plane[0] // 2, plane[1] // 2))
        labels.data_setitem(np.nonzero(drawn & (np.asarray(labels.data) == 0)), 3)  # a stroke per slice
    before = np.asarray(labels.data).copy()
    order = [axis] + [a for a in range(3) if a != axis]
    viewer.dims.order = tuple(order)  # the viewer slices across `axis`
    labels.selected_label = 3
    widget = FillBetweenWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.labels_combo.value = labels
    assert widget.label_value.value == 3 and widget.slice_axis() == axis
    widget.fill_button.clicked()
    after = np.asarray(labels.data)
    middle = [slice(None)] * 3
    middle[axis] = 15
    filled = after[tuple(middle)] == 3
    assert filled.sum() > 0.8 * np.pi * 9**2  # radius ~9 between radii 6 and 12 (in-plane 1 mm or 2.5 mm)
    assert all((np.moveaxis(after, axis, 0)[k] == 3).any() for k in range(11, 20))
    assert np.array_equal(after[before == 9], before[before == 9])  # the other structure is untouched
    assert "between 2 drawn slices" in widget.status.value
    labels.undo()  # one undo step removes the whole fill
    assert np.array_equal(np.asarray(labels.data), before)


def test_one_drawn_slice_is_a_message_not_a_change(make_napari_viewer):
    viewer = make_napari_viewer()
    labels = viewer.add_labels(np.zeros((10, 30, 30), np.uint8), name="labels")
    labels.data[4] = disc((30, 30), 5, (15, 15))
    widget = FillBetweenWidget(viewer)
    widget.labels_combo.value = labels
    widget.fill_button.clicked()
    assert "at least two slices" in widget.status.value
    assert np.count_nonzero(labels.data) == np.count_nonzero(disc((30, 30), 5, (15, 15)))
