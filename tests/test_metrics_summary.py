"""Folder summaries count undefined cases; area-weighted statistics follow DeepMind's definitions."""

import numpy as np
import pytest

from napari_medseg.metrics import evaluate_labels
from napari_medseg.metrics.distances import SurfaceDistances, weighted_percentile
from napari_medseg.metrics.evaluate import both_empty_record
from napari_medseg.metrics.report import format_summary, records_to_rows, rows_to_csv_text
from napari_medseg.metrics.summary import summarize


def case(shift: int, drop_label_2: bool = False):
    ref = np.zeros((6, 10, 10), np.uint8)
    ref[1:5, 2:6, 2:6] = 1
    ref[1:5, 6:9, 6:9] = 2
    pred = np.roll(ref, shift, axis=2)
    if drop_label_2:
        pred[pred == 2] = 0
    return evaluate_labels(pred, ref, (2.0, 1.0, 1.0))


def test_summary_counts_undefined_and_averages_only_defined_values():
    cases = {"a": case(0), "b": case(1), "c": case(1, drop_label_2=True), "d": [both_empty_record(2)]}
    summaries = {s.label: s for s in summarize(cases)}
    two = summaries[2]
    assert two.n_cases == 4
    assert two.status_counts == {"ok": 2, "both_empty": 1, "pred_empty": 1, "ref_empty": 0}
    hd95 = two.stats["hd95_mm"]
    defined = [r.hd95_mm for name in ("a", "b", "d") for r in cases[name] if r.label == 2]
    assert hd95.n == 3 and hd95.n_undefined == 1
    assert hd95.mean == pytest.approx(np.mean(defined)) and hd95.median == pytest.approx(np.median(defined))
    assert hd95.iqr == pytest.approx(np.percentile(defined, 75) - np.percentile(defined, 25))
    dice = two.stats["dice"]
    assert dice.n == 4 and dice.n_undefined == 0  # dice is defined (0) for the missed case: it counts
    assert dice.mean == pytest.approx(np.mean([r.dice for rs in cases.values() for r in rs if r.label == 2]))
    text = format_summary(list(summaries.values()))
    assert "prediction empty 1" in text


def test_csv_text_leaves_undefined_cells_empty_and_keeps_full_precision():
    records = case(1, drop_label_2=True)
    text = rows_to_csv_text(records_to_rows(records, case="c"))
    header, one, two = text.strip().splitlines()
    assert header.startswith("case,label,dice,jaccard,hd_mm,hd95_mm,assd_mm,nsd,volume_pred_ml")
    assert repr(records[0].assd_mm) in one
    assert ",pred_empty," in two and ",,," in two


def test_weighted_percentile_with_equal_weights_is_the_inverted_cdf_percentile():
    d = np.random.default_rng(0).random(101) * 10
    for q in (50.0, 95.0, 99.0):
        assert weighted_percentile(d, np.ones_like(d), q) == np.percentile(d, q, method="inverted_cdf")


def test_area_weights_act_as_repeated_elements():
    rng = np.random.default_rng(1)
    dp, dr = rng.random(30), rng.random(20)
    wp, wr = rng.integers(1, 4, 30).astype(float), rng.integers(1, 4, 20).astype(float)
    weighted = SurfaceDistances(dp, dr, wp, wr)
    repeated = np.repeat(dp, wp.astype(int)), np.repeat(dr, wr.astype(int))
    assert weighted.average_symmetric() == pytest.approx(np.concatenate(repeated).mean())
    assert weighted.surface_dice(0.5) == pytest.approx(np.mean(np.concatenate(repeated) <= 0.5))
    expected = max(np.percentile(r, 95, method="inverted_cdf") for r in repeated)
    assert weighted.hausdorff_percentile(95) == pytest.approx(expected)


def test_non_contiguous_views_give_the_same_records():
    ref = np.zeros((10, 12, 8), np.uint8)
    ref[2:8, 3:9, 2:6] = 1
    pred = np.roll(ref, 1, axis=1)
    a = evaluate_labels(pred, ref, (1.0, 2.0, 3.0))
    b = evaluate_labels(pred.transpose(2, 1, 0).copy().transpose(2, 1, 0), ref[:, :, :], (1.0, 2.0, 3.0))
    c = evaluate_labels(np.asfortranarray(pred), np.asfortranarray(ref), (1.0, 2.0, 3.0))
    assert a == b == c


def test_grid_distances_skip_shared_points_and_equal_brute_force():
    from napari_medseg.metrics.distances import grid_distances

    rng = np.random.default_rng(3)
    targets = rng.integers(-1, 20, (200, 3))
    points = np.concatenate([targets[:50], rng.integers(-1, 20, (80, 3))])  # 50 shared points
    spacing = (2.5, 0.8, 1.1)
    brute = np.sqrt((((points[:, None, :] - targets[None, :, :]) * spacing) ** 2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(grid_distances(points, targets, spacing), brute, rtol=1e-12)
    assert np.all(grid_distances(points, targets, spacing)[:50] == 0)
