"""Hand-computed tiny cases: every empty-mask rule, the conventions, and input checks."""

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.errors import GridMismatchError, MedsegError
from napari_medseg.metrics import evaluate_labels, evaluate_volumes
from napari_medseg.metrics.boundary import boundary_voxels, label_voxel_indices
from napari_medseg.volume import Volume


def by_label(records):
    return {r.label: r for r in records}


def test_both_empty_label_scores_perfect_with_zero_distances():
    pred = np.zeros((3, 4, 5), np.uint8)
    ref = np.zeros((3, 4, 5), np.uint8)
    (rec,) = evaluate_labels(pred, ref, (1, 1, 1), labels=[5])
    assert rec.status == "both_empty"
    assert (rec.dice, rec.jaccard, rec.nsd) == (1.0, 1.0, 1.0)
    assert (rec.hd_mm, rec.hd95_mm, rec.assd_mm) == (0.0, 0.0, 0.0)
    assert (rec.volume_pred_ml, rec.volume_ref_ml, rec.volume_diff_ml) == (0.0, 0.0, 0.0)


def test_missed_structure_is_pred_empty_with_null_distances():
    pred = np.zeros((3, 4, 5), np.uint8)
    ref = np.zeros((3, 4, 5), np.uint8)
    ref[1, 1, 1:3] = 2
    (rec,) = evaluate_labels(pred, ref, (2.0, 1.0, 0.5))
    assert rec.label == 2 and rec.status == "pred_empty"
    assert (rec.dice, rec.jaccard, rec.nsd) == (0.0, 0.0, 0.0)
    assert (rec.hd_mm, rec.hd95_mm, rec.assd_mm) == (None, None, None)
    assert rec.volume_ref_ml == pytest.approx(2 * 1.0 / 1000) and rec.volume_pred_ml == 0.0
    assert rec.volume_diff_ml == pytest.approx(-2 * 1.0 / 1000)


def test_false_positive_structure_is_ref_empty_with_null_distances():
    pred = np.zeros((3, 4, 5), np.uint8)
    ref = np.zeros((3, 4, 5), np.uint8)
    pred[0, 0, 0] = 1
    ref[2, 3, 4] = 2
    records = by_label(evaluate_labels(pred, ref, (1, 1, 1)))
    assert records[1].status == "ref_empty" and records[2].status == "pred_empty"
    for rec in records.values():
        assert rec.dice == 0.0 and rec.nsd == 0.0 and rec.hd_mm is None and rec.hd95_mm is None and rec.assd_mm is None
    assert "NaN" not in str(records[1].as_dict())


def test_line_segments_give_hand_computed_values():
    # prediction: 4 voxels along axis 2, reference: its first 2; all voxels are boundary.
    pred = np.zeros((3, 3, 6), np.uint8)
    ref = np.zeros((3, 3, 6), np.uint8)
    pred[1, 1, 0:4] = 1
    ref[1, 1, 0:2] = 1
    dx = 0.5
    (rec,) = evaluate_labels(pred, ref, (3.0, 2.0, dx), tolerance_mm=1.0 * dx)
    # pred -> ref distances: 0, 0, 1, 2 (voxels); ref -> pred: 0, 0
    assert rec.status == "ok"
    assert rec.dice == pytest.approx(2 * 2 / 6) and rec.jaccard == pytest.approx(2 / 4)
    assert rec.hd_mm == pytest.approx(2 * dx)
    assert rec.hd95_mm == pytest.approx((1 + 0.85 * (2 - 1)) * dx)  # linear interpolation at 0.95 * 3 = 2.85
    assert rec.assd_mm == pytest.approx((0 + 0 + 1 + 2 + 0 + 0) / 6 * dx)  # pooled, not (0.75 + 0) / 2
    assert rec.nsd == pytest.approx(5 / 6)
    assert rec.volume_pred_ml == pytest.approx(4 * 3.0 * 2.0 * dx / 1000)


def test_distances_follow_spacing_of_each_axis():
    pred = np.zeros((8, 8, 8), np.uint8)
    ref = np.zeros((8, 8, 8), np.uint8)
    pred[2, 2, 2] = 1
    ref[5, 2, 2] = 1
    for axis_spacing in ((2.0, 1.0, 1.0), (0.7, 5.0, 5.0)):
        (rec,) = evaluate_labels(pred, ref, axis_spacing)
        assert rec.hd_mm == pytest.approx(3 * axis_spacing[0])


def test_boundary_is_face_connected_and_image_border_counts_as_outside():
    rng = np.random.default_rng(0)
    labels = (ndimage.gaussian_filter(rng.standard_normal((12, 14, 10)), 1.5) > 0).astype(np.uint8)
    labels[:, :, 0] = 1  # a face on the image border
    expected = labels.astype(bool) & ~ndimage.binary_erosion(labels.astype(bool))  # cross structure, border 0
    found = boundary_voxels(labels, label_voxel_indices(labels)[1], 1)
    mask = np.zeros(labels.shape, bool)
    mask[tuple(found.T)] = True
    assert np.array_equal(mask, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64])
def test_word_scan_finds_the_same_voxels_as_flatnonzero(dtype):
    from napari_medseg.metrics.boundary import flat_nonzero

    rng = np.random.default_rng(1)
    for shape in ((5, 7, 9), (4, 8, 8), (16, 32, 32)):  # sizes that are and are not a multiple of 8
        for density in (0.002, 0.05, 0.5):  # sparse (word scan) to dense (plain flatnonzero)
            labels = (rng.random(shape) < density).astype(dtype) * rng.integers(1, 100, shape).astype(dtype)
            labels[1:3, 2:5, 3:7] = 2  # a compact block
            labels.reshape(-1)[-1] = 3  # the very last voxel
            assert np.array_equal(flat_nonzero(labels), np.flatnonzero(labels))


