"""*Adapt to this structure* in the Interactive SAM widget, in a real napari viewer (run under xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_medseg._napari.sam_widget import SamWidget
from napari_medseg.models.sam.adapter_store import default_adapter_folder, list_adapters
from test_sam_adapter import ring_phantom
from test_sam_model import dice
from test_sam_widget import WAIT_MS, wait_idle


@pytest.fixture
def ring_widget(make_napari_viewer, qtbot):
    torch.set_num_threads(2)
    viewer = make_napari_viewer()
    vol, ring = ring_phantom()
    image = viewer.add_image(vol, name="ring ct", scale=(3.0, 1.5, 1.5))
    labels = viewer.add_labels(np.zeros(vol.shape, np.uint16), name="labels", scale=image.scale)
    widget = SamWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image_combo.value, widget.labels_combo.value = image, labels
    wait_idle(qtbot, widget)
    yield viewer, widget, ring
    widget.shutdown()
    qtbot.waitUntil(lambda: widget.idle, timeout=WAIT_MS)


def test_adapt_on_three_corrected_slices_changes_the_other_slices(ring_widget, qtbot):
    viewer, widget, ring = ring_widget
    labels, panel = widget.labels_combo.value, widget.adapt_panel
    labels.data[0, :4, :4] = 7  # another structure
    widget.label_value.value = 3
    extent = np.flatnonzero(ring.any(axis=(1, 2)))
    corrected = [int(extent[1]), int(extent[len(extent) // 2]), int(extent[-2])]
    for k in corrected:  # three slices corrected by hand (painted), as the user accepts them
        index = np.nonzero(ring[k])
        labels.data_setitem((np.full(len(index[0]), k), *index), 3)
    others = [int(i) for i in extent if i not in corrected]
    wait_idle(qtbot, widget)
    base = widget.session.predictor

    # what the base model propagates from those slices
    widget.session.set_target(np.asarray(labels.data), 3)
    widget.session.add_slices(0, corrected)
    widget.session.propagate(0)
    base_result = widget.session.mask.copy()

    panel.steps.value = 20
    panel.adapt()
    qtbot.waitUntil(
        lambda: "Adapted to label 3" in panel.status.value or "Error" in widget.status.value, timeout=WAIT_MS
    )
    wait_idle(qtbot, widget)
    assert "not a validated model" in panel.status.value, widget.status.value
    preview = widget.layers.preview.data > 0
    assert np.array_equal(preview[corrected], ring[corrected])  # the corrected slices are kept
    assert not np.array_equal(preview[others], base_result[others])  # re-propagated with the adapter
    assert dice(preview[others], ring[others]) > dice(base_result[others], ring[others])
    assert widget.session.predictor is not base
    assert any(card.get("label") == 3 for _, card in list_adapters(default_adapter_folder()))

    widget.label_value.value = 4  # another structure: the base model
    assert widget.session.predictor is base
    widget.label_value.value = 3
    assert widget.session.predictor is not base

    widget.accept()
    assert dice(np.asarray(labels.data)[others] == 3, ring[others]) == pytest.approx(
        dice(preview[others], ring[others])
    )
    assert (np.asarray(labels.data)[0, :4, :4] == 7).all()
