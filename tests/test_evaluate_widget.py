"""The Evaluate widget in a real napari viewer: worker, table, error layer, export, errors."""

import csv

import numpy as np
import pytest

from napari_medseg.metrics import evaluate_labels
from napari_medseg.volume import napari_affine

AFFINE_LPS = np.array([[0, 0, 0.9, -40.0], [0, 1.1, 0, -30.0], [2.5, 0, 0, 12.0], [0, 0, 0, 1]])
SPACING = (2.5, 1.1, 0.9)


def label_pair():
    ref = np.zeros((10, 16, 14), np.uint8)
    ref[2:7, 3:12, 4:10] = 1
    ref[4:9, 8:14, 2:6] = 2
    pred = np.roll(ref, (0, 2, -1), axis=(0, 1, 2))
    pred[pred == 2] = 0
    pred[6:8, 2:4, 10:12] = 2
    return pred, ref


@pytest.fixture
def viewer_and_widget(make_napari_viewer):
    from napari_medseg._napari.evaluate_widget import EvaluateWidget

    viewer = make_napari_viewer()
    pred, ref = label_pair()
    affine = napari_affine(AFFINE_LPS)
    viewer.add_labels(
        ref, name="tissue (reference)", affine=affine, metadata={"medseg": {"label_names": {1: "liver", 2: "spleen"}}}
    )
    viewer.add_labels(pred, name="prediction", affine=affine)
    widget = EvaluateWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget, pred, ref


def run_and_wait(widget, qtbot):
    widget.run()
    assert widget.worker is not None and not widget.run_button.enabled  # running off the GUI thread
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=30000)  # re-enabled when the worker finishes


def test_widget_table_matches_python_api_with_names_and_error_layer(viewer_and_widget, qtbot):
    viewer, widget, pred, ref = viewer_and_widget
    assert widget.ref.value.name == "tissue (reference)" and widget.pred.value.name == "prediction"
    widget.tolerance.value = 1.5
    run_and_wait(widget, qtbot)
    expected = evaluate_labels(pred, ref, SPACING, tolerance_mm=1.5)
    assert [row["label"] for row in widget.rows] == [1, 2]
    assert [row["name"] for row in widget.rows] == ["liver", "spleen"]
    assert widget.rows[0]["hd95_mm"] == pytest.approx(expected[0].hd95_mm, rel=1e-9)
    assert list(widget.table.column_headers) == ["1 liver", "2 spleen"]  # one column per label
    assert widget.table["1 liver"][list(widget.table.row_headers).index("dice")] == round(expected[0].dice, 4)
    errors = viewer.layers["boundary errors"]
    assert errors.data.shape == ref.shape
    assert np.allclose(errors.affine.affine_matrix, viewer.layers["tissue (reference)"].affine.affine_matrix)
    assert np.count_nonzero(errors.data) > 0


def test_export_writes_full_precision_csv_and_copy_gives_tsv(viewer_and_widget, qtbot, tmp_path):
    from qtpy.QtWidgets import QApplication

    _, widget, pred, ref = viewer_and_widget
    run_and_wait(widget, qtbot)
    widget.copy_to_clipboard()
    lines = QApplication.clipboard().text().splitlines()
    assert lines[0].split("\t")[:3] == ["label", "name", "dice"] and len(lines) == 3
    widget.export_path.value = tmp_path / "out.csv"
    widget.export_csv()
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    expected = evaluate_labels(pred, ref, SPACING)
    assert float(rows[1]["dice"]) == pytest.approx(expected[1].dice, rel=1e-12)
    assert rows[1]["name"] == "spleen"


def test_mismatched_grids_become_a_notification_not_a_traceback(viewer_and_widget, qtbot):
    from napari.utils.notifications import notification_manager

    viewer, widget, pred, _ = viewer_and_widget
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    viewer.add_labels(pred[:, :, :10], name="cropped", affine=napari_affine(AFFINE_LPS))
    widget.pred.value = viewer.layers["cropped"]
    widget.show_errors.value = False
    run_and_wait(widget, qtbot)
    qtbot.waitUntil(lambda: any("different voxel grids" in m for m in seen), timeout=5000)
    assert widget.status.value == "evaluation failed"
    widget.resample.value = True
    run_and_wait(widget, qtbot)
    assert len(widget.rows) == 2 and "resampled" in widget.status.value


def test_layers_added_after_the_widget_are_preselected(make_napari_viewer):
    from napari_medseg._napari.evaluate_widget import EvaluateWidget

    viewer = make_napari_viewer()
    widget = EvaluateWidget(viewer)
    assert widget.pred.value is None and widget.ref.value is None
    pred, ref = label_pair()
    viewer.add_labels(pred, name="model output")
    viewer.add_labels(ref, name="manual reference")
    assert widget.ref.value.name == "manual reference" and widget.pred.value.name == "model output"


def test_csv_defaults_beside_the_source_image_and_every_input_has_a_tooltip(make_napari_viewer, qtbot, tmp_path):
    import shutil

    from magicgui.widgets.bases import ButtonWidget, ValueWidget

    from napari_medseg._napari.evaluate_widget import EvaluateWidget
    from napari_medseg._napari.save_labels import SaveLabels
    from napari_medseg._napari.segment_widget import SegmentWidget
    from napari_medseg.io import read_volume, write_labels
    from napari_medseg.samples import brain_mri_paths

    t1, tissue = read_volume(brain_mri_paths()[0]), read_volume(brain_mri_paths()[1])
    shutil.copy(brain_mri_paths()[0], tmp_path / "t1.nii.gz")
    write_labels(tmp_path / "t1_seg.nii.gz", tissue.array, t1)
    viewer = make_napari_viewer()
    viewer.open(str(tmp_path / "t1.nii.gz"), plugin="napari-medseg")
    (pred,) = viewer.open(str(tmp_path / "t1_seg.nii.gz"), plugin="napari-medseg")
    reference = viewer.add_labels(np.asarray(pred.data), name="reference", affine=pred.affine, units=pred.units)
    widget = EvaluateWidget(viewer)
    widget.pred.value, widget.ref.value = pred, reference
    run_and_wait(widget, qtbot)
    assert widget.export_path.value == tmp_path / "t1_seg_metrics.csv"
    widget.export_csv()
    assert (tmp_path / "t1_seg_metrics.csv").is_file()

    def inputs(container):
        for w in container:
            if hasattr(w, "__iter__") and not isinstance(w, ValueWidget) and w.widget_type != "FileEdit":
                yield from inputs(w)
            elif isinstance(w, (ValueWidget, ButtonWidget)) and w.widget_type != "Label" or w.widget_type == "FileEdit":
                yield w

    for dock, n_inputs in ((widget, 10), (SegmentWidget(viewer), 10), (SaveLabels(viewer), 3)):
        assert len(list(inputs(dock))) >= n_inputs
        untipped = [w.label or w.widget_type for w in inputs(dock) if w.widget_type not in ("Table",) and not w.tooltip]
        assert untipped == [], type(dock).__name__
