"""DICOM SEG in napari: a folder's SEG opens as named, coloured labels; labels save as a SEG."""

import numpy as np
import pytest

from dicom_factory import write_marked_series
from napari_medseg.io import read_volume

pytest.importorskip("highdicom")
PLUGIN = "napari-medseg"


def test_a_folder_with_a_seg_opens_one_image_and_the_segments_as_named_labels(make_napari_viewer, tmp_path):
    from napari_medseg.io.seg_write import write_segmentation

    marks = [(1000, slice(2, 6), slice(10, 30), slice(5, 40)), (2000, slice(3, 5), slice(15, 20), slice(12, 18))]
    write_marked_series(tmp_path / "ct", marks, iop=(-1.0, 0, 0, 0, 1, 0))
    image = read_volume(tmp_path / "ct")
    labels = (image.array == 1000).astype(np.uint8) + 2 * (image.array == 2000)
    write_segmentation(
        tmp_path / "ct" / "seg.dcm", labels, image, {1: "PTV", 2: "GTV"}, {1: "#ff0000", 2: "#0000ff"}, label="plan"
    )
    viewer = make_napari_viewer()
    layers = viewer.open(str(tmp_path / "ct"), plugin=PLUGIN)
    assert [type(layer).__name__ for layer in layers] == ["Image", "Labels"]  # the SEG is no second image
    shown, segments = layers
    np.testing.assert_allclose(segments.affine.affine_matrix, shown.affine.affine_matrix)
    np.testing.assert_array_equal(segments.data, labels)
    assert list(segments.features["name"]) == ["background", "PTV", "GTV"]
    np.testing.assert_allclose(segments.colormap.map(np.array([1, 2])), [[1, 0, 0, 1], [0, 0, 1, 1]], atol=0.01)


def test_painted_labels_save_as_a_seg_that_reads_back(make_napari_viewer, tmp_path):
    from napari_medseg.io.seg import read_segmentation, segmentation_to_labels

    write_marked_series(tmp_path / "ct", [(1000, slice(2, 6), slice(10, 30), slice(5, 40))])
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(tmp_path / "ct"), plugin=PLUGIN)
    labels = viewer.add_labels(np.zeros(image.data.shape, np.uint8), affine=image.affine, name="painted")
    labels.data_setitem((np.array([2, 3]), np.array([12, 13]), np.array([7, 8])), 1)
    labels.data_setitem((np.array([4]), np.array([20]), np.array([30])), 3)
    labels.features = {"index": [0, 1, 3], "name": ["background", "liver", "lesion"]}
    out = tmp_path / "out" / "painted.dcm"
    labels.save(str(out), plugin="napari-medseg.write_seg")
    seg = read_segmentation(out)
    assert seg.kind == "BINARY" and [s.name for s in seg.segments] == ["liver", "label 2", "lesion"]
    np.testing.assert_array_equal(
        segmentation_to_labels(seg, read_volume(tmp_path / "ct")).labels, np.asarray(labels.data)
    )
