"""The Segment dock widget on the sample MRI: worker thread, result layer, cancel, edited-layer prompt."""

from __future__ import annotations

import numpy as np
import pytest

from napari_medseg._napari.layers import label_colormap, volume_from_layer
from napari_medseg._napari.sample_data import brain_mri
from napari_medseg._napari.segment_widget import (
    SegmentWidget,
    content_digest,
    model_from_file,
    result_layer_name,
)
from napari_medseg.metrics.report import format_ml
from napari_medseg.models.registry import SHIPPED_BUNDLES


def test_model_from_file_maps_a_bundle_config_to_its_folder(tmp_path):
    config = SHIPPED_BUNDLES / "brain_tissue" / "configs" / "inference.json"
    assert model_from_file(config) == str(SHIPPED_BUNDLES / "brain_tissue")
    desc = tmp_path / "net.yaml"
    desc.write_text("network: UNet\nweights: w.pt\n")
    assert model_from_file(desc) == str(desc)


def test_content_digest_changes_when_one_voxel_is_painted():
    labels = np.zeros((4, 5, 6), np.uint8)
    before = content_digest(labels)
    labels[1, 2, 3] = 2
    assert content_digest(labels) != before
    assert content_digest(labels.copy()) == content_digest(labels)


def test_label_colormap_keeps_background_transparent_and_model_colours():
    cmap = label_colormap({1: "#ff0000", 2: "#00ff00"})
    np.testing.assert_allclose(cmap.map(np.array([0, 1, 2])), [[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 0, 1]])


def test_label_colormap_shows_every_other_value_in_the_palette_never_invisibly():
    """A value chosen with napari's own *new label* button, not named by the model, still paints visibly."""
    from napari.utils.colormaps.standardize_color import transform_color

    from napari_medseg.colours import colour_of

    cmap = label_colormap({1: "#ff0000", 2: "#00ff00"})
    for value in (3, 4, 9, 255):
        np.testing.assert_allclose(cmap.map(np.array([value]))[0], transform_color(colour_of(value))[0], atol=1e-6)
    assert cmap.map(np.array([300, 65535]))[:, 3].min() == 1.0  # beyond the palette: opaque still


def test_the_reference_and_the_models_result_show_a_tissue_in_one_colour(viewer_with_sample, qtbot):
    viewer, widget = viewer_with_sample
    widget._device.value = "cpu"
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)
    result = next(layer for layer in viewer.layers if layer.name.endswith("[brain-tissue]"))
    reference = viewer.layers["tissue (reference)"]
    values = np.array([1, 2, 3])
    np.testing.assert_allclose(reference.colormap.map(values), result.colormap.map(values))


@pytest.fixture
def viewer_with_sample(make_napari_viewer):
    viewer = make_napari_viewer()
    for data, kwargs, kind in brain_mri():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def _run_and_wait(qtbot, widget, timeout=180_000):
    widget.run()
    assert widget.worker is not None
    qtbot.waitUntil(lambda: widget.worker is None, timeout=timeout)


def test_run_adds_labels_layer_on_image_geometry_with_names(qtbot, viewer_with_sample):
    viewer, widget = viewer_with_sample
    image = viewer.layers["MNI152 T1 (2 mm)"]
    reference = viewer.layers["tissue (reference)"].data
    _run_and_wait(qtbot, widget)
    result = viewer.layers[result_layer_name(image.name, "brain-tissue")]
    np.testing.assert_allclose(result.affine.affine_matrix, image.affine.affine_matrix)
    assert result.data.shape == image.data.shape
    assert list(result.features["name"]) == ["background", "grey matter", "white matter", "CSF"]
    assert widget.status.startswith("done")
    for k in (1, 2):  # a real segmentation, not an empty layer
        a, b = result.data == k, reference == k
        assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.7
    voxel_ml = np.prod(volume_from_layer(image).spacing) / 1000
    assert voxel_ml == pytest.approx(0.008)  # the sample's 2 mm voxels
    for k, name in ((1, "grey matter"), (2, "white matter")):  # the legend: each tissue's volume in ml
        assert f"{k} {name}: {format_ml(np.count_nonzero(result.data == k) * voxel_ml)} ml" in widget.legend
    assert "color:#e6194b" in widget.legend  # the model's grey-matter colour (metadata.json)


def test_cancel_stops_the_run_without_adding_a_layer(qtbot, viewer_with_sample):
    viewer, widget = viewer_with_sample
    n_layers = len(viewer.layers)
    widget.run()
    widget.cancel()  # pressed before the first window batch
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)
    assert len(viewer.layers) == n_layers
    assert widget.status == "cancelled"


def test_rerun_asks_before_replacing_an_edited_result(qtbot, viewer_with_sample):
    viewer, widget = viewer_with_sample
    asked = []
    widget.confirm = lambda title, text: asked.append(text) or False
    _run_and_wait(qtbot, widget)
    name = result_layer_name("MNI152 T1 (2 mm)", "brain-tissue")
    _run_and_wait(qtbot, widget)  # unedited: replaced silently
    assert asked == [] and sum(layer.name.startswith(name) for layer in viewer.layers) == 1
    edited = viewer.layers[name]
    edited.data[10:12, 10:12, 10:12] = 2
    painted = edited.data.copy()
    _run_and_wait(qtbot, widget)  # edited: asked; "No" keeps it and adds the new result
    assert len(asked) == 1
    np.testing.assert_array_equal(viewer.layers[name].data, painted)
    assert f"{name} (new)" in [layer.name for layer in viewer.layers]


def test_a_mismatched_model_asks_before_running(make_napari_viewer):
    from napari_medseg._napari.sample_data import ct_series

    viewer = make_napari_viewer()
    for data, kwargs, kind in ct_series():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget = SegmentWidget(viewer)
    asked = []
    widget.confirm = lambda title, text: asked.append((title, text)) or False
    widget.run()
    assert widget.worker is None and len(viewer.layers) == 1  # nothing ran
    ((title, text),) = asked
    assert title == "Model and image do not match"
    assert "expects MR, any contrast, brain, with or without skull" in text and "this image is CT" in text
    assert widget.status.startswith("not run: it expects MR")


def test_save_labels_proposes_a_file_beside_the_source_after_a_run(qtbot, viewer_with_sample):
    from napari_medseg.samples import brain_mri_paths

    _, widget = viewer_with_sample
    _run_and_wait(qtbot, widget)
    save = widget._save
    assert save.layer.value.name == result_layer_name("MNI152 T1 (2 mm)", "brain-tissue")
    assert save.path.value == brain_mri_paths()[0].parent / "mni152_t1_2mm_brain-tissue.nii.gz"
