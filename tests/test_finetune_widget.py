"""The Fine-tune dock widget on the sample MRI: worker thread, new bundle, cancel (run under xvfb)."""

from __future__ import annotations

import json

import pytest

from napari_medseg._napari.finetune_widget import FinetuneWidget, bundle_model_names
from napari_medseg._napari.sample_data import brain_mri
from napari_medseg.models.unet.finetune import RECORD_NAME


@pytest.fixture
def viewer_widget(make_napari_viewer, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_CONFIG_DIR", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    for data, kwargs, kind in brain_mri():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget = FinetuneWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image_combo.value = viewer.layers["MNI152 T1 (2 mm)"]
    widget.labels_combo.value = viewer.layers["tissue (reference)"]
    return viewer, widget


def test_finetune_writes_a_bundle_from_the_corrected_layer(qtbot, viewer_widget, tmp_path):
    _, widget = viewer_widget
    assert "brain-tissue" in bundle_model_names() and widget.model_combo.value == "brain-tissue"
    widget.epochs.value, widget.patches.value = 1, 2
    widget.out_dir.value = tmp_path / "tuned"
    widget.run()
    assert widget.worker is not None and not widget.run_button.enabled
    qtbot.waitUntil(lambda: widget.worker is None, timeout=300_000)
    assert widget.result is not None and "wrote" in widget.status.value
    record = json.loads((tmp_path / "tuned" / RECORD_NAME).read_text())
    assert record["cases"][0]["name"] == "tissue (reference)" and record["epochs"] == 1
    assert widget.progress.value == 1000 and widget.run_button.enabled


def test_cancel_stops_and_writes_nothing(qtbot, viewer_widget, tmp_path):
    _, widget = viewer_widget
    widget.epochs.value, widget.patches.value = 50, 16
    widget.out_dir.value = tmp_path / "tuned"
    widget.run()
    qtbot.waitUntil(lambda: "epoch" in widget.status.value, timeout=300_000)
    widget.cancel()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=300_000)
    assert "cancelled" in widget.status.value and widget.result is None
    assert not (tmp_path / "tuned").exists()


def test_labels_on_another_grid_are_refused_with_a_message(viewer_widget, tmp_path):
    import numpy as np

    viewer, widget = viewer_widget
    widget.labels_combo.value = viewer.add_labels(np.zeros((5, 6, 7), np.uint8), name="small")
    widget.out_dir.value = tmp_path / "tuned"
    widget.run()
    assert widget.worker is None and "shape" in widget.status.value