def test_label_voxel_indices_groups_every_label_sorted():
    labels = np.array([[[0, 3, 1], [3, 0, 1]], [[2, 2, 3], [0, 1, 0]]], np.uint16)
    groups = label_voxel_indices(labels)
    assert sorted(groups) == [1, 2, 3]
    for label, idx in groups.items():
        assert np.array_equal(idx, np.flatnonzero(labels.ravel() == label))


def test_probability_map_is_rejected_with_a_clear_message():
    ref = np.zeros((3, 3, 3), np.uint8)
    with pytest.raises(MedsegError, match="non-integer"):
        evaluate_labels(np.full((3, 3, 3), 0.4), ref, (1, 1, 1))


def test_float_labels_with_whole_values_are_accepted():
    ref = np.zeros((3, 3, 3), np.uint8)
    ref[1, 1, 1] = 2
    (rec,) = evaluate_labels(ref.astype(np.float32), ref, (1, 1, 1))
    assert rec.label == 2 and rec.dice == 1.0


def axial_affine(slice_mm, z0):
    """Array (z, y, x) -> LPS with 1 mm rows/columns, ``slice_mm`` slices starting at ``z0`` mm."""
    return np.array([[0, 0, 1, 0], [0, 1, 0, 0], [slice_mm, 0, 0, z0], [0, 0, 0, 1]], float)


def test_different_grids_raise_with_both_grids_unless_resampled():
    ref = Volume(np.zeros((4, 6, 6), np.uint8), axial_affine(2.0, 0.0))  # slices at z = 0, 2, 4, 6
    ref.array[1:3, 2:4, 2:4] = 1
    fine = np.zeros((8, 6, 6), np.uint8)  # slices at z = -0.25, 0.75, ...: nearest to 2 and 4 are 2 and 4
    fine[2:6, 2:4, 2:4] = 1
    pred = Volume(fine, axial_affine(1.0, -0.25))
    with pytest.raises(GridMismatchError) as info:
        evaluate_volumes(pred, ref)
    message = str(info.value)
    assert "(8, 6, 6)" in message and "(4, 6, 6)" in message and "spacing" in message and "origin" in message
    result = evaluate_volumes(pred, ref, resample=True)
    assert result.resampled and "resampled" in result.note
    (rec,) = result.records
    assert rec.dice == 1.0 and rec.volume_pred_ml == pytest.approx(8 * 2.0 / 1000)


def test_boundary_error_map_marks_exactly_the_surface_nsd_counts_as_wrong():
    from napari_medseg.metrics.error_map import EXTRA, MISSED, boundary_error_map

    ref = np.zeros((6, 12, 12), np.uint8)
    ref[1:5, 2:8, 2:8] = 1
    pred = np.zeros_like(ref)
    pred[1:5, 2:8, 2:11] = 1  # reaches 3 voxels too far along axis 2
    spacing = (2.0, 1.0, 1.0)
    error = boundary_error_map(pred, ref, spacing, tolerance_mm=2.0)
    (rec,) = evaluate_labels(pred, ref, spacing, tolerance_mm=2.0)
    n_surface = len(boundary_voxels(pred, np.flatnonzero(pred), 1)) + len(boundary_voxels(ref, np.flatnonzero(ref), 1))
    n_wrong = np.count_nonzero(error == EXTRA) + np.count_nonzero(error == MISSED)
    assert np.count_nonzero(error == MISSED) == 0  # every reference surface voxel is <= 2 mm from the prediction's
    assert error[2, 4, 10] == EXTRA and error[2, 4, 9] == 0 and error[2, 4, 8] == 0  # 3 mm off vs 2 and 1 mm
    assert rec.nsd == pytest.approx(1 - n_wrong / n_surface)


def test_sheared_grid_is_refused_because_spacing_would_misstate_distances():
    sheared = axial_affine(2.0, 0.0)
    sheared[1, 0] = 0.5  # slices step sideways as they go up (gantry tilt), axes no longer perpendicular
    labels = np.zeros((4, 6, 6), np.uint8)
    labels[1:3, 2:4, 2:4] = 1
    volume = Volume(labels, sheared)
    with pytest.raises(MedsegError, match="not perpendicular"):
        evaluate_volumes(volume, volume)


def test_label_volumes_count_every_chunk_in_millilitres():
    from napari_medseg.metrics.overlap import label_volumes_ml

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=(7, 9, 11)).astype(np.uint8)
    labels[labels == 2] = 0  # label 2 absent
    spacing = (2.0, 0.5, 1.5)  # 1.5 mm^3 per voxel
    expected = {k: np.count_nonzero(labels == k) * 1.5 / 1000 for k in (1, 3)}
    for chunk in (1, 50, 10_000):  # chunks that end mid-array and a single one
        assert label_volumes_ml(labels, spacing, chunk=chunk) == pytest.approx(expected)
    assert label_volumes_ml(labels, spacing, labels_of_interest=[3, 2, 1, 9]) == pytest.approx(
        {1: expected[1], 2: 0.0, 3: expected[3], 9: 0.0}
    )
    assert list(label_volumes_ml(labels, spacing, labels_of_interest=[3, 1])) == [1, 3]
