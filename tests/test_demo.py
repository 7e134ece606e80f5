"""`medseg demo`: the headless end-to-end run that `make run` falls back to without a display."""

import csv

import numpy as np
import pytest

from napari_medseg.cli import main
from napari_medseg.demo import box_around


def test_box_around_is_inclusive_and_clipped():
    mask = np.zeros((5, 10, 10), bool)
    mask[0, 2:4, 7:10] = True
    assert box_around(mask, (1, 2, 2)) == (0, 0, 5, 1, 5, 9)


@pytest.mark.slow
def test_demo_writes_volumes_metrics_and_overview(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"brain_tissue_unet.nii.gz", "ct_organ_litemedsam.nii.gz", "metrics.csv", "overview.png"} <= names
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    dice = {(r["case"], r["label"]): float(r["dice"]) for r in rows}
    assert dice[("brain_mri", "1")] > 0.8 and dice[("brain_mri", "2")] > 0.8
    assert dice[("ct_phantom", "1")] > 0.9
    assert (tmp_path / "overview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "demo finished" in capsys.readouterr().out
