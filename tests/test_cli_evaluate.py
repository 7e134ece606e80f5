"""``medseg evaluate``: files and folders, JSON and CSV, errors as one line."""

import csv
import json

import numpy as np
import pytest

from napari_medseg.cli import main
from napari_medseg.io import write_labels
from napari_medseg.metrics import evaluate_labels
from napari_medseg.volume import Volume

AFFINE = np.array([[0, 0, 0.9, -40.0], [0, 1.1, 0, -30.0], [2.5, 0, 0, 12.0], [0, 0, 0, 1]])  # (z, y, x) -> LPS
SPACING = (2.5, 1.1, 0.9)


def label_pair(seed=0, shape=(10, 16, 14)):
    rng = np.random.default_rng(seed)
    ref = np.zeros(shape, np.uint8)
    ref[2:7, 3:12, 4:10] = 1
    ref[4:9, 8:14, 2:6] = 2
    pred = np.roll(ref, (0, 1, -1), axis=(0, 1, 2))
    pred[rng.random(shape) < 0.02] = 1
    return pred, ref


def write_pair(folder, name, pred, ref, pred_suffix=".nii.gz", ref_suffix=".nii.gz"):
    (folder / "pred").mkdir(exist_ok=True)
    (folder / "ref").mkdir(exist_ok=True)
    vol = Volume(ref, AFFINE)
    p = write_labels(folder / "pred" / f"{name}{pred_suffix}", pred, vol)
    r = write_labels(folder / "ref" / f"{name}{ref_suffix}", ref, vol)
    return p, r


def test_json_records_match_python_api_after_a_file_round_trip(tmp_path, capsys):
    pred, ref = label_pair()
    p, r = write_pair(tmp_path, "case", pred, ref, ref_suffix=".nrrd")
    assert main(["evaluate", str(p), str(r), "--json", "--tolerance", "1.5"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"schema_version", "records"} and document["schema_version"] == 1
    records = document["records"]
    expected = [rec.as_dict() for rec in evaluate_labels(pred, ref, SPACING, tolerance_mm=1.5)]
    assert [r["label"] for r in records] == [1, 2]
    for got, want in zip(records, expected):
        assert set(got) >= {
            "label",
            "dice",
            "jaccard",
            "hd_mm",
            "hd95_mm",
            "assd_mm",
            "nsd",
            "volume_pred_ml",
            "volume_ref_ml",
            "volume_diff_ml",
            "status",
        }
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-9) if isinstance(value, float) else got[key] == value


def test_missing_label_gives_json_null_and_status(tmp_path, capsys):
    pred, ref = label_pair()
    pred[pred == 2] = 0
    p, r = write_pair(tmp_path, "case", pred, ref)
    assert main(["evaluate", str(p), str(r), "--json", "--labels", "2,3"]) == 0
    text = capsys.readouterr().out
    two, three = json.loads(text)["records"]
    assert two["status"] == "pred_empty" and two["hd95_mm"] is None and two["dice"] == 0.0
    assert three["status"] == "both_empty" and three["hd_mm"] == 0.0 and three["nsd"] == 1.0
    assert "NaN" not in text and "Infinity" not in text


def test_grid_mismatch_is_one_line_error_and_resample_reports(tmp_path, capsys):
    pred, ref = label_pair()
    r = write_labels(tmp_path / "ref.nii.gz", ref, Volume(ref, AFFINE))
    shifted = AFFINE.copy()
    shifted[:3, 3] += (0.3, 0, 0)
    p = write_labels(tmp_path / "pred.nii.gz", pred, Volume(pred, shifted))
    assert main(["evaluate", str(p), str(r)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "different voxel grids" in err and "--resample" in err
    assert main(["evaluate", str(p), str(r), "--resample", "--json"]) == 0
    captured = capsys.readouterr()
    assert "resampled (nearest neighbour)" in captured.err
    assert len(json.loads(captured.out)["records"]) == 2


def test_folder_mode_pairs_by_name_counts_empty_cases_and_writes_csv(tmp_path, capsys):
    pred, ref = label_pair(0)
    write_pair(tmp_path, "a", pred, ref, pred_suffix=".nii", ref_suffix=".nii.gz")
    pred_b, ref_b = label_pair(1)
    pred_b[pred_b == 2] = 0  # label 2 missed in case b
    write_pair(tmp_path, "b", pred_b, ref_b)
    ref_c = ref.copy()
    ref_c[ref_c == 2] = 0
    pred_c = ref_c.copy()  # case c: label 2 in neither
    write_pair(tmp_path, "c", pred_c, ref_c)
    write_labels(tmp_path / "pred" / "lonely.nii.gz", pred, Volume(ref, AFFINE))
    out_csv = tmp_path / "results.csv"
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "ref"), "--csv", str(out_csv)]) == 0
    captured = capsys.readouterr()
    assert "unpaired prediction" in captured.err and "lonely" in captured.err
    assert "label 2: 3 cases (ok 1, both empty 1, prediction empty 1, reference empty 0)" in captured.out
    rows = list(csv.DictReader(out_csv.open()))
    assert [(r["case"], r["label"]) for r in rows] == [
        ("a", "1"),
        ("a", "2"),
        ("b", "1"),
        ("b", "2"),
        ("c", "1"),
        ("c", "2"),
    ]
    missed = rows[3]
    assert missed["status"] == "pred_empty" and missed["hd_mm"] == "" and float(missed["dice"]) == 0.0
    expected = evaluate_labels(pred, ref, SPACING)[0]
    assert float(rows[0]["hd95_mm"]) == pytest.approx(expected.hd95_mm, rel=1e-6)  # NIfTI stores float32 spacing
    assert "hd_mm" in rows[0] and "volume_pred_ml" in rows[0]


def test_folders_without_any_pair_fail_with_a_message(tmp_path, capsys):
    pred, ref = label_pair()
    (tmp_path / "pred").mkdir()
    (tmp_path / "ref").mkdir()
    write_labels(tmp_path / "pred" / "x.nii.gz", pred, Volume(pred, AFFINE))
    write_labels(tmp_path / "ref" / "y.nii.gz", ref, Volume(ref, AFFINE))
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "ref")]) == 1
    assert "no prediction" in capsys.readouterr().err


def test_intensity_image_as_labels_is_rejected(tmp_path, capsys):
    _, ref = label_pair()
    vol = Volume(ref, AFFINE)
    from napari_medseg.io import write_volume

    image = write_volume(tmp_path / "image.nii.gz", np.random.default_rng(0).random(ref.shape).astype(np.float32), vol)
    r = write_labels(tmp_path / "ref.nii.gz", ref, vol)
    assert main(["evaluate", str(image), str(r)]) == 1
    assert "non-integer" in capsys.readouterr().err


def test_help_states_the_conventions(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for phrase in (
        "face-connected",
        "95th percentiles (linear interpolation)",
        "pooled",
        "both_empty",
        "area-weighted",
    ):
        assert phrase in text


def test_folder_mode_json_keeps_stdout_parseable_with_case_names(tmp_path, capsys):
    pred, ref = label_pair(0)
    write_pair(tmp_path, "a", pred, ref)
    write_pair(tmp_path, "b", *label_pair(2))
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "ref"), "--json", "--labels", "1"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)["records"]
    assert [(r["case"], r["label"]) for r in records] == [("a", 1), ("b", 1)]
    assert "label 1: 2 cases" in captured.err


@pytest.mark.parametrize("labels", ["x", "0,1", ""])
def test_bad_label_list_is_a_one_line_error(tmp_path, capsys, labels):
    pred, ref = label_pair()
    p, r = write_pair(tmp_path, "case", pred, ref)
    assert main(["evaluate", str(p), str(r), "--labels", labels]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--labels" in err
